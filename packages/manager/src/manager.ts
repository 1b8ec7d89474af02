import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CatalogInfo, InstallCatalogResult } from '@bp/pricing';
import {
  AbortedError,
  BpError,
  BudgetExceededError,
  type CostEstimateV1,
  changedNothing,
  deploymentTags,
  HealthTimeoutError,
  type InstanceRefV1,
  type LogEntryV1,
  ProviderCallError,
  type RemoteProviderV1,
  type ResourceRequestV1,
  UnsupportedCapabilityError,
  ValidationError,
  type WorkloadV1,
} from '@bp/provider';
import type { ValidatedDocuments } from '@bp/resources';
import type { AttemptRecord, DeploymentRecord, DeploymentStatus, DeploymentStore } from '@bp/tracker';
import {
  accruedBetween,
  BUDGET_THRESHOLDS,
  type BudgetStatus,
  billedSpan,
  budgetStatus,
  isBilling,
  monthlyShareOf,
} from './budget.js';
import { type CatalogRefreshRequest, type CatalogRefreshResult, refreshCatalog } from './catalog-refresh.js';
import { type CloudConfig, loadCloudConfig } from './cloud-config.js';
import { type EstimateRequest, type EstimateResult, estimate } from './estimate.js';
import { type MonitorPassReport, type MonitorSettings, type MonitorState, renderMetrics } from './monitor.js';
import { type BpPaths, resolvePaths } from './paths.js';
import { type ReconcileFinding, reconcile } from './reconcile.js';
import { planCandidates } from './selection.js';
import { createProviderForTarget, isProviderInstalled, listTargets, type ResolvedTarget } from './targets.js';

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ACTIVE: DeploymentStatus[] = ['pending', 'provisioning', 'running', 'terminating'];

/** A step of a long operation, for the CLI's progress display. */
export interface ManagerEvent {
  deploymentId?: string;
  step: string;
  message: string;
}

/** Settings of {@link createManager}. */
export interface ManagerSettings {
  /** Providers to use by id, in addition to (and before) the ones cloud.toml targets create. */
  providers?: RemoteProviderV1[];
  /** bp's paths; default from BP_HOME / BP_STATE. */
  paths?: BpPaths;
  /** cloud.toml's content; default: read from `paths.cloudConfig`. */
  config?: CloudConfig;
  /** The deployment store; default: the SQLite tracker at `paths.database`. */
  store?: DeploymentStore;
  /** Receives progress events. */
  onEvent?: (event: ManagerEvent) => void;
  /** Who acts, for the audit log. Default `pid <pid>`. */
  actor?: string;
}

/** What to deploy and where. Durations are text (`10m`) or milliseconds. */
export interface DeployRequest {
  blueprintDir: string;
  target?: string;
  provider?: string;
  region?: string;
  cpu?: number;
  memoryGb?: number;
  storageGb?: number;
  gpuCount?: number;
  gpuModel?: string;
  spot?: boolean;
  ttl?: string | number;
  name?: string;
  waitTimeout?: string | number;
  maxHourlyUsd?: number;
  /** Pick the cheapest target that fits among all configured ones. */
  autoSelect?: boolean;
  /** Resolve, choose and price, but create nothing. */
  dryRun?: boolean;
  /**
   * Zero-downtime redeploy: once the new deployment is healthy, terminate the running
   * deployments of the same name on the same target. If the new one never becomes
   * healthy, it is undone and the old ones keep running.
   */
  replace?: boolean;
  signal?: AbortSignal;
}

/** What a dry run would do. */
export interface DeployPlan {
  name: string;
  target: string;
  provider: string;
  region?: string;
  instanceType?: string;
  hourlyUsd: number;
  expiresAt: Date;
  workload: WorkloadV1;
  resources: ResourceRequestV1;
}

/** One deployment's cost, from its real start and stop times. */
export interface DeploymentCost {
  id: string;
  name: string;
  target: string;
  provider: string;
  status: DeploymentStatus;
  hourlyUsd: number;
  /** When billing started (the first create call) and stopped (or now, while it runs). */
  billedFrom?: Date;
  billedTo?: Date;
  hours: number;
  /** Accrued over its whole life. */
  accruedUsd: number;
  /** Accrued since the report's `since`. */
  sinceUsd: number;
}

/** What `bp costs` shows. */
export interface CostReport {
  since: Date;
  deployments: DeploymentCost[];
  /** Sum of `sinceUsd`. */
  totalUsd: number;
  budget?: BudgetStatus;
}

