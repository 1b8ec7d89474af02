import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AbortedError,
  type DeployOptionsV1,
  deploymentTags,
  type InstanceRefV1,
  type InstanceStatusV1,
  type LogEntryV1,
  type LogsOptionsV1,
  type ProviderCapabilitiesV1,
  type RemoteProviderV1,
  type ResourceRequestV1,
  UnsupportedCapabilityError,
  ValidationError,
  type WorkloadV1,
} from '@bp/provider';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { settlesWithin, waitFor } from './wait-for.js';

/** Ground truth that bypasses the provider: asks the target itself (process table, engine, cluster, emulator). */
export interface ConformanceProbes {
  /**
   * Ground truth, bypassing the provider: is anything of this deployment running on the target?
   * The invalid-input tests also pass ids with uppercase letters, spaces and `;`: treat the id as data.
   */
  isRunning(deploymentId: string): Promise<boolean>;
  /** Ground truth: how many service instances exist for this deployment (for the idempotency test). */
  countInstances(deploymentId: string): Promise<number>;
}

/** The workloads the suite deploys; each must be runnable by the provider under test. */
export interface ConformanceWorkloads {
  /** A service that becomes healthy on its health path and prints a known line (`readyLine`) to stdout at start. */
  healthy: WorkloadV1;
  /** A line (or part of one) the healthy service prints to stdout at start. */
  readyLine: string;
  /** A service that runs but whose health path never answers 2xx. */
  neverHealthy: WorkloadV1;
  /** A service that exits at once with a non-zero code. */
  exitsAtOnce: WorkloadV1;
}

/** Options of {@link describeProviderConformance}. */
export interface ProviderConformanceOptions {
  /** Names the suite in the report, e.g. `local`, `docker`. */
  name: string;
  /** Called once in `beforeAll`, after the caller's own hooks (emulators) have run. */
  createProvider: () => RemoteProviderV1 | Promise<RemoteProviderV1>;
  workloads: ConformanceWorkloads;
  probes: ConformanceProbes;
  /** Defaults to a small request: cpu 0.5, memoryGb 0.25, storageGb 1, no GPU, no spot. */
  resources?: ResourceRequestV1;
  /** Region passed on every call, for providers with regions. */
  region?: string;
  /** healthyMs: deploy to healthy (30 s); ttlSeconds: expiry of the TTL test (4 s); goneMs: terminate to gone (30 s). */
  timeouts?: { healthyMs?: number; ttlSeconds?: number; goneMs?: number };
  /** The `bp:owner` tag of everything the suite creates. Defaults to `bp-conformance`. */
  owner?: string;
}

const SMALL: ResourceRequestV1 = { cpu: 0.5, memoryGb: 0.25, storageGb: 1, gpuCount: 0, spot: false };
const CAPABILITY_FLAGS = [
  'nativeCommand',
  'containerImage',
  'gpu',
  'spot',
  'logsFollow',
  'ttlOnTarget',
  'tunnel',
  'regions',
] as const satisfies readonly (keyof ProviderCapabilitiesV1)[];
const DEPLOYMENT_ID = /^[a-z0-9-]{1,63}$/;
const LOG_STREAMS = ['stdout', 'stderr', 'system'];

const randomSuffix = () => randomBytes(6).toString('hex');

/** A workload stripped of its image and command. */
function withoutKind(workload: WorkloadV1): WorkloadV1 {
  return { port: workload.port, healthPath: workload.healthPath, env: workload.env };
}

