import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import {
  AbortedError,
  BpError,
  CapacityError,
  checkCommonDeployOptionsV1,
  checkHttpHealth,
  type DeployOptionsV1,
  NotFoundError,
  type RemoteInstanceV1,
  type RemoteProviderV1,
  type ResourceRequestV1,
  throwIfAborted,
  UnsupportedCapabilityError,
  ValidationError,
  type WarningV1,
} from '@bp/provider';
import { createDockerRuntime } from './docker-runtime.js';
import {
  type HostCandidate,
  type HostResources,
  parseSurvey,
  selectHost,
  surveyScript,
} from './host-resources.js';
import { mapSshError, PROVIDER } from './map-ssh-error.js';
import { createNativeRuntime } from './native-runtime.js';
import type { Inspection } from './runtime.js';
import { SshConnections, type SshEndpoint } from './ssh-connections.js';

export interface SshProviderSettings {
  /** Hosts to deploy to: `host`, `host:port`, `user@host:port` (`[v6addr]:port` for IPv6). At least one. */
  hosts: string[];
  /** Login user for hosts that name none. Default: the current user. */
  user?: string;
  /** Private key file (`~` expands). Default: the first of `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`. */
  key?: string;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
  /** The known_hosts file host keys are verified against (`~` expands). Default `~/.ssh/known_hosts`. */
  knownHosts?: string;
  /** SSH port for hosts that name none. Default 22. */
  port?: number;
  /** A bastion every host is reached through, `[user@]host[:port]` (like `ssh -J`); same key and known_hosts. */
  jumpHost?: string;
  /** `docker` (default): images run through each host's Docker engine. `native`: commands run on the host. */
  runtime?: 'docker' | 'native';
  /**
   * Accept a host key that known_hosts does not hold yet, and record it there (trust on first use).
   * Default false: unknown hosts are refused. A key that differs from a recorded one is always refused.
   */
  trustUnknownHostKeys?: boolean;
  /** Time to connect and finish the SSH handshake, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL on terminate and at expiry, in ms (whole seconds on the host). Default 10000. */
  stopGraceMs?: number;
}