/** The deploy flow as a library. */
export interface Manager {
  /** Resolve → choose → price → record intent → create → wait until healthy (or undo) → record. */
  deploy(request: DeployRequest & { dryRun: true }): Promise<DeployPlan>;
  deploy(request: DeployRequest): Promise<DeploymentRecord>;
  /** One deployment by id or unique prefix. */
  get(idOrPrefix: string): Promise<DeploymentRecord>;
  /** Deployments, newest first. */
  list(filter?: { status?: DeploymentStatus[]; limit?: number }): Promise<DeploymentRecord[]>;
  /** Asks the provider for live state and records what changed (e.g. an instance that died). */
  refresh(idOrPrefix: string, signal?: AbortSignal): Promise<DeploymentRecord>;
  /** The service's logs. */
  logs(
    idOrPrefix: string,
    options?: { follow?: boolean; since?: Date; tail?: number; signal?: AbortSignal },
  ): Promise<AsyncIterable<LogEntryV1>>;
  /** Destroy, confirm gone, mark terminated. Already-terminated records are returned as they are. */
  terminate(
    idOrPrefix: string,
    options?: { reason?: string; signal?: AbortSignal },
  ): Promise<DeploymentRecord>;
  /**
   * Terminates every expired deployment, finishes interrupted terminations, and checks
   * the monthly budget: warns (once a month) at 50/80/100 % and, with action
   * `terminate`, terminates billing deployments newest first once it is spent.
   */
  reap(options?: { signal?: AbortSignal }): Promise<DeploymentRecord[]>;
  /** Accrued cost per deployment that billed since `since` (default 30 days), and the budget's state. */
  costs(options?: { since?: Date }): Promise<CostReport>;
  /** Prices a blueprint or a resource request from the offline catalog (the user's newer one if installed). */
  estimate(request: EstimateRequest): Promise<EstimateResult>;
  /** The price catalog in use: sources, dates, row counts. */
  catalogInfo(): Promise<CatalogInfo>;
  /** Validates a catalog file and installs it for this user (`$BP_HOME`). */
  installCatalog(file: string, options?: { force?: boolean }): Promise<InstallCatalogResult>;
  /**
   * Finds resources carrying bp's tags (this installation's, unless `anyOwner`) with no live record,
   * and live records whose resources are gone; with `apply`, destroys or marks them.
   */
  reconcile(options: {
    provider?: string;
    region?: string;
    apply: boolean;
    anyOwner?: boolean;
    signal?: AbortSignal;
  }): Promise<{ findings: ReconcileFinding[]; errors: string[] }>;
  /**
   * Restarts a running deployment in place: the same id, spec and expiry, its secrets read again
   * from the blueprint's sources. Marks it failed if it does not become healthy.
   */
  recover(
    idOrPrefix: string,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<DeploymentRecord>;
  /**
   * One pass of `bp monitor`: the reaper (with the budget) under a lease only one monitor holds,
   * then a health check of every running deployment under a lease per deployment, recovering
   * those that failed too often and marking failed those that cannot be recovered.
   */
  monitorPass(state: MonitorState, settings?: MonitorSettings): Promise<MonitorPassReport>;
  /** Gives up the leases a monitor holds (when it stops), so others take over at once. */
  releaseLeases(state: MonitorState): Promise<void>;
  /** Prometheus metrics of deployments, costs, the budget and (given) a monitor's state. */
  metrics(state?: MonitorState): Promise<string>;
  /** Prices one cloud from its own pricing API and installs the merged catalog for this user. */
  refreshCatalog(request: CatalogRefreshRequest): Promise<CatalogRefreshResult>;
  /** The configured targets with their types. */
  targets(): Promise<ResolvedTarget[]>;
  /** The provider behind a target (created on first use). */
  providerFor(targetName: string): Promise<RemoteProviderV1>;
  /** The underlying store. */
  readonly store: Promise<DeploymentStore>;
  close(): Promise<void>;
}

/**
 * Cost accrued so far: the hourly price times the time from the first create call
 * (billing starts there, healthy or not) to the stop, or to now while it runs.
 */
export function accruedUsd(record: DeploymentRecord, now = new Date()): number {
  const start = record.provisionedAt ?? record.startedAt;
  if (!start) return 0;
  const end = record.stoppedAt ?? now;
  const hours = Math.max(0, end.getTime() - start.getTime()) / 3_600_000;
  return record.hourlyUsd * hours;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolvePromise();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function toMilliseconds(
  value: string | number | undefined,
  fallback: string,
  flag: string,
  parse: (text: string, flag: string) => number,
): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0)
      throw new ValidationError({ path: `--${flag}`, reason: 'must be positive' });
    return value;
  }
  return parse(value ?? fallback, `--${flag}`);
}

function attemptOutcome(error: unknown): AttemptRecord['outcome'] {
  if (!BpError.isInstance(error)) return 'error';
  switch (error.code) {
    case 'capacity':
      return 'capacity';
    case 'quota':
      return 'quota';
    case 'credentials':
      return 'credentials';
    case 'budget':
      return 'budget';
    case 'unsupported-capability':
      return 'unsupported';
    default:
      return 'error';
  }
}

/** Errors that are the target's problem, not the blueprint's: the next candidate may succeed. */
const FAILOVER_CODES = new Set(['capacity', 'quota', 'credentials']);

/** A target that can take the deploy, with its price. */
interface Candidate {
  target: string;
  provider: RemoteProviderV1;
  workload: WorkloadV1;
  estimate: CostEstimateV1;
}