function describeError(error: unknown): string {
  if (error === undefined) return 'no error (the call resolved)';
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What a promise rejected with, or undefined when it resolved. */
const rejectionOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

type Overrides = { deploymentId?: string; expiresAt?: Date };
type InvalidInput = Overrides & { workload?: WorkloadV1; lacking?: 'containerImage' | 'nativeCommand' };

/** Each is refused with ValidationError or UnsupportedCapabilityError before anything is created. */
const INVALID_INPUTS: Record<string, (healthy: WorkloadV1) => InvalidInput> = {
  'port 0': (healthy) => ({ workload: { ...healthy, port: 0 } }),
  'port 70000': (healthy) => ({ workload: { ...healthy, port: 70_000 } }),
  'a health path without a leading /': (healthy) => ({
    workload: { ...healthy, healthPath: healthy.healthPath.replace(/^\/+/, '') || 'health' },
  }),
  'an expiry in the past': () => ({ expiresAt: new Date(Date.now() - 60_000) }),
  'a deployment id with uppercase': () => ({ deploymentId: `Conf-${randomSuffix()}` }),
  'a deployment id with spaces': () => ({ deploymentId: `conf ${randomSuffix()}` }),
  'a deployment id with ;': () => ({ deploymentId: `conf;${randomSuffix()}` }),
  'a workload with neither image nor command': (healthy) => ({ workload: withoutKind(healthy) }),
  'an image (capabilities.containerImage is false)': (healthy) => ({
    workload: { ...withoutKind(healthy), image: 'docker.io/library/busybox:1.36' },
    lacking: 'containerImage',
  }),
  'a command (capabilities.nativeCommand is false)': (healthy) => ({
    workload: { ...withoutKind(healthy), command: ['/bin/sh', '-c', 'sleep 60'] },
    lacking: 'nativeCommand',
  }),
};

/**
 * Declares the shared provider conformance suite: every test deploys under its own fresh id,
 * terminates what it created in `afterEach`, and checks with the ground-truth probes that
 * nothing is left. Capabilities the provider lacks are reported as skipped, never left out.
 */
export function describeProviderConformance(options: ProviderConformanceOptions): void {
  const { workloads, probes, region } = options;
  const healthyMs = options.timeouts?.healthyMs ?? 30_000;
  const ttlSeconds = options.timeouts?.ttlSeconds ?? 4;
  const goneMs = options.timeouts?.goneMs ?? 30_000;
  const owner = options.owner ?? 'bp-conformance';
  const resources = options.resources ?? SMALL;
  // The kit sets its own limits so it works under any vitest default (5 s).
  const slow = { timeout: healthyMs + ttlSeconds * 1000 + 2 * goneMs + 15_000 };
  const created = new Set<string>();
  let provider: RemoteProviderV1;

  const refOf = (deploymentId: string): InstanceRefV1 => ({ deploymentId, region });

  function deployOptionsFor(workload: WorkloadV1, overrides: Overrides = {}): DeployOptionsV1 {
    const deploymentId = overrides.deploymentId ?? `conf-${randomSuffix()}`;
    // Far enough away that only the TTL test ever meets its expiry.
    const expiresAt = overrides.expiresAt ?? new Date(Date.now() + 30 * 60_000);
    const tags = deploymentTags({ deploymentId, expiresAt, owner });
    const name = `conformance-${options.name}`;
    return { deploymentId, name, workload, resources, expiresAt, tags, region };
  }

  async function deploy(workload: WorkloadV1, overrides: { expiresAt?: Date } = {}) {
    const deployOptions = deployOptionsFor(workload, overrides);
    const { deploymentId } = deployOptions;
    created.add(deploymentId);
    const instance = await provider.deployInstance(deployOptions);
    const ref: InstanceRefV1 = { deploymentId, resourceIds: instance.resourceIds, region };
    return { deploymentId, deployOptions, instance, ref };
  }

  async function waitHealthy(ref: InstanceRefV1, path: string): Promise<void> {
    let last = 'no health check answered yet';
    try {
      await waitFor(
        async () => {
          const health = await provider.checkHealth({ ...ref, path, timeoutMs: 2000 });
          last = health.reason ?? `status ${health.statusCode}`;
          return health.healthy;
        },
        { timeoutMs: healthyMs, intervalMs: 250, what: `${ref.deploymentId} to be healthy on ${path}` },
      );
    } catch (error) {
      throw new Error(`${describeError(error)}; last health check: ${last}`, { cause: error });
    }
  }

  const waitRunning = (id: string, timeoutMs = healthyMs) =>
    waitFor(() => probes.isRunning(id), { timeoutMs, what: `ground truth: ${id} running` });

  const waitState = (ref: InstanceRefV1, states: InstanceStatusV1['state'][], timeoutMs: number) =>
    waitFor(
      async () => {
        const status = await provider.getInstanceStatus(ref);
        return states.includes(status.state) && status;
      },
      { timeoutMs, what: `${ref.deploymentId} to be ${states.join(' or ')}` },
    );

  const waitStopped = (id: string, timeoutMs = goneMs) =>
    waitFor(async () => !(await probes.isRunning(id)), { timeoutMs, what: `ground truth: ${id} stopped` });

  const waitNothingLeft = (id: string) =>
    waitFor(async () => !(await probes.isRunning(id)) && (await probes.countInstances(id)) === 0, {
      timeoutMs: goneMs,
      what: `ground truth: nothing of ${id} left`,
    });

  /** One short health check: the never-healthy and exits-at-once tests poll it themselves. */
  const checkOnce = (ref: InstanceRefV1, path: string) =>
    provider.checkHealth({ ...ref, path, timeoutMs: 1000 });

  async function expectNothingCreated(deploymentId: string): Promise<void> {
    expect(await probes.countInstances(deploymentId), `ground truth: instances of ${deploymentId}`).toBe(0);
    expect(await probes.isRunning(deploymentId), `ground truth: ${deploymentId} running`).toBe(false);
    if (DEPLOYMENT_ID.test(deploymentId)) {
      expect((await provider.getInstanceStatus(refOf(deploymentId))).state).toBe('gone');
    }
  }

  async function collectLogs(logsOptions: LogsOptionsV1): Promise<LogEntryV1[]> {
    const read = async () => {
      const entries: LogEntryV1[] = [];
      for await (const entry of provider.logs(logsOptions)) entries.push(entry);
      return entries;
    };
    return settlesWithin(read(), 10_000, `logs of ${logsOptions.deploymentId} without follow to end`);
  }

  /** Terminates by id alone (as the manager must after losing resource ids), then checks nothing is left. */
  async function removeCreated(): Promise<void> {
    const ids = [...created];
    created.clear();
    if (!provider) return;
    const outcomes = await Promise.allSettled(
      ids.map(async (id) => {
        await provider.terminateInstance(refOf(id));
        await waitState(refOf(id), ['gone'], goneMs);
        await waitNothingLeft(id);
      }),
    );
    // Every id gets its cleanup before the first failure is reported.
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  }

  describe(`provider conformance: ${options.name}`, () => {
    beforeAll(async () => {
      provider = await options.createProvider();
    }, healthyMs);

    afterEach(removeCreated, 2 * goneMs + 15_000);

    it('exposes the v1 specification surface', () => {
      expect(provider.specificationVersion).toBe('v1');
      expect(provider.provider).toMatch(/\S/);
      for (const flag of CAPABILITY_FLAGS) {
        expect(typeof provider.capabilities[flag], `capabilities.${flag}`).toBe('boolean');
      }
      const { nativeCommand, containerImage, tunnel } = provider.capabilities;
      expect(nativeCommand || containerImage, 'runs images or commands').toBe(true);
      if (tunnel) expect(typeof provider.establishTunnel).toBe('function');
    });

    it('deploys a service that becomes healthy and really answers', slow, async () => {
      const { deploymentId, instance, ref } = await deploy(workloads.healthy);
      expect(instance.deploymentId).toBe(deploymentId);
      expect(instance.resourceIds.length).toBeGreaterThan(0);
      expect(instance.endpoint).toMatch(/^https?:\/\//);
      expect(instance.reused).toBe(false);
      expect(Array.isArray(instance.warnings)).toBe(true);

      await waitHealthy(ref, workloads.healthy.healthPath);
      // A real request to the endpoint exactly as given, not through the provider.
      const url = new URL(workloads.healthy.healthPath, instance.endpoint);
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await response.body?.cancel();
      expect(response.ok, `GET ${url} answered ${response.status}`).toBe(true);
      expect(await probes.isRunning(deploymentId), 'ground truth: running').toBe(true);
      const status = await waitState(ref, ['running'], healthyMs);
      expect(status.state).toBe('running');
    });

    it('returns the service logs oldest first and honours tail', slow, async () => {
      const { ref } = await deploy(workloads.healthy);
      await waitHealthy(ref, workloads.healthy.healthPath);
      const entries = await waitFor(
        async () => {
          const all = await collectLogs(ref);
          return all.some((entry) => entry.message.includes(workloads.readyLine)) && all;
        },
        {
          timeoutMs: 10_000,
          intervalMs: 250,
          what: `"${workloads.readyLine}" in ${ref.deploymentId}'s logs`,
        },
      );
      for (const entry of entries) {
        expect(entry.timestamp).toBeInstanceOf(Date);
        expect(Number.isNaN(entry.timestamp.getTime())).toBe(false);
        expect(LOG_STREAMS).toContain(entry.stream);
        expect(typeof entry.message).toBe('string');
      }
      const times = entries.map((entry) => entry.timestamp.getTime());
      expect(times, 'oldest first').toEqual([...times].sort((a, b) => a - b));
      expect((await collectLogs({ ...ref, tail: 1 })).length).toBeLessThanOrEqual(1);
    });

    it('follows the logs until the signal aborts (capabilities.logsFollow)', slow, async (context) => {
      context.skip(!provider.capabilities.logsFollow, 'capabilities.logsFollow is false');
      const { ref } = await deploy(workloads.healthy);
      await waitHealthy(ref, workloads.healthy.healthPath);
      const controller = new AbortController();
      let sawReadyLine = false;
      let abortedAt = Number.POSITIVE_INFINITY;
      const abort = () => {
        abortedAt = Math.min(abortedAt, Date.now());
        controller.abort();
      };
      const following = (async () => {
        try {
          for await (const entry of provider.logs({ ...ref, follow: true, signal: controller.signal })) {
            // Reads on a moment past the ready line: a follow must not end on its own.
            if (!sawReadyLine && entry.message.includes(workloads.readyLine)) {
              sawReadyLine = true;
              setTimeout(abort, 500);
            }
          }
        } catch (error) {
          // Ending quietly or with AbortedError are both fine once the signal fired.
          if (!(controller.signal.aborted && AbortedError.isInstance(error))) throw error;
        }
        return controller.signal.aborted;
      })();
      const giveUp = setTimeout(abort, healthyMs);
      let endedByAbort = false;
      try {
        endedByAbort = await settlesWithin(
          following,
          healthyMs + 5000,
          'logs({ follow: true }) to stop on abort',
        );
      } finally {
        clearTimeout(giveUp);
      }
      expect(sawReadyLine, `"${workloads.readyLine}" while following`).toBe(true);
      expect(endedByAbort, 'the stream ran until its signal aborted').toBe(true);
      expect(Date.now() - abortedAt, 'ms from abort to the end of the stream').toBeLessThan(5000);
    });

    it('terminates until gone, terminates again, and reports unknown ids as gone', slow, async () => {
      const { deploymentId, ref } = await deploy(workloads.healthy);
      await waitRunning(deploymentId);
      await provider.terminateInstance(ref);
      await waitState(ref, ['gone'], goneMs);
      // The manager forgets a deployment on 'gone', so the target must agree by then.
      expect(await probes.isRunning(deploymentId), 'ground truth: running once gone').toBe(false);
      await expect(provider.terminateInstance(ref)).resolves.toBeUndefined();
      await expect(provider.terminateInstance(refOf(deploymentId))).resolves.toBeUndefined();
      expect((await provider.getInstanceStatus(refOf(deploymentId))).state).toBe('gone');

      const neverDeployed = `conf-${randomSuffix()}`;
      expect((await provider.getInstanceStatus(refOf(neverDeployed))).state).toBe('gone');
      await expect(provider.terminateInstance(refOf(neverDeployed))).resolves.toBeUndefined();
      await expectNothingCreated(neverDeployed);
    });

    it('creates one instance for concurrent retries with the same id', slow, async () => {
      const deployOptions = deployOptionsFor(workloads.healthy);
      const { deploymentId } = deployOptions;
      created.add(deploymentId);
      const results = await Promise.all([1, 2, 3].map(() => provider.deployInstance(deployOptions)));
      for (const result of results) expect(result.deploymentId).toBe(deploymentId);
      expect(results[0]?.endpoint).toBeDefined();
      expect(new Set(results.map((result) => result.endpoint)).size, 'distinct endpoints').toBe(1);
      expect(await probes.countInstances(deploymentId), 'ground truth: instances').toBe(1);

      await waitHealthy(refOf(deploymentId), workloads.healthy.healthPath);
      expect(await probes.countInstances(deploymentId), 'ground truth: instances once healthy').toBe(1);
      const later = await provider.deployInstance(deployOptions);
      expect(later.reused).toBe(true);
      expect(later.endpoint).toBe(results[0]?.endpoint);
      expect(await probes.countInstances(deploymentId), 'ground truth: instances after retry').toBe(1);
    });

    it('stops at its expiry on the target, without bp (capabilities.ttlOnTarget)', slow, async (context) => {
      context.skip(!provider.capabilities.ttlOnTarget, 'capabilities.ttlOnTarget is false');
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      const { deploymentId } = await deploy(workloads.healthy, { expiresAt });
      // From here on no provider method is called: only the target itself may stop it.
      await waitRunning(deploymentId, Math.max(expiresAt.getTime() - Date.now(), 1));
      await waitStopped(deploymentId, expiresAt.getTime() - Date.now() + goneMs);
    });

    it('reports a service whose health path never answers 2xx as unhealthy', slow, async () => {
      const { deploymentId, ref } = await deploy(workloads.neverHealthy);
      await waitRunning(deploymentId);
      for (let poll = 0; poll < 4; poll += 1) {
        if (poll > 0) await delay(750);
        const health = await checkOnce(ref, workloads.neverHealthy.healthPath);
        expect(health.healthy).toBe(false);
        expect(health.reason).toMatch(/\S/);
        expect((await provider.getInstanceStatus(ref)).state).not.toBe('gone');
      }
      expect(await probes.isRunning(deploymentId), 'ground truth: still running').toBe(true);
      await provider.terminateInstance(ref);
      await waitState(ref, ['gone'], goneMs);
      await waitNothingLeft(deploymentId);
    });

    it('reports a service that exits at once as exited', slow, async () => {
      const { deploymentId, ref } = await deploy(workloads.exitsAtOnce);
      const status = await waitState(ref, ['exited', 'gone'], healthyMs);
      expect(status.exitCode ?? status.message, 'an exit code or a message').toBeDefined();
      if (status.exitCode !== undefined) expect(status.exitCode).not.toBe(0);
      const health = await checkOnce(ref, workloads.exitsAtOnce.healthPath);
      expect(health.healthy).toBe(false);
      expect(health.reason).toMatch(/\S/);
      await waitStopped(deploymentId);
    });

    describe('rejects invalid input and creates nothing', () => {
      for (const [what, build] of Object.entries(INVALID_INPUTS)) {
        it(`rejects ${what}`, slow, async (context) => {
          const { workload = workloads.healthy, lacking, ...overrides } = build(workloads.healthy);
          if (lacking) context.skip(provider.capabilities[lacking], `capabilities.${lacking} is true`);
          const deployOptions = deployOptionsFor(workload, overrides);
          const { deploymentId } = deployOptions;
          // A valid id is cleaned up (and checked) in afterEach should the provider create it anyway.
          if (DEPLOYMENT_ID.test(deploymentId)) created.add(deploymentId);
          const error = await rejectionOf(provider.deployInstance(deployOptions));
          expect(
            ValidationError.isInstance(error) || UnsupportedCapabilityError.isInstance(error),
            `ValidationError or UnsupportedCapabilityError expected, got ${describeError(error)}`,
          ).toBe(true);
          await expectNothingCreated(deploymentId);
        });
      }
    });

    it('rejects an already-aborted signal with AbortedError and creates nothing', slow, async () => {
      const deployOptions = deployOptionsFor(workloads.healthy);
      created.add(deployOptions.deploymentId);
      const controller = new AbortController();
      controller.abort();
      const error = await rejectionOf(
        provider.deployInstance({ ...deployOptions, signal: controller.signal }),
      );
      expect(AbortedError.isInstance(error), `AbortedError expected, got ${describeError(error)}`).toBe(true);
      await expectNothingCreated(deployOptions.deploymentId);
    });

    it('reports available resources, a cost estimate and its managed resources', slow, async () => {
      const available = await provider.getAvailableResources({ region });
      expect(available.cpu).toBeGreaterThan(0);
      expect(available.memoryGb).toBeGreaterThan(0);
      expect(Array.isArray(available.gpus)).toBe(true);
      const estimate = await provider.estimateCost({ resources, region, durationHours: 2 });
      for (const usd of [estimate.hourlyUsd, estimate.totalUsd]) {
        expect(Number.isFinite(usd)).toBe(true);
        expect(usd).toBeGreaterThanOrEqual(0);
      }
      expect(estimate.source).toMatch(/\S/);

      const { deploymentId, deployOptions } = await deploy(workloads.healthy);
      await waitRunning(deploymentId);
      const mine = (await provider.listManagedResources({ owner, region })).filter(
        (resource) => resource.deploymentId === deploymentId,
      );
      expect(mine.length, `managed resources of ${deploymentId}`).toBeGreaterThan(0);
      for (const resource of mine) {
        expect(resource.resourceId).toMatch(/\S/);
        expect(resource.state).not.toBe('gone');
        if (resource.owner !== undefined) expect(resource.owner).toBe(owner);
        if (resource.expiresAt !== undefined) {
          const driftMs = Math.abs(resource.expiresAt.getTime() - deployOptions.expiresAt.getTime());
          expect(driftMs, 'expiresAt of the managed resource').toBeLessThan(1000);
        }
      }
    });
  });
}
