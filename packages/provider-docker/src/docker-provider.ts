import { statfs } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortedError,
  CapacityError,
  checkHttpHealth,
  type DeployOptionsV1,
  type InstanceRefV1,
  type LogEntryV1,
  type LogsOptionsV1,
  markChangedNothing,
  NotFoundError,
  ProviderCallError,
  type RemoteInstanceV1,
  type RemoteProviderV1,
  TAG_LABELS,
  throwIfAborted,
  UnsupportedCapabilityError,
  ValidationError,
  type WarningV1,
} from '@bp/provider';
import type Dockerode from 'dockerode';
import { imageCommand } from './deadline-wrapper.js';
import { checkDeployOptions, isDeploymentId } from './deploy-options.js';
import { type DockerTarget, type DockerTlsSettings, resolveDockerTarget } from './docker-connection.js';
import { readDockerLogs } from './docker-logs.js';
import { createEngineClient } from './engine-client.js';
import {
  clockAgrees,
  ENGINE_FACTS_FILE,
  type EngineFacts,
  readEngineFacts,
  writeEngineFacts,
} from './engine-facts.js';
import { mapDockerError } from './map-docker-error.js';
import type { RegistryCredentials } from './registry-auth.js';
import {
  type DockerInstanceStats,
  describeWorkload,
  endpointOf,
  listedState,
  toInstanceStats,
  workloadCreateOptions,
  workloadName,
} from './workload-container.js';

export interface DockerProviderSettings {
  /** The engine: `unix:///PATH` or `tcp://HOST:PORT` (cloud.toml `host`). Default: DOCKER_HOST, else /var/run/docker.sock. */
  host?: string;
  /** Client TLS files for a `tcp://` host (cloud.toml `tls = { ca, cert, key }`). `ca` is required: verification is never skipped. */
  tls?: DockerTlsSettings;
  /** The engine's unix socket, instead of `host`. */
  socketPath?: string;
  /** Address the engine binds published ports to. Default `127.0.0.1` for an engine on this machine (socket or loopback), else `0.0.0.0`. */
  publishHost?: string;
  /** Registry credentials by registry host (`127.0.0.1:5000`, `docker.io`). Default: the `auths` of ~/.docker/config.json. */
  registryAuth?: Record<string, RegistryCredentials>;
  /** Image whose static `/bin/busybox` runs the deadline script that enforces the expiry on the engine (see deadline-wrapper.ts). Default `busybox:1.36`; `false` turns it off (`capabilities.ttlOnTarget` is then false). */
  ttlSidecarImage?: string | false;
  /** When images are pulled: `missing` (default, like `docker run`) or `always`. */
  pull?: 'missing' | 'always';
  /** The workload's restart policy on the engine. Default `{ name: 'on-failure', maximumRetryCount: 3 }`. */
  restartPolicy?: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maximumRetryCount?: number };
  /** SIGTERM to SIGKILL on terminate and at the expiry, in seconds. Default 10. */
  stopGraceSeconds?: number;
  /** A dockerode client to use as is; `host`, `tls` and `socketPath` are then ignored. */
  docker?: Dockerode;
  /**
   * A directory where what a deploy learns of the engine's info (CPUs, memory, OS, storage driver, clock
   * offset) is kept for an hour, so that later deploys need not wait for that call (see deploy). bp
   * passes `$BP_STATE/cache`. Default: none (every deploy asks).
   */
  cacheDir?: string;
}

/** The v1 provider plus what only a Docker engine offers. */
export interface DockerProvider extends RemoteProviderV1 {
  /** One sample of the instance's CPU, memory, network and process use. Throws NotFoundError when it is gone. */
  getInstanceStats(options: InstanceRefV1): Promise<DockerInstanceStats>;
}

const PROVIDER = 'docker';
const GIB = 2 ** 30;
const DEFAULT_TOOLS_IMAGE = 'busybox:1.36';
const RESTART_POLICIES = ['no', 'on-failure', 'always', 'unless-stopped'];
/** Bound on the wait from terminate to nothing left, beyond the stop grace. */
const GONE_TIMEOUT_MS = 30_000;
const POLL_MS = 200;
/** How long the inspect made at a deploy's start stands in for a health check's own (see justStarted). */
const RECENT_MS = 1000;