/** The provider a refusal came from, for the attempt record. */
function providerTypeOf(error: unknown, fallback: string): string {
  const provider = (error as { provider?: unknown }).provider;
  return typeof provider === 'string' && provider ? provider : fallback;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Creates a manager. Nothing is opened until the first call. */
export function createManager(settings: ManagerSettings = {}): Manager {
  const paths = settings.paths ?? resolvePaths();
  const actor = settings.actor ?? `pid ${process.pid}`;
  const emit = (event: ManagerEvent) => settings.onEvent?.(event);
  const providersByTarget = new Map<string, Promise<RemoteProviderV1>>();
  let configPromise: Promise<CloudConfig> | undefined;
  let storePromise: Promise<DeploymentStore> | undefined;

  let documentsPromise: Promise<ValidatedDocuments> | undefined;
  /** Documents (blueprints, cloud.toml) validated before, by their exact text: see openValidatedDocuments. */
  const documents = () => {
    documentsPromise ??= import('@bp/resources').then((resources) =>
      resources.openValidatedDocuments(
        join(paths.stateDir, 'cache', 'validated-documents.json'),
        resources.moduleIdentity(import.meta.url),
      ),
    );
    return documentsPromise;
  };
  const config = () => {
    configPromise ??= settings.config
      ? Promise.resolve(settings.config)
      : loadCloudConfig(paths.cloudConfig, { documents });
    return configPromise;
  };
  const store = () => {
    storePromise ??= settings.store
      ? Promise.resolve(settings.store)
      : import('@bp/tracker').then(({ openTracker }) => openTracker({ path: paths.database }));
    return storePromise;
  };
  /**
   * True while there is no tracker at all: no store given, none opened, no database file. Reading
   * commands then answer "nothing" without creating the database (or paying to open one).
   */
  const noRecordsYet = () => !settings.store && !storePromise && !existsSync(paths.database);

  /**
   * Every target: injected providers (by their id), this machine, then cloud.toml's.
   * A manager given providers uses those instead of this machine, unless cloud.toml names `local`.
   */
  async function allTargets(): Promise<ResolvedTarget[]> {
    const injected: ResolvedTarget[] = (settings.providers ?? []).map((provider) => ({
      name: provider.provider,
      type: provider.provider as ResolvedTarget['type'],
      settings: { type: 'local' },
    }));
    const cloud = await config();
    // Built-ins first (this machine, then its Docker engine); a manager given providers uses those instead.
    const configured = listTargets(cloud)
      .filter((target) => injected.length === 0 || !target.builtIn)
      .sort((left, right) => Number(Boolean(right.builtIn)) - Number(Boolean(left.builtIn)));
    return [
      ...injected,
      ...configured.filter((target) => !injected.some((other) => other.name === target.name)),
    ];
  }

  function providerFor(targetName: string): Promise<RemoteProviderV1> {
    let provider = providersByTarget.get(targetName);
    if (!provider) {
      const injected = settings.providers?.find((candidate) => candidate.provider === targetName);
      provider = injected
        ? Promise.resolve(injected)
        : allTargets().then((targets) => {
            const target = targets.find((candidate) => candidate.name === targetName);
            if (!target)
              throw new ValidationError({ path: 'target', reason: `no target named '${targetName}'` });
            return createProviderForTarget(target, { stateDir: paths.stateDir });
          });
      providersByTarget.set(targetName, provider);
      provider.catch(() => providersByTarget.delete(targetName));
    }
    return provider;
  }

  /**
   * Checks that a target can run the workload and prices it, refusing over-budget
   * prices: everything that can be known before anything is created.
   */
  async function priceCandidate(
    target: string,
    what: { workload: WorkloadV1; resources: ResourceRequestV1; blueprintFile: string },
    options: {
      region?: string;
      durationHours: number;
      maxHourly?: number;
      expiresAt: Date;
      budget?: BudgetStatus;
      signal?: AbortSignal;
    },
  ): Promise<Candidate> {
    const provider = await providerFor(target);
    const { capabilities } = provider;
    if (what.workload.command === undefined && !capabilities.containerImage) {
      throw new UnsupportedCapabilityError({
        provider: provider.provider,
        capability: 'containerImage',
        message: `target '${target}' (${provider.provider}) cannot run images and ${what.blueprintFile} has no 'command'`,
      });
    }
    if (what.workload.image === undefined && !capabilities.nativeCommand) {
      throw new UnsupportedCapabilityError({
        provider: provider.provider,
        capability: 'nativeCommand',
        message: `target '${target}' (${provider.provider}) runs images only and ${what.blueprintFile} has no 'image'`,
      });
    }
    if (what.resources.gpuCount > 0 && !capabilities.gpu) {
      throw new UnsupportedCapabilityError({ provider: provider.provider, capability: 'gpu' });
    }
    // Providers that run only one kind get only that kind, so a blueprint with both runs anywhere.
    const workload = { ...what.workload };
    if (!capabilities.containerImage) delete workload.image;
    if (!capabilities.nativeCommand) {
      delete workload.command;
      delete workload.workingDirectory;
    }
    emit({ step: 'estimate', message: `pricing on ${target}` });
    const estimate = await provider.estimateCost({
      resources: what.resources,
      region: options.region,
      durationHours: options.durationHours,
      signal: options.signal,
    });
    if (options.maxHourly !== undefined && estimate.hourlyUsd > options.maxHourly) {
      throw new BudgetExceededError({
        priceUsd: estimate.hourlyUsd,
        limitUsd: options.maxHourly,
        period: 'hour',
      });
    }
    const budget = options.budget;
    if (budget && estimate.hourlyUsd > 0) {
      const month = budget.projectedUsd + monthlyShareOf(estimate.hourlyUsd, options.expiresAt, new Date());
      if (month > budget.monthlyLimitUsd) {
        throw new BudgetExceededError({
          priceUsd: month,
          limitUsd: budget.monthlyLimitUsd,
          period: 'month',
          message: `refused by the monthly budget: at $${estimate.hourlyUsd.toFixed(4)}/h until its expiry, ${target} would bring ${budget.month} to $${month.toFixed(2)}, over the limit of $${budget.monthlyLimitUsd.toFixed(2)}`,
        });
      }
    }
    return { target, provider, workload, estimate };
  }

  /** Asks until the provider says the instance is gone (confirm before forget); bounded. */
  async function waitUntilGone(
    provider: RemoteProviderV1,
    reference: InstanceRefV1,
    timeoutMs = 60_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let interval = 50;
    for (;;) {
      const status = await provider.getInstanceStatus(reference);
      if (status.state === 'gone') return;
      if (Date.now() >= deadline) {
        throw new ProviderCallError({
          provider: provider.provider,
          operation: 'terminate',
          message: `${provider.provider} still reports ${reference.deploymentId} as ${status.state} after ${Math.round(timeoutMs / 1000)} s; it stays 'terminating' and the next reaper pass retries`,
          isRetryable: true,
        });
      }
      await sleep(interval, reference.signal);
      interval = Math.min(interval * 2, 1000);
    }
  }

  /** Deletes everything of a deployment and waits until the provider confirms it is gone. */
  async function destroy(provider: RemoteProviderV1, reference: InstanceRefV1): Promise<void> {
    await provider.terminateInstance(reference);
    await waitUntilGone(provider, reference);
  }

  function referenceOf(record: DeploymentRecord, signal?: AbortSignal): InstanceRefV1 {
    return { deploymentId: record.id, resourceIds: record.resourceIds, region: record.region, signal };
  }

  async function lastLogLines(
    provider: RemoteProviderV1,
    record: DeploymentRecord,
    count = 20,
  ): Promise<string[]> {
    const lines: string[] = [];
    try {
      const signal = AbortSignal.timeout(5000);
      for await (const entry of provider.logs({
        deploymentId: record.id,
        resourceIds: record.resourceIds,
        tail: count,
        signal,
      })) {
        lines.push(entry.message);
      }
    } catch {
      // Logs are a courtesy in an error path: their absence must not hide the real failure.
    }
    return lines.slice(-count);
  }

  async function waitHealthy(
    provider: RemoteProviderV1,
    record: DeploymentRecord,
    healthPath: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    // Every 10 ms while nothing answers yet, as a person polling by hand would (a refused connection
    // costs the service nothing); once it answers without being healthy, every 100 ms and more, so
    // that its log keeps more than health checks; every 500 ms at most.
    let interval = 10;
    let reason = 'no health check answered yet';
    for (;;) {
      const reference = {
        deploymentId: record.id,
        resourceIds: record.resourceIds,
        region: record.region,
        signal,
      };
      // Health first: a healthy answer ends the wait without a second call (one remote command less
      // over SSH); only an unhealthy one asks whether the instance is still there at all.
      const health = await provider.checkHealth({
        ...reference,
        path: healthPath,
        timeoutMs: Math.min(2000, Math.max(100, deadline - Date.now())),
      });
      if (health.healthy) return;
      const status = await provider.getInstanceStatus(reference);
      if (status.state === 'exited' || status.state === 'gone') {
        const exit = status.exitCode === undefined ? '' : ` with code ${status.exitCode}`;
        throw new HealthTimeoutError({
          deploymentId: record.id,
          reason: `the service ${status.state === 'gone' ? 'disappeared' : `exited${exit}`}${status.message ? ` (${status.message})` : ''}`,
          lastLogLines: [],
        });
      }
      if (status.state === 'running') {
        reason = health.reason ?? `health check answered ${health.statusCode}`;
        if (health.statusCode !== undefined) interval = Math.max(interval, 100);
      } else {
        reason = `instance is ${status.state}`;
      }
      if (Date.now() >= deadline) {
        throw new HealthTimeoutError({
          deploymentId: record.id,
          reason: `not healthy after ${Math.round(timeoutMs / 1000)} s: ${reason}`,
          lastLogLines: [],
        });
      }
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), signal);
      if (interval > 10 || Date.now() - started > 1000) interval = Math.min(interval * 1.5, 500);
    }
  }

  async function deploy(request: DeployRequest): Promise<DeploymentRecord | DeployPlan> {
    const signal = request.signal;
    const resources = await import('@bp/resources');
    const blueprintDir = resolve(request.blueprintDir);
    emit({ step: 'resolve', message: `reading blueprint in ${blueprintDir}` });
    const blueprint = await resources.loadBlueprint(blueprintDir, { documents: await documents() });
    const cloud = await config();
    const name = request.name ?? blueprint.name;
    if (!NAME_PATTERN.test(name)) {
      throw new ValidationError({
        path: '--name',
        reason: `'${name}' must be 1-63 of a-z, 0-9 and '-', not starting or ending with '-'`,
      });
    }
    const resourceRequest = resources.resolveResources(blueprint.resources, {
      cpu: request.cpu,
      memoryGb: request.memoryGb,
      storageGb: request.storageGb,
      gpuCount: request.gpuCount,
      gpuModel: request.gpuModel,
      spot: request.spot ?? (cloud.defaults?.spot && blueprint.resources.allowSpot ? true : undefined),
    });
    const ttlMs = toMilliseconds(request.ttl, cloud.defaults?.ttl ?? '24h', 'ttl', resources.parseDuration);
    const waitTimeoutMs = toMilliseconds(
      request.waitTimeout,
      cloud.defaults?.wait_timeout ?? '5m',
      'wait-timeout',
      resources.parseDuration,
    );
    const workload = resources.toWorkload(blueprint);
    const secrets = await resources.resolveSecrets(blueprint);

    const tracker = await store();
    const durationHours = ttlMs / 3_600_000;
    const maxHourly = request.maxHourlyUsd ?? cloud.defaults?.max_hourly_usd;
    const plan = planCandidates(cloud, await allTargets(), request, resourceRequest);
    const expiresAt = new Date(Date.now() + ttlMs);
    const budget = cloud.budget ? budgetStatus(await tracker.list(), cloud.budget, new Date()) : undefined;
    const attempts: AttemptRecord[] = plan.skipped.map((skip) => ({
      target: skip.entry,
      provider: skip.entry,
      outcome: 'unsupported',
      reason: skip.reason,
      at: new Date(),
    }));

    // Candidates in the plan's order, each priced (and refused if it cannot work) when it is reached, and
    // always before anything is created on it: a deploy whose first choice works loads no other provider.
    // A group chosen by price is priced whole, to sort it.
    const pending = plan.groups.map((group) => ({ ...group, targets: [...group.targets] }));
    const tried = new Set<string>();
    const sorted: Candidate[] = [];
    const refusals: unknown[] = [];
    const price = async (targetName: string): Promise<Candidate | undefined> => {
      try {
        return await priceCandidate(
          targetName,
          { workload, resources: resourceRequest, blueprintFile: blueprint.file },
          { region: request.region, durationHours, maxHourly, expiresAt, budget, signal },
        );
      } catch (error) {
        if (
          AbortedError.isInstance(error) ||
          (ValidationError.isInstance(error) && plan.basis === 'explicit')
        ) {
          throw error;
        }
        refusals.push(error);
        attempts.push({
          target: targetName,
          provider: providerTypeOf(error, targetName),
          outcome: attemptOutcome(error),
          reason: describeError(error),
          at: new Date(),
        });
        return undefined;
      }
    };
    const nextCandidate = async (): Promise<Candidate | undefined> => {
      for (;;) {
        const ready = sorted.shift();
        if (ready) return ready;
        const group = pending[0];
        if (!group) return undefined;
        if (group.byPrice) {
          pending.shift();
          for (const targetName of group.targets.filter((name) => !tried.has(name))) {
            tried.add(targetName);
            const candidate = await price(targetName);
            if (candidate) sorted.push(candidate);
          }
          sorted.sort((left, right) => left.estimate.hourlyUsd - right.estimate.hourlyUsd);
          continue;
        }
        const targetName = group.targets.shift();
        if (targetName === undefined) {
          pending.shift();
          continue;
        }
        if (tried.has(targetName)) continue;
        tried.add(targetName);
        const candidate = await price(targetName);
        if (candidate) return candidate;
      }
    };

    const first = await nextCandidate();
    if (!first) {
      // The most telling refusal: a budget one (exit 4) if any, else the first.
      throw (
        refusals.find((error) => BudgetExceededError.isInstance(error)) ??
        refusals[0] ??
        new ValidationError({
          reason: `no target to deploy to (${plan.basis})`,
        })
      );
    }
    const spec = { workload, resources: resourceRequest, secretNames: Object.keys(secrets) };
    if (request.dryRun) {
      return {
        name,
        target: first.target,
        provider: first.provider.provider,
        region: first.estimate.region ?? request.region,
        instanceType: first.estimate.instanceType,
        hourlyUsd: first.estimate.hourlyUsd,
        expiresAt,
        workload: first.workload,
        resources: resourceRequest,
      };
    }

    // Intent first: the record exists before any provider call, so a crash leaves something to find.
    let record = await tracker.create({
      name,
      target: first.target,
      provider: first.provider.provider,
      region: first.estimate.region ?? request.region,
      instanceType: first.estimate.instanceType,
      spec,
      blueprintDir,
      hourlyUsd: first.estimate.hourlyUsd,
      expiresAt,
      attempts: [...attempts],
    });
    const tags = deploymentTags({ deploymentId: record.id, expiresAt, owner: tracker.installationId });
    record = await tracker.update(record.id, { tags });
    record = await tracker.transition(record.id, 'provisioning', { from: ['pending'], actor });
    attempts.length = 0;
    for (let candidate = first, index = 0; ; index++) {
      const { provider } = candidate;
      if (index > 0) {
        record = await tracker.update(record.id, {
          target: candidate.target,
          provider: provider.provider,
          region: candidate.estimate.region ?? request.region ?? null,
          instanceType: candidate.estimate.instanceType ?? null,
          hourlyUsd: candidate.estimate.hourlyUsd,
        });
      }
      emit({
        deploymentId: record.id,
        step: 'create',
        message: `creating ${record.id} on ${candidate.target}`,
      });
      let created = false;
      try {
        const instance = await provider.deployInstance({
          deploymentId: record.id,
          name,
          workload: candidate.workload,
          resources: resourceRequest,
          expiresAt,
          tags,
          secrets,
          region: record.region,
          instanceType: record.instanceType,
          signal,
          onProgress: (event) => emit({ deploymentId: record.id, step: event.step, message: event.message }),
        });
        created = true;
        record = await tracker.update(record.id, {
          resourceIds: instance.resourceIds,
          endpoint: instance.endpoint,
          region: instance.region ?? record.region,
          instanceType: instance.instanceType ?? record.instanceType,
          attempts: [
            ...record.attempts,
            {
              target: candidate.target,
              provider: provider.provider,
              region: instance.region,
              outcome: 'ok',
              at: new Date(),
            },
          ],
        });
        for (const warning of instance.warnings) {
          emit({
            deploymentId: record.id,
            step: 'warning',
            message: `${warning.setting}: ${warning.message}`,
          });
        }
        emit({
          deploymentId: record.id,
          step: 'wait-healthy',
          message: `waiting for ${candidate.workload.healthPath} on ${instance.endpoint ?? 'the instance'}`,
        });
        await waitHealthy(provider, record, candidate.workload.healthPath, waitTimeoutMs, signal);
        break;
      } catch (error) {
        const next =
          !created && FAILOVER_CODES.has(BpError.isInstance(error) ? error.code : '')
            ? await nextCandidate().catch(() => undefined)
            : undefined;
        if (!next) {
          await undoFailedDeploy(provider, record, error, created);
          throw error;
        }
        // Capacity, quota and credentials problems are the target's, not the blueprint's: try the next one.
        emit({
          deploymentId: record.id,
          step: 'failover',
          message: `${candidate.target}: ${describeError(error)}; trying the next target`,
        });
        await destroy(provider, referenceOf(record)).catch(() => {});
        record = await tracker.update(record.id, {
          attempts: [
            ...record.attempts,
            {
              target: candidate.target,
              provider: provider.provider,
              region: record.region,
              outcome: attemptOutcome(error),
              reason: describeError(error),
              at: new Date(),
            },
            // Targets refused while finding this next one.
            ...attempts.splice(0),
          ],
        });
        candidate = next;
      }
    }
    record = await tracker.transition(record.id, 'running', { from: ['provisioning'], actor });
    emit({
      deploymentId: record.id,
      step: 'healthy',
      message: `${record.id} is healthy at ${record.endpoint ?? '(no endpoint)'}`,
    });
    if (request.replace) await replaceOlder(record, signal);
    return record;
  }

  /** Terminates the running deployments that `record` replaces: same name, same target, older. */
  async function replaceOlder(record: DeploymentRecord, signal: AbortSignal | undefined): Promise<void> {
    const tracker = await store();
    const older = (await tracker.list({ status: ['running'], name: record.name })).filter(
      (candidate) =>
        candidate.id !== record.id &&
        candidate.target === record.target &&
        candidate.createdAt <= record.createdAt,
    );
    for (const previous of older) {
      emit({
        deploymentId: previous.id,
        step: 'replace',
        message: `${record.id} is healthy: stopping ${previous.id}`,
      });
      await terminate(previous.id, { reason: `replaced by ${record.id}`, signal });
    }
  }

  /** Undo what a failed deploy created, keep the reason and last log lines, and mark it failed. */
  async function undoFailedDeploy(
    provider: RemoteProviderV1,
    record: DeploymentRecord,
    error: unknown,
    created: boolean,
  ): Promise<void> {
    const tracker = await store();
    const lines = created ? await lastLogLines(provider, record) : [];
    if (HealthTimeoutError.isInstance(error)) error.lastLogLines.push(...lines);
    const reason = AbortedError.isInstance(error) ? 'interrupted' : describeError(error);
    let cleanupFailure: string | undefined;
    if (created || !changedNothing(error)) {
      emit({ deploymentId: record.id, step: 'undo', message: `undoing ${record.id}: ${reason}` });
      try {
        // Undo even when nothing was reported created: the call may have created something before it failed.
        await destroy(provider, referenceOf(record));
      } catch (cleanupError) {
        cleanupFailure = describeError(cleanupError);
      }
    }
    const attempts: AttemptRecord[] = [
      ...record.attempts,
      {
        target: record.target,
        provider: record.provider,
        region: record.region,
        outcome: attemptOutcome(error),
        reason,
        at: new Date(),
      },
    ];
    if (cleanupFailure) {
      // Not confirmed gone: leave it terminating so the reaper finishes the job.
      await tracker.transition(record.id, 'terminating', {
        reason: `${reason}; cleanup not confirmed: ${cleanupFailure}`,
        patch: { lastLogLines: lines, attempts },
        actor,
      });
      return;
    }
    await tracker.transition(record.id, 'failed', {
      reason,
      patch: { lastLogLines: lines, attempts },
      actor,
    });
  }

  async function terminate(idOrPrefix: string, options: { reason?: string; signal?: AbortSignal } = {}) {
    const tracker = await store();
    let record = await tracker.resolve(idOrPrefix);
    if (record.status === 'terminated') return record;
    const provider = await providerFor(record.target);
    const wasFailed = record.status === 'failed';
    emit({ deploymentId: record.id, step: 'terminate', message: `terminating ${record.id}` });
    record = await tracker.transition(record.id, 'terminating', {
      reason: options.reason ?? record.reason,
      actor,
    });
    await destroy(provider, referenceOf(record, options.signal));
    emit({
      deploymentId: record.id,
      step: 'confirm',
      message: `${provider.provider} confirms ${record.id} is gone`,
    });
    return tracker
      .transition(record.id, wasFailed ? 'failed' : 'terminated', {
        from: ['terminating'],
        reason: options.reason ?? record.reason,
        actor,
      })
      .catch(async (error) => {
        // Another process finished the same termination first: that is the outcome we wanted.
        const current = await tracker.get(record.id);
        if (current && (current.status === 'terminated' || current.status === 'failed')) return current;
        throw error;
      });
  }

  async function reap(options: { signal?: AbortSignal } = {}): Promise<DeploymentRecord[]> {
    if (noRecordsYet()) return [];
    const tracker = await store();
    const now = new Date();
    const expired = await tracker.list({ status: ACTIVE, expiresBefore: now });
    const interrupted = (await tracker.list({ status: ['terminating'] })).filter(
      (record) => !expired.some((candidate) => candidate.id === record.id),
    );
    const reaped: DeploymentRecord[] = [];
    for (const record of [...expired, ...interrupted]) {
      // A deploy still in flight in another process owns its record until its expiry passes.
      if ((record.status === 'pending' || record.status === 'provisioning') && record.expiresAt > now)
        continue;
      try {
        reaped.push(
          await terminate(record.id, {
            reason: record.expiresAt <= now ? 'expired' : record.reason,
            signal: options.signal,
          }),
        );
      } catch (error) {
        emit({
          deploymentId: record.id,
          step: 'reap',
          message: `could not reap ${record.id}: ${describeError(error)}`,
        });
      }
    }
    reaped.push(...(await enforceBudget(options.signal)));
    return reaped;
  }

  /** Warns once a month per threshold; with action `terminate`, stops billing deployments newest first once spent. */
  async function enforceBudget(signal?: AbortSignal): Promise<DeploymentRecord[]> {
    const budget = (await config()).budget;
    if (!budget) return [];
    const tracker = await store();
    const now = new Date();
    const records = await tracker.list();
    const status = budgetStatus(records, budget, now);
    const alertsFile = join(paths.stateDir, 'budget-alerts.json');
    const alerts = await readFile(alertsFile, 'utf8')
      .then((text) => JSON.parse(text) as { month: string; notified: number[] })
      .catch(() => ({ month: status.month, notified: [] as number[] }));
    const notified = alerts.month === status.month ? alerts.notified : [];
    const crossed = BUDGET_THRESHOLDS.filter(
      (threshold) => status.percentUsed >= threshold && !notified.includes(threshold),
    );
    if (crossed.length > 0) {
      emit({
        step: 'budget',
        message: `budget: $${status.monthToDateUsd.toFixed(2)} of $${status.monthlyLimitUsd.toFixed(2)} spent in ${status.month} (${Math.floor(status.percentUsed)} %, past ${crossed.at(-1)} %)`,
      });
      const temporary = `${alertsFile}.${process.pid}.tmp`;
      await writeFile(
        temporary,
        JSON.stringify({ month: status.month, notified: [...notified, ...crossed] }),
        { mode: 0o600 },
      );
      await rename(temporary, alertsFile);
    }
    if (status.percentUsed < 100 || status.action !== 'terminate') return [];
    const stopped: DeploymentRecord[] = [];
    // Newest first: the most recent spending is the least established.
    for (const record of records.filter(
      (candidate) => candidate.status === 'running' && isBilling(candidate),
    )) {
      try {
        stopped.push(
          await terminate(record.id, {
            reason: `monthly budget of $${budget.monthly_limit_usd} spent`,
            signal,
          }),
        );
      } catch (error) {
        emit({
          deploymentId: record.id,
          step: 'budget',
          message: `could not stop ${record.id}: ${describeError(error)}`,
        });
      }
    }
    return stopped;
  }

  async function costs(options: { since?: Date } = {}): Promise<CostReport> {
    const now = new Date();
    const since = options.since ?? new Date(now.getTime() - 30 * 24 * 3_600_000);
    const records = await (await store()).list();
    const deployments: DeploymentCost[] = [];
    for (const record of records) {
      const span = billedSpan(record, now);
      if (span && span.to < since) continue;
      if (!span && record.createdAt < since) continue;
      deployments.push({
        id: record.id,
        name: record.name,
        target: record.target,
        provider: record.provider,
        status: record.status,
        hourlyUsd: record.hourlyUsd,
        billedFrom: span?.from,
        billedTo: span?.to,
        hours: span ? (span.to.getTime() - span.from.getTime()) / 3_600_000 : 0,
        accruedUsd: accruedUsd(record, now),
        sinceUsd: accruedBetween(record, since, now, now),
      });
    }
    const budget = (await config()).budget;
    return {
      since,
      deployments,
      totalUsd: deployments.reduce((sum, deployment) => sum + deployment.sinceUsd, 0),
      budget: budget ? budgetStatus(records, budget, now) : undefined,
    };
  }

  async function recover(
    idOrPrefix: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<DeploymentRecord> {
    const tracker = await store();
    let record = await tracker.resolve(idOrPrefix);
    if (record.status !== 'running') {
      throw new ValidationError({
        path: 'id',
        reason: `${record.id} is ${record.status}; only running deployments are recovered`,
      });
    }
    const provider = await providerFor(record.target);
    const spec = record.spec as {
      workload: WorkloadV1;
      resources: ResourceRequestV1;
      secretNames?: string[];
    };
    let secrets: Record<string, string> = {};
    if (spec.secretNames?.length) {
      if (!record.blueprintDir)
        throw new ValidationError({
          path: 'blueprintDir',
          reason: `${record.id} has secrets but no blueprint to read them from`,
        });
      const resources = await import('@bp/resources');
      const blueprint = await resources.loadBlueprint(record.blueprintDir, { documents: await documents() });
      secrets = await resources.resolveSecrets(blueprint);
    }
    emit({
      deploymentId: record.id,
      step: 'recover',
      message: `restarting ${record.id} on ${record.target}`,
    });
    try {
      await destroy(provider, referenceOf(record, options.signal));
      const instance = await provider.deployInstance({
        deploymentId: record.id,
        name: record.name,
        workload: spec.workload,
        resources: spec.resources,
        expiresAt: record.expiresAt,
        tags: record.tags,
        secrets,
        region: record.region,
        instanceType: record.instanceType,
        signal: options.signal,
      });
      record = await tracker.update(record.id, {
        resourceIds: instance.resourceIds,
        endpoint: instance.endpoint,
        attempts: [
          ...record.attempts,
          {
            target: record.target,
            provider: provider.provider,
            region: record.region,
            outcome: 'ok',
            reason: 'restarted',
            at: new Date(),
          },
        ],
      });
      await waitHealthy(
        provider,
        record,
        spec.workload.healthPath,
        options.timeoutMs ?? 60_000,
        options.signal,
      );
      emit({
        deploymentId: record.id,
        step: 'recovered',
        message: `${record.id} is healthy again at ${record.endpoint ?? '-'}`,
      });
      return record;
    } catch (error) {
      if (AbortedError.isInstance(error)) throw error;
      await undoFailedDeploy(provider, record, error, true);
      throw error;
    }
  }

  async function monitorPass(state: MonitorState, options: MonitorSettings = {}): Promise<MonitorPassReport> {
    const tracker = await store();
    const leaseMs = options.leaseMs ?? 30_000;
    const threshold = options.failuresBeforeRecovery ?? 3;
    const maxRecoveries = options.maxRecoveries ?? 3;
    const report: MonitorPassReport = { reaper: false, reaped: [], checked: [], recovered: [], failed: [] };
    state.passes++;
    if (await tracker.acquireLease('reaper', state.holder, leaseMs)) {
      state.leases.add('reaper');
      report.reaper = true;
      report.reaped = (await reap({ signal: options.signal })).map((record) => record.id);
    }
    for (const record of await tracker.list({ status: ['running'] })) {
      if (options.signal?.aborted) break;
      // One monitor checks a deployment at a time; a dead monitor's leases expire and others take over.
      if (!(await tracker.acquireLease(`health:${record.id}`, state.holder, leaseMs))) continue;
      state.leases.add(`health:${record.id}`);
      let healthy = false;
      let reason: string | undefined;
      try {
        const provider = await providerFor(record.target);
        const reference = referenceOf(record, options.signal);
        const status = await provider.getInstanceStatus(reference);
        if (status.state === 'running') {
          const spec = record.spec as { workload?: WorkloadV1 };
          const health = await provider.checkHealth({ ...reference, path: spec.workload?.healthPath ?? '/' });
          healthy = health.healthy;
          reason = health.reason;
        } else {
          reason = `instance is ${status.state}${status.message ? ` (${status.message})` : ''}`;
        }
      } catch (error) {
        reason = describeError(error);
      }
      state.healthy.set(record.id, healthy);
      report.checked.push({ id: record.id, healthy, reason });
      if (healthy) {
        state.failures.delete(record.id);
        continue;
      }
      const failures = (state.failures.get(record.id) ?? 0) + 1;
      state.failures.set(record.id, failures);
      emit({
        deploymentId: record.id,
        step: 'unhealthy',
        message: `${record.id}: ${reason} (${failures} in a row)`,
      });
      if (failures < threshold) continue;
      const recoveries = state.recoveries.get(record.id) ?? 0;
      if (recoveries >= maxRecoveries) {
        const why = `unhealthy after ${recoveries} restarts: ${reason}`;
        await tracker
          .transition(record.id, 'failed', { from: ['running'], reason: why, actor })
          .catch(() => {});
        // Leftovers of a failed deployment are removed, confirmed gone.
        await terminate(record.id, { reason: why, signal: options.signal }).catch(() => {});
        report.failed.push({ id: record.id, reason: why });
        continue;
      }
      state.recoveries.set(record.id, recoveries + 1);
      state.failures.delete(record.id);
      try {
        await recover(record.id, { timeoutMs: options.recoveryTimeoutMs, signal: options.signal });
        state.healthy.set(record.id, true);
        report.recovered.push(record.id);
      } catch (error) {
        report.failed.push({ id: record.id, reason: describeError(error) });
      }
    }
    return report;
  }

  /** Gives up a monitor's leases, so another monitor takes over its work at once. */
  async function releaseLeases(state: MonitorState): Promise<void> {
    const tracker = await store();
    for (const lease of state.leases) await tracker.releaseLease(lease, state.holder);
    state.leases.clear();
  }

  async function metrics(state?: MonitorState): Promise<string> {
    const records = await (await store()).list();
    const now = new Date();
    const budget = (await config()).budget;
    return renderMetrics(records, {
      now,
      accruedUsd: (record) => accruedUsd(record, now),
      budget: budget ? budgetStatus(records, budget, now) : undefined,
      state,
    });
  }

  async function refresh(idOrPrefix: string, signal?: AbortSignal): Promise<DeploymentRecord> {
    const tracker = await store();
    const record = await tracker.resolve(idOrPrefix);
    if (record.status !== 'running') return record;
    const provider = await providerFor(record.target);
    const status = await provider.getInstanceStatus({
      deploymentId: record.id,
      resourceIds: record.resourceIds,
      region: record.region,
      signal,
    });
    if (status.state === 'gone' || status.state === 'exited') {
      // The target's own TTL stopped it: that is an orderly end, not a failure.
      if (record.expiresAt <= new Date()) return terminate(record.id, { reason: 'expired', signal });
      const why =
        status.state === 'gone'
          ? 'the instance is gone'
          : `the service exited${status.exitCode === undefined ? '' : ` with code ${status.exitCode}`}`;
      return tracker.transition(record.id, 'failed', {
        from: ['running'],
        reason: `${why}${status.message ? ` (${status.message})` : ''}`,
        actor,
      });
    }
    return record;
  }

  const manager = {
    deploy,
    async get(idOrPrefix: string) {
      return (await store()).resolve(idOrPrefix);
    },
    async list(filter?: { status?: DeploymentStatus[]; limit?: number }) {
      if (noRecordsYet()) return [];
      return (await store()).list(filter);
    },
    refresh,
    recover,
    monitorPass,
    releaseLeases,
    metrics,
    async logs(
      idOrPrefix: string,
      options: { follow?: boolean; since?: Date; tail?: number; signal?: AbortSignal } = {},
    ) {
      const record = await (await store()).resolve(idOrPrefix);
      const provider = await providerFor(record.target);
      return provider.logs({
        deploymentId: record.id,
        resourceIds: record.resourceIds,
        region: record.region,
        ...options,
        // Following a deployment that is no longer active would wait forever for nothing.
        follow: options.follow && ACTIVE.includes(record.status),
      });
    },
    terminate,
    reap,
    costs,
    estimate: (request: EstimateRequest) => estimate({ catalogDir: paths.home, ...request }),
    async catalogInfo() {
      const { catalogInfo } = await import('@bp/pricing');
      return catalogInfo({ userDir: paths.home });
    },
    async installCatalog(file: string, options: { force?: boolean } = {}) {
      const { installCatalog } = await import('@bp/pricing');
      return installCatalog(resolve(file), paths.home, options);
    },
    refreshCatalog: (request: CatalogRefreshRequest) => refreshCatalog(request, paths.home),
    async reconcile(options: {
      provider?: string;
      region?: string;
      apply: boolean;
      anyOwner?: boolean;
      signal?: AbortSignal;
    }) {
      const tracker = await store();
      const targets = (await allTargets()).filter(
        (target) =>
          (options.provider === undefined || target.type === options.provider) &&
          (isProviderInstalled(target.type) ||
            settings.providers?.some((provider) => provider.provider === target.name)),
      );
      return reconcile({
        store: tracker,
        targets: targets.map((target) => ({ name: target.name, provider: () => providerFor(target.name) })),
        owner: options.anyOwner ? undefined : tracker.installationId,
        region: options.region,
        apply: options.apply,
        signal: options.signal,
        destroy: (provider, resource) =>
          destroy(provider, {
            deploymentId: resource.deploymentId,
            resourceIds: [resource.resourceId],
            region: resource.region,
            signal: options.signal,
          }),
        terminate: (id, reason) => terminate(id, { reason, signal: options.signal }),
        markFailed: (id, reason) => tracker.transition(id, 'failed', { reason, actor }),
      });
    },
    async targets() {
      return listTargets(await config());
    },
    providerFor,
    get store() {
      return store();
    },
    async close() {
      // Providers may hold connections (SSH sessions) that would keep the process alive.
      const providers = await Promise.allSettled(providersByTarget.values());
      for (const result of providers) {
        if (result.status !== 'fulfilled') continue;
        const provider = result.value as RemoteProviderV1 & { close?: () => Promise<void> };
        if (!settings.providers?.includes(result.value)) await provider.close?.().catch(() => {});
      }
      providersByTarget.clear();
      if (storePromise) await (await storePromise).close();
      storePromise = undefined;
    },
  };
  return manager as Manager;
}