/** The SSH provider: a {@link RemoteProviderV1} whose connections stay open until `close()`. */
export interface SshProvider extends RemoteProviderV1 {
  /** Ends the SSH connections; later calls open new ones. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_SPEC = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^\s:@[\]]+)(?::(\d+))?$/;
/** How long a deploy waits for another bp process that is creating the same id on the same host. */
const CONCURRENT_CREATE_WAIT_MS = 60_000;
const NOTHING: ResourceRequestV1 = { cpu: 0, memoryGb: 0, storageGb: 0, gpuCount: 0, spot: false };

/** A host as a candidate for a deployment, with what it holds of the deployment's id (when it holds any). */
type SurveyedHost = HostCandidate<SshEndpoint> & { inspection?: Inspection };

/** Deploys to your own hosts over SSH: Docker images through each host's engine, or native commands. */
export function createSshProvider(settings: SshProviderSettings): SshProvider {
  const user = settings.user ?? userInfo().username;
  const port = settings.port ?? 22;
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new ValidationError({ path: 'port', reason: 'must be a whole number from 1 to 65535' });
  }
  if (!Array.isArray(settings.hosts) || !settings.hosts.length) {
    throw new ValidationError({ path: 'hosts', reason: 'must list at least one host' });
  }
  const hosts = settings.hosts.map((spec, index) => parseHost(spec, user, port, `hosts[${index}]`));
  const runtimeName = settings.runtime ?? 'docker';
  if (runtimeName !== 'docker' && runtimeName !== 'native') {
    throw new ValidationError({ path: 'runtime', reason: 'must be "docker" or "native"' });
  }
  const stopGraceMs = settings.stopGraceMs ?? 10_000;
  if (!(Number.isFinite(stopGraceMs) && stopGraceMs >= 0)) {
    throw new ValidationError({ path: 'stopGraceMs', reason: 'must be 0 or more milliseconds' });
  }
  const ssh = join(homedir(), '.ssh');
  const connections = new SshConnections({
    keyPaths: settings.key
      ? [expandHome(settings.key)]
      : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(ssh, name)),
    passphrase: settings.passphrase,
    knownHostsPath: expandHome(settings.knownHosts ?? join(ssh, 'known_hosts')),
    trustUnknownHostKeys: settings.trustUnknownHostKeys ?? false,
    connectTimeoutMs: settings.connectTimeoutMs ?? 10_000,
    jumpHost: settings.jumpHost ? parseHost(settings.jumpHost, user, 22, 'jumpHost') : undefined,
  });
  const context = { connections, stopGraceSeconds: Math.ceil(stopGraceMs / 1000) };
  const runtime = runtimeName === 'docker' ? createDockerRuntime(context) : createNativeRuntime(context);
  const hostSurvey = surveyScript(runtime);
  /** Where each deployment id was last found, and its endpoint there: most calls ask one host. */
  const located = new Map<string, { host: SshEndpoint; endpoint?: string }>();
  const locks = new Map<string, Promise<unknown>>();

  /** Runs `work` after every earlier call holding the same id in this provider (deploy and terminate). */
  async function withLock<T>(deploymentId: string, work: () => Promise<T>): Promise<T> {
    const current = (locks.get(deploymentId) ?? Promise.resolve()).catch(() => {}).then(work);
    const settled = current.catch(() => {});
    locks.set(deploymentId, settled);
    try {
      return await current;
    } finally {
      if (locks.get(deploymentId) === settled) locks.delete(deploymentId);
    }
  }

  /**
   * Finds the host holding the id: the one it was last seen on (or that its resource ids name) first, then
   * all others. Not found anywhere while some host could not be asked: that host's error, unless `lenient`.
   */
  async function locate(
    deploymentId: string,
    options: { signal?: AbortSignal; resourceIds?: string[]; lenient?: boolean },
  ): Promise<{ host: SshEndpoint; inspection: Inspection } | undefined> {
    const errors: unknown[] = [];
    const inspectOn = async (host: SshEndpoint) => {
      try {
        const inspection = await runtime.inspect(host, deploymentId, options.signal);
        return inspection.state === 'gone' ? undefined : { host, inspection };
      } catch (error) {
        if (AbortedError.isInstance(error)) throw error;
        errors.push(error);
        return undefined;
      }
    };
    const hinted =
      located.get(deploymentId)?.host ??
      hosts.find((host) => options.resourceIds?.some((id) => id.startsWith(`${host.label}/`)));
    const first = hinted && (await inspectOn(hinted));
    const found =
      first || (await Promise.all(hosts.filter((host) => host !== hinted).map(inspectOn))).find(Boolean);
    if (found) {
      located.set(deploymentId, { host: found.host, endpoint: found.inspection.endpoint });
      return found;
    }
    located.delete(deploymentId);
    if (errors.length && !options.lenient) throw errors[0];
    return undefined;
  }

  /**
   * Every host's resources as a candidate for a deployment, and what it holds of `deploymentId` (when given
   * and found there): one round trip per host, all at once. A host that cannot be asked is a candidate
   * with its error.
   */
  async function survey(deploymentId: string | undefined, signal?: AbortSignal): Promise<SurveyedHost[]> {
    return Promise.all(
      hosts.map(async (host): Promise<SurveyedHost> => {
        try {
          const output = await connections.run(host, {
            operation: 'read resources',
            script: hostSurvey,
            args: deploymentId === undefined ? [] : [deploymentId],
            signal,
          });
          const { resources, description } = parseSurvey(output);
          const inspection =
            deploymentId === undefined
              ? undefined
              : runtime.parseDescription(host, deploymentId, description);
          return {
            host,
            label: host.label,
            resources,
            inspection: inspection?.state === 'gone' ? undefined : inspection,
          };
        } catch (error) {
          if (AbortedError.isInstance(error)) throw error;
          const mapped = mapSshError(error, {
            label: host.label,
            host: host.host,
            port: host.port,
            user: host.user,
            operation: 'read resources',
          });
          return { host, label: host.label, error: mapped };
        }
      }),
    );
  }

  function toInstance(
    inspection: Inspection,
    deploymentId: string,
    reused: boolean,
    warnings: WarningV1[],
  ): RemoteInstanceV1 {
    return {
      deploymentId,
      resourceIds: inspection.resourceIds,
      endpoint: inspection.endpoint,
      hourlyUsd: 0,
      reused,
      warnings,
    };
  }

  function checkDeployOptions(options: DeployOptionsV1): WarningV1[] {
    const { workload, resources } = options;
    const invalid = (path: string, reason: string) => new ValidationError({ path, reason });
    if (typeof options.deploymentId !== 'string' || !ID_PATTERN.test(options.deploymentId)) {
      throw invalid('deploymentId', 'must be 1 to 63 of a-z, 0-9 and -, starting with a letter or digit');
    }
    if (!isCleanString(options.name)) throw invalid('name', 'must be a string without NUL bytes');
    if (!workload?.image && !workload?.command?.length)
      throw invalid('workload', 'needs an image or a command');
    if (!workload.image && !runtime.capabilities.nativeCommand) {
      throw new UnsupportedCapabilityError({
        provider: PROVIDER,
        capability: 'nativeCommand',
        message: 'runtime docker runs images; set runtime "native" to run a command on the hosts',
      });
    }
    if (!workload.command?.length && !runtime.capabilities.containerImage) {
      throw new UnsupportedCapabilityError({
        provider: PROVIDER,
        capability: 'containerImage',
        message: 'runtime native runs commands; set runtime "docker" to run an image on the hosts',
      });
    }
    checkCommonDeployOptionsV1(options);
    for (const [group, values] of [
      ['workload.env', workload.env],
      ['secrets', options.secrets],
      ['tags', options.tags],
    ] as const) {
      for (const [key, value] of Object.entries(values ?? {})) {
        if ((group !== 'tags' && !ENV_NAME.test(key)) || !isCleanString(key) || !isCleanString(value)) {
          throw invalid(
            `${group}.${key}`,
            'must be a name of letters, digits and _ holding a string without NUL bytes',
          );
        }
      }
    }
    if (resources.gpuCount > 0)
      throw new UnsupportedCapabilityError({ provider: PROVIDER, capability: 'gpu' });
    const warnings = runtime.check(options);
    if (resources.spot)
      warnings.push({ setting: 'resources.spot', message: 'hosts have no spot capacity: runs as usual' });
    if (options.region) warnings.push({ setting: 'region', message: 'ignored: SSH hosts have no regions' });
    if (options.instanceType)
      warnings.push({ setting: 'instanceType', message: 'ignored: SSH hosts have no instance types' });
    return warnings;
  }

  async function create(
    options: DeployOptionsV1,
    candidates: HostCandidate<SshEndpoint>[],
    warnings: WarningV1[],
  ): Promise<RemoteInstanceV1> {
    const { deploymentId, signal } = options;
    const host = selectHost(candidates, options.resources).host;
    throwIfAborted(signal);
    options.onProgress?.({ step: 'host', message: `deploying to ${host.label}` });
    // Not interrupted half-way: an abort is honoured once the host has finished, by undoing what it made.
    let created = await runtime.create(host, { ...options, signal: undefined });
    located.set(deploymentId, { host, endpoint: created === 'exists' ? undefined : created.endpoint });
    if (signal?.aborted) {
      await runtime.remove(host, deploymentId);
      throw new AbortedError();
    }
    if (created === 'exists') {
      // Another bp process is creating this id on this host: its result is ours.
      const giveUpAt = Date.now() + CONCURRENT_CREATE_WAIT_MS;
      do {
        await new Promise((resolve) => setTimeout(resolve, 250));
        created = await runtime.inspect(host, deploymentId, signal);
      } while (created.state === 'starting' && Date.now() < giveUpAt);
      return toInstance(created, deploymentId, true, warnings);
    }
    return toInstance(created, deploymentId, false, warnings);
  }

  return {
    specificationVersion: 'v1',
    provider: PROVIDER,
    capabilities: {
      ...runtime.capabilities,
      gpu: false,
      spot: false,
      logsFollow: true,
      ttlOnTarget: true,
      tunnel: false,
      regions: false,
    },

    async deployInstance(options) {
      throwIfAborted(options.signal);
      const warnings = checkDeployOptions(options);
      const { deploymentId, signal } = options;
      return withLock(deploymentId, async () => {
        // Whether a host holds the id already, and how much room each one has: one round trip per host.
        const candidates = await survey(deploymentId, signal);
        const hinted = located.get(deploymentId)?.host;
        const holder =
          candidates.find((candidate) => candidate.inspection && candidate.host === hinted) ??
          candidates.find((candidate) => candidate.inspection);
        if (holder?.inspection && holder.inspection.state !== 'exited') {
          located.set(deploymentId, { host: holder.host, endpoint: holder.inspection.endpoint });
          options.onProgress?.({
            step: 'reuse',
            message: `${deploymentId} already exists on ${holder.host.label}`,
          });
          return toInstance(holder.inspection, deploymentId, true, warnings);
        }
        // What is left of an earlier instance that has ended is replaced.
        if (holder) await runtime.remove(holder.host, deploymentId, signal);
        return create(options, candidates, warnings);
      });
    },

    async getInstanceStatus({ deploymentId, resourceIds, signal }) {
      throwIfAborted(signal);
      if (!ID_PATTERN.test(deploymentId)) return { state: 'gone' };
      const found = await locate(deploymentId, { signal, resourceIds });
      if (!found) return { state: 'gone' };
      const { state, endpoint, exitCode, message, expiresAt } = found.inspection;
      return { state, endpoint, exitCode, message, expiresAt };
    },

    async terminateInstance({ deploymentId, resourceIds, signal }) {
      throwIfAborted(signal);
      if (!ID_PATTERN.test(deploymentId)) return;
      await withLock(deploymentId, async () => {
        const found = await locate(deploymentId, { signal, resourceIds });
        if (found) await runtime.remove(found.host, deploymentId, signal);
        located.delete(deploymentId);
      });
    },

    async *logs(options) {
      throwIfAborted(options.signal);
      const { deploymentId, tail } = options;
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
        throw new ValidationError({ path: 'tail', reason: 'must be a whole number, 0 or more' });
      }
      const found = ID_PATTERN.test(deploymentId) ? await locate(deploymentId, options) : undefined;
      if (!found) throw new NotFoundError({ kind: 'instance', id: deploymentId });
      yield* runtime.logs(found.host, deploymentId, options);
    },

    async checkHealth({ deploymentId, resourceIds, path, timeoutMs, signal }) {
      throwIfAborted(signal);
      // The service is asked at its last known endpoint while its host is asked whether it still runs
      // there; the answer counts only if it does. One wait instead of two in a row.
      const unused = new AbortController();
      const lastEndpoint = located.get(deploymentId)?.endpoint;
      const early =
        lastEndpoint &&
        checkHttpHealth(lastEndpoint, path, {
          timeoutMs,
          signal: signal ? AbortSignal.any([signal, unused.signal]) : unused.signal,
        });
      try {
        let found: Awaited<ReturnType<typeof locate>>;
        try {
          found = ID_PATTERN.test(deploymentId)
            ? await locate(deploymentId, { signal, resourceIds })
            : undefined;
        } catch (error) {
          if (AbortedError.isInstance(error)) throw error;
          return { healthy: false, reason: BpError.isInstance(error) ? error.message : String(error) };
        }
        if (!found) return { healthy: false, reason: `instance ${deploymentId} not found` };
        const { state, endpoint, message } = found.inspection;
        if (state !== 'running' || !endpoint) {
          return { healthy: false, reason: `instance is ${state}${message ? `: ${message}` : ''}` };
        }
        const result = await (early && endpoint === lastEndpoint
          ? early
          : checkHttpHealth(endpoint, path, { timeoutMs, signal }));
        throwIfAborted(signal);
        return result;
      } finally {
        unused.abort();
      }
    },

    async getAvailableResources(options = {}) {
      throwIfAborted(options.signal);
      let best: HostResources;
      try {
        best = selectHost(await survey(undefined, options.signal), NOTHING).resources!;
      } catch (error) {
        if (!CapacityError.isInstance(error)) throw error;
        best = { cpu: 0, memoryGb: 0, storageGb: 0, unfit: [] };
      }
      return { cpu: best.cpu, memoryGb: best.memoryGb, storageGb: best.storageGb, gpus: [] };
    },

    async estimateCost({ signal }) {
      throwIfAborted(signal);
      return { hourlyUsd: 0, totalUsd: 0, source: 'free: your own hosts' };
    },

    async listManagedResources(options = {}) {
      throwIfAborted(options.signal);
      const perHost = await Promise.all(hosts.map((host) => runtime.list(host, options.signal)));
      return perHost
        .flat()
        .filter((resource) => options.owner === undefined || resource.owner === options.owner);
    },

    close: () => connections.close(),
    [Symbol.asyncDispose]: () => connections.close(),
  };
}

/** `[user@]host[:port]`, with `[v6addr]` for IPv6. */
function parseHost(spec: unknown, user: string, port: number, path: string): SshEndpoint {
  const match = typeof spec === 'string' ? HOST_SPEC.exec(spec.trim()) : null;
  const portNumber = match?.[3] === undefined ? port : Number(match[3]);
  if (!match || !(portNumber > 0 && portNumber < 65536)) {
    throw new ValidationError({
      path,
      reason: 'must be host, host:port or user@host:port ([v6addr]:port for IPv6)',
    });
  }
  const host = match[2]!.replace(/^\[(.*)\]$/, '$1');
  const login = match[1] ?? user;
  return {
    user: login,
    host,
    port: portNumber,
    label: `${login}@${host.includes(':') ? `[${host}]` : host}:${portNumber}`,
  };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function isCleanString(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0');
}