/** bp's provider for a Docker engine: the local socket, or a remote engine over verified TLS. */
export function createDockerProvider(settings: DockerProviderSettings = {}): DockerProvider {
  const target = settings.docker ? describeInjected(settings.docker) : resolveDockerTarget(settings);
  const toolsImage = settings.ttlSidecarImage ?? DEFAULT_TOOLS_IMAGE;
  const stopGraceSeconds = settings.stopGraceSeconds ?? 10;
  const restartPolicy = settings.restartPolicy ?? { name: 'on-failure', maximumRetryCount: 3 };
  const publishHost = settings.publishHost ?? (target.isLocal ? '127.0.0.1' : '0.0.0.0');
  const pull = settings.pull ?? 'missing';
  if (!(Number.isFinite(stopGraceSeconds) && stopGraceSeconds >= 0)) {
    throw new ValidationError({ path: 'stopGraceSeconds', reason: 'must be 0 or more seconds' });
  }
  if (!RESTART_POLICIES.includes(restartPolicy.name)) {
    throw new ValidationError({
      path: 'restartPolicy.name',
      reason: `must be one of ${RESTART_POLICIES.join(', ')}`,
    });
  }
  if (toolsImage !== false && (typeof toolsImage !== 'string' || !toolsImage.trim())) {
    throw new ValidationError({ path: 'ttlSidecarImage', reason: 'must be an image reference, or false' });
  }
  if (pull !== 'missing' && pull !== 'always') {
    throw new ValidationError({ path: 'pull', reason: 'must be missing or always' });
  }
  const anyAddress = publishHost === '0.0.0.0' || publishHost === '::';
  const endpointHost = formatHost(
    anyAddress ? (target.isLocal ? '127.0.0.1' : (target.hostname ?? '127.0.0.1')) : publishHost,
  );
  const engine = createEngineClient(target, settings.docker);
  /**
   * The inspect a deploy made right after its start, for the first health check that follows (the
   * manager asks at once): one engine call less. Used once, and only within RECENT_MS.
   */
  const justStarted = new Map<string, { inspected: Dockerode.ContainerInspectInfo; at: number }>();
  /** Learned on the first deploy that asks for a disk limit: can the storage driver enforce one? */
  let storageLimits: boolean | undefined;

  /** False when the engine's storage driver is known not to limit disk; undefined when only a try can tell. */
  function storageLimitsPossible(info: {
    Driver?: string;
    DriverStatus?: [string, string][];
  }): false | undefined {
    const backing = info.DriverStatus?.find(([key]) => key === 'Backing Filesystem')?.[1];
    return info.Driver === 'overlay2' && backing !== undefined && backing !== 'xfs' ? false : undefined;
  }

  const factsFile = settings.cacheDir === undefined ? undefined : join(settings.cacheDir, ENGINE_FACTS_FILE);

  /** The engine's info as a deploy needs it, asked now. */
  async function askFacts(): Promise<EngineFacts> {
    const measuredAt = Date.now();
    const { info, clockOffsetMs } = await engine.connect();
    return {
      ncpu: info.NCPU,
      memTotal: info.MemTotal,
      osType: info.OSType,
      driver: info.Driver,
      storageLimits: storageLimitsPossible(info),
      clockOffsetMs,
      measuredAt,
    };
  }

  async function deploy(options: DeployOptionsV1, warnings: WarningV1[]): Promise<RemoteInstanceV1> {
    const { deploymentId, signal, onProgress, workload, resources } = options;
    // Values that must never surface in an error message.
    const redact = [...Object.values(options.secrets ?? {}), ...Object.values(workload.env)];
    // The engine's info and the images' inspects at once (info alone takes about 20 ms). Nothing is
    // created before they answer: a failure to reach the engine changed nothing.
    const lookups = Promise.all([
      engine.findImage(workload.image!, { redact }),
      toolsImage === false
        ? undefined
        : engine.findImage(toolsImage, { imageSetting: 'ttlSidecarImage', redact }),
    ]);
    lookups.catch(() => {});
    // What an earlier deploy of the hour learned of the engine stands in for its info, the slowest call
    // (about 10 ms, and it slows the engine's other answers), if the engine's clock still agrees: the Date
    // of the lookups' answers must fit the offset measured then (a jump of more than about a second does
    // not). Otherwise the info is asked, alongside the lookups.
    const known = factsFile ? readEngineFacts(factsFile, target.description, Date.now()) : undefined;
    let asking = known ? undefined : askFacts();
    asking?.catch(() => {});
    const [foundImage, foundTools] = await lookups.catch((error: unknown) => {
      throw markChangedNothing(error);
    });
    let facts = known && clockAgrees(known, engine.clockOffsetRange()) ? known : undefined;
    if (!facts) {
      asking ??= askFacts();
      facts = await asking.catch((error: unknown) => {
        throw markChangedNothing(error);
      });
      if (factsFile) writeEngineFacts(factsFile, target.description, facts);
    }
    throwIfAborted(signal);
    if (resources.cpu > facts.ncpu) {
      throw new CapacityError({
        provider: PROVIDER,
        message: `asks for ${resources.cpu} CPUs; the engine at ${target.description} has ${facts.ncpu}`,
      });
    }
    if (resources.memoryGb * GIB > facts.memTotal) {
      throw new CapacityError({
        provider: PROVIDER,
        message: `asks for ${resources.memoryGb} GiB of memory; the engine at ${target.description} has ${toGib(facts.memTotal)}`,
      });
    }
    if (toolsImage !== false && facts.osType !== 'linux') {
      throw new UnsupportedCapabilityError({
        provider: PROVIDER,
        capability: 'ttlOnTarget',
        message: `the ${facts.osType} engine at ${target.description} cannot run the deadline script (busybox); set ttlSidecarImage: false`,
      });
    }
    // overlay2 limits a container's disk only on xfs with project quotas: skip a create that would be refused.
    storageLimits ??= facts.storageLimits;
    const pulling = { pull, registryAuth: settings.registryAuth, redact, signal, onProgress };
    const created: string[] = [];
    try {
      // The workload's image and the deadline tools at once: both are usually one quick look each.
      const [image, toolsVolume] = await Promise.all([
        engine.ensureImage(workload.image!, { ...pulling, found: foundImage }),
        toolsImage === false
          ? undefined
          : engine
              // Pulled when missing, whatever `pull` says for the workload's image.
              .ensureImage(toolsImage, {
                ...pulling,
                pull: 'missing',
                found: foundTools,
                setting: 'ttlSidecarImage',
              })
              .then((inspected) => engine.ensureDeadlineTools(inspected, { redact })),
      ]);
      throwIfAborted(signal);
      onProgress?.({
        step: 'create',
        message: `creating ${workloadName(deploymentId)} from ${workload.image}`,
      });
      let deadline: { volume: string; deadlineSeconds: number; command: string[] } | undefined;
      if (toolsVolume) {
        const command = imageCommand(image, workload.command);
        if (command.length === 0) {
          throw new ValidationError({
            path: 'workload.image',
            reason: `${workload.image} has no ENTRYPOINT or CMD, and no command was given`,
          });
        }
        deadline = {
          volume: toolsVolume,
          deadlineSeconds: (options.expiresAt.getTime() + facts.clockOffsetMs) / 1000,
          command,
        };
      }
      const { toDockerHostConfig } = await import('@bp/resources');
      const createWorkload = (limitStorage: boolean) =>
        engine.createOnce(
          deploymentId,
          workloadCreateOptions(options, {
            limits: toDockerHostConfig(resources, { limitStorage }),
            publishHost,
            stopGraceSeconds,
            restartPolicy,
            deadline,
          }),
          redact,
        );
      const limitStorage = resources.storageGb > 0 && storageLimits !== false;
      let container = await createWorkload(limitStorage).catch((error: unknown) => {
        if (!limitStorage || !/storage-?opt/i.test(String((error as Error).message))) throw error;
        storageLimits = false;
        return undefined;
      });
      if (container && limitStorage) storageLimits = true;
      container ??= await createWorkload(false);
      if (container.created) created.push(container.id);
      if (resources.storageGb > 0 && storageLimits === false) {
        warnings.push({
          setting: 'resources.storageGb',
          message: `not enforced: the ${facts.driver} storage driver of ${target.description} cannot limit a container's disk`,
        });
      }
      // What the create taught about disk limits is kept with the facts.
      if (factsFile && storageLimits !== facts.storageLimits) {
        writeEngineFacts(factsFile, target.description, { ...facts, storageLimits });
      }
      throwIfAborted(signal);
      onProgress?.({
        step: container.created ? 'start' : 'reuse',
        message: container.created
          ? `starting ${workloadName(deploymentId)}`
          : `instance ${deploymentId} already exists`,
      });
      await engine.start(container.id, redact);
      const inspected = await engine.inspect(container.id);
      if (!inspected) {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'start container',
          message: `${workloadName(deploymentId)} vanished right after its start on ${target.description}`,
          isRetryable: true,
        });
      }
      justStarted.set(deploymentId, { inspected, at: Date.now() });
      return {
        deploymentId,
        resourceIds: [inspected.Id],
        endpoint: endpointOf(inspected, endpointHost),
        hourlyUsd: 0,
        reused: !container.created,
        warnings,
      };
    } catch (error) {
      // Nothing half-made stays behind; what an earlier call made is left to that call's owner.
      await Promise.allSettled(created.reverse().map((id) => engine.remove(id, {})));
      if (signal?.aborted) throw new AbortedError();
      throw error;
    }
  }

  async function requireWorkload(ref: InstanceRefV1) {
    throwIfAborted(ref.signal);
    const inspected = isDeploymentId(ref.deploymentId)
      ? await engine.inspect(workloadName(ref.deploymentId), ref.signal)
      : undefined;
    if (!inspected) throw new NotFoundError({ kind: 'instance', id: ref.deploymentId });
    const docker = await engine.client();
    return { inspected, container: docker.getContainer(inspected.Id) };
  }

  return {
    specificationVersion: 'v1',
    provider: PROVIDER,
    capabilities: {
      nativeCommand: false,
      containerImage: true,
      gpu: false,
      spot: false,
      logsFollow: true,
      ttlOnTarget: toolsImage !== false,
      tunnel: false,
      regions: false,
    },

    async deployInstance(options) {
      throwIfAborted(options.signal);
      return deploy(options, checkDeployOptions(options));
    },

    async getInstanceStatus({ deploymentId, signal }) {
      throwIfAborted(signal);
      if (!isDeploymentId(deploymentId)) return { state: 'gone' };
      const workload = await engine.inspect(workloadName(deploymentId), signal);
      return workload ? describeWorkload(workload, endpointHost) : { state: 'gone' };
    },

    async terminateInstance({ deploymentId, signal }) {
      throwIfAborted(signal);
      justStarted.delete(deploymentId);
      if (!isDeploymentId(deploymentId)) return;
      const found = await engine.list([`${TAG_LABELS.deployment}=${deploymentId}`]);
      await Promise.all(found.map((c) => engine.remove(c.Id, { stopGraceSeconds })));
      // Confirm before forget: an AutoRemove or a removal in progress may take a moment.
      const giveUpAt = Date.now() + stopGraceSeconds * 1000 + GONE_TIMEOUT_MS;
      while ((await engine.list([`${TAG_LABELS.deployment}=${deploymentId}`])).length) {
        if (Date.now() > giveUpAt) {
          throw new ProviderCallError({
            provider: PROVIDER,
            operation: 'remove container',
            message: `containers of ${deploymentId} are still on ${target.description} after removal`,
            isRetryable: true,
          });
        }
        await pause(POLL_MS, signal);
      }
    },

    async *logs(options: LogsOptionsV1): AsyncGenerator<LogEntryV1> {
      const { tail, since, follow, signal } = options;
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
        throw new ValidationError({ path: 'tail', reason: 'must be a whole number, 0 or more' });
      }
      const { container, inspected } = await requireWorkload(options);
      const query = {
        stdout: true,
        stderr: true,
        timestamps: true,
        ...(tail === undefined ? {} : { tail }),
        // The engine takes whole seconds; the reader drops what is older to the millisecond.
        since: since ? Math.floor(since.getTime() / 1000) : 0,
      };
      const tty = Boolean(inspected.Config.Tty);
      if (!follow) {
        const output: unknown = await engine.call('logs', () => container.logs({ ...query, follow: false }));
        const buffer = Buffer.isBuffer(output) ? output : Buffer.from(String(output ?? ''));
        yield* readDockerLogs([buffer], { tty, since });
        return;
      }
      const stream = (await engine.call('logs', () =>
        container.logs({ ...query, follow: true }),
      )) as IncomingMessage;
      const stop = () => stream.destroy();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        yield* readDockerLogs(stream, { tty, since });
      } catch (error) {
        if (signal?.aborted) return;
        throw mapDockerError(error, { operation: 'logs', target });
      } finally {
        signal?.removeEventListener('abort', stop);
        stream.destroy();
      }
    },

    async checkHealth({ deploymentId, path, timeoutMs, signal }) {
      throwIfAborted(signal);
      const recent = justStarted.get(deploymentId);
      justStarted.delete(deploymentId);
      const inspected =
        recent && Date.now() - recent.at < RECENT_MS
          ? recent.inspected
          : isDeploymentId(deploymentId)
            ? await engine.inspect(workloadName(deploymentId), signal)
            : undefined;
      if (!inspected) return { healthy: false, reason: `instance ${deploymentId} not found` };
      const status = describeWorkload(inspected, endpointHost);
      if (status.state !== 'running') {
        return {
          healthy: false,
          reason: `container ${status.state}: ${status.message ?? inspected.State.Status}`,
        };
      }
      if (!status.endpoint) return { healthy: false, reason: 'the container has no published port' };
      if (inspected.State.Health?.Status === 'unhealthy') {
        return { healthy: false, reason: 'docker healthcheck: unhealthy' };
      }
      const result = await checkHttpHealth(status.endpoint, path, { timeoutMs, signal });
      throwIfAborted(signal);
      return result;
    },

    async getAvailableResources(options = {}) {
      throwIfAborted(options.signal);
      const { info } = await engine.connect();
      // Free disk is only known for an engine whose data root this machine can see.
      const disk = target.isLocal ? await statfs(info.DockerRootDir).catch(() => undefined) : undefined;
      return {
        cpu: info.NCPU,
        memoryGb: toGib(info.MemTotal),
        storageGb: disk ? toGib(disk.bavail * disk.bsize) : 0,
        gpus: [],
      };
    },

    async estimateCost({ signal }) {
      throwIfAborted(signal);
      return { hourlyUsd: 0, totalUsd: 0, source: 'free: a Docker engine you already run' };
    },

    async listManagedResources(options = {}) {
      throwIfAborted(options.signal);
      const labels = [`${TAG_LABELS.managedBy}=bp`];
      if (options.owner !== undefined) labels.push(`${TAG_LABELS.owner}=${options.owner}`);
      const found = await engine.list(labels);
      return found
        .filter((container) => container.Labels[TAG_LABELS.deployment])
        .map((container) => {
          const expiry = container.Labels[TAG_LABELS.expiresAt];
          return {
            resourceId: container.Id,
            deploymentId: container.Labels[TAG_LABELS.deployment]!,
            expiresAt: expiry ? new Date(expiry) : undefined,
            owner: container.Labels[TAG_LABELS.owner],
            state: listedState(container.State),
          };
        });
    },

    async getInstanceStats(options) {
      const { container } = await requireWorkload(options);
      return toInstanceStats(await engine.call('stats', () => container.stats({ stream: false })));
    },
  };
}

/** How errors name an injected client's engine, and whether its ports are local. */
function describeInjected(docker: Dockerode): DockerTarget {
  const modem = docker.modem as { socketPath?: unknown; host?: string; port?: number };
  if (!modem.host) {
    const socketPath = typeof modem.socketPath === 'string' ? modem.socketPath : '/var/run/docker.sock';
    return { description: `unix://${socketPath}`, socketPath, source: 'settings.docker', isLocal: true };
  }
  return {
    description: `tcp://${formatHost(modem.host)}:${modem.port ?? ''}`,
    hostname: modem.host,
    port: modem.port,
    source: 'settings.docker',
    isLocal: /^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(modem.host),
  };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function toGib(bytes: number): number {
  return Math.round((bytes / GIB) * 100) / 100;
}

async function pause(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  try {
    await sleep(milliseconds, undefined, { signal });
  } catch {
    throw new AbortedError();
  }
}
