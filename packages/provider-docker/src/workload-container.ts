import { type DeployOptionsV1, type InstanceStatusV1, TAG_LABELS, TAGS } from '@bp/provider';
import type { toDockerHostConfig } from '@bp/resources';
import type Dockerode from 'dockerode';
import { deadlineEntrypoint, toolsMount } from './deadline-wrapper.js';

/** What a container or volume of bp's is for: a deployment's workload, or the deadline tools. */
export const ROLE_LABEL = 'bp-role';
const NAME_LABEL = 'bp-name';

/** The workload's container name: the idempotency key of a deploy. */
export function workloadName(deploymentId: string): string {
  // bp's own ids already read `bp-…`; other callers' ids get the prefix, so every container of bp's starts with it.
  return deploymentId.startsWith('bp-') ? deploymentId : `bp-${deploymentId}`;
}

/** bp's tags as labels (`:` spelled `-`), the deployment's name and the container's role. Never env or secrets. */
export function labelsFor(options: DeployOptionsV1, role: 'workload'): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.tags)) labels[key.replaceAll(':', '-')] = value;
  const owner = options.tags[TAGS.owner];
  return {
    ...labels,
    [TAG_LABELS.deployment]: options.deploymentId,
    [TAG_LABELS.expiresAt]: options.expiresAt.toISOString(),
    [TAG_LABELS.managedBy]: 'bp',
    ...(owner ? { [TAG_LABELS.owner]: owner } : {}),
    [NAME_LABEL]: options.name,
    [ROLE_LABEL]: role,
  };
}

/** The workload's create options: limits, labels, env and secrets, published port, restart policy, deadline. */
export function workloadCreateOptions(
  options: DeployOptionsV1,
  settings: {
    /** The resource limits, from @bp/resources (loaded on first deploy: it is not cheap to import). */
    limits: ReturnType<typeof toDockerHostConfig>;
    publishHost: string;
    stopGraceSeconds: number;
    restartPolicy: { name: string; maximumRetryCount?: number };
    /** The deadline script's tools volume, the deadline on the engine's clock and what the image runs; none without. */
    deadline?: { volume: string; deadlineSeconds: number; command: string[] };
  },
): Dockerode.ContainerCreateOptions {
  const { deploymentId, workload } = options;
  const { limits } = settings;
  const port = `${workload.port}/tcp`;
  const env = {
    ...workload.env,
    ...options.secrets,
    PORT: String(workload.port),
    BP_DEPLOYMENT_ID: deploymentId,
  };
  const { name, maximumRetryCount } = settings.restartPolicy;
  const { deadline } = settings;
  return {
    name: workloadName(deploymentId),
    Image: workload.image,
    ...(deadline
      ? {
          Entrypoint: deadlineEntrypoint({
            deadlineSeconds: deadline.deadlineSeconds,
            graceSeconds: settings.stopGraceSeconds,
            command: deadline.command,
          }),
          Cmd: [],
        }
      : { Cmd: workload.command }),
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: labelsFor(options, 'workload'),
    ExposedPorts: { [port]: {} },
    StopTimeout: settings.stopGraceSeconds,
    HostConfig: {
      ...limits,
      // Without it the engine allows as much swap again as memory.
      MemorySwap: limits.Memory,
      PortBindings: { [port]: [{ HostIp: settings.publishHost, HostPort: '' }] },
      RestartPolicy: { Name: name, MaximumRetryCount: name === 'on-failure' ? (maximumRetryCount ?? 3) : 0 },
      // The engine's init (tini) as PID 1: the deadline script's service is its child (deadline-wrapper.ts).
      ...(deadline ? { Mounts: [toolsMount(deadline.volume)], Init: true } : {}),
    },
  };
}

/** The URL of the workload's published port, when the engine has bound one (only while it runs). */
export function endpointOf(
  inspected: Dockerode.ContainerInspectInfo,
  endpointHost: string,
): string | undefined {
  const exposed = Object.keys(inspected.Config.ExposedPorts ?? {}).find((key) => key.endsWith('/tcp'));
  const binding = exposed ? inspected.NetworkSettings?.Ports?.[exposed]?.[0] : undefined;
  return binding?.HostPort ? `http://${endpointHost}:${binding.HostPort}` : undefined;
}

/** The spec's view of the workload container's state, with the engine's own exit code and reason. */
export function describeWorkload(
  inspected: Dockerode.ContainerInspectInfo,
  endpointHost: string,
): InstanceStatusV1 {
  const { State: state } = inspected;
  const expiry = inspected.Config.Labels?.[TAG_LABELS.expiresAt];
  const expiresAt = expiry ? new Date(expiry) : undefined;
  const known = { endpoint: endpointOf(inspected, endpointHost), expiresAt };
  switch (state.Status) {
    case 'created':
      return { ...known, state: 'starting' };
    case 'restarting':
      // After the expiry the deadline script runs nothing, however often the engine restarts it.
      if (expiresAt !== undefined && Date.now() > expiresAt.getTime())
        return restartedAfterExpiry(known, expiresAt, state);
      return {
        ...known,
        state: 'starting',
        message: `restarting after exit code ${state.ExitCode} (restart ${inspected.RestartCount})`,
      };
    case 'running':
    case 'paused': {
      // Started again after its expiry (a restart policy): the deadline script is about to exit, running nothing.
      if (expiresAt !== undefined && Date.parse(state.StartedAt) >= expiresAt.getTime()) {
        return restartedAfterExpiry(known, expiresAt, state);
      }
      const health = state.Health?.Status;
      const message = state.Paused
        ? 'paused'
        : health && health !== 'none'
          ? `docker healthcheck: ${health}`
          : undefined;
      return { ...known, state: 'running', message };
    }
    case 'removing':
      return { ...known, state: 'stopping' };
    default: {
      const expired = expiresAt !== undefined && Date.parse(state.FinishedAt) >= expiresAt.getTime() - 1000;
      const message = state.OOMKilled
        ? `killed: out of memory (limit ${Math.round((inspected.HostConfig.Memory ?? 0) / 2 ** 20)} MiB)`
        : expired
          ? `stopped at its expiry ${expiresAt.toISOString()}`
          : state.Error || `exited with code ${state.ExitCode}`;
      return { ...known, state: 'exited', exitCode: state.ExitCode, message };
    }
  }
}

function restartedAfterExpiry(
  known: Pick<InstanceStatusV1, 'endpoint' | 'expiresAt'>,
  expiresAt: Date,
  state: Dockerode.ContainerInspectInfo['State'],
): InstanceStatusV1 {
  return {
    ...known,
    state: 'exited',
    exitCode: state.ExitCode,
    message: `stopped at its expiry ${expiresAt.toISOString()} (the engine's restart policy restarts it to run nothing)`,
  };
}

/** The spec's state of a container as the engine lists it. */
export function listedState(state: string): InstanceStatusV1['state'] {
  if (state === 'running' || state === 'paused') return 'running';
  if (state === 'created' || state === 'restarting') return 'starting';
  if (state === 'removing') return 'stopping';
  return 'exited';
}

/** One sample of the engine's stats of a container. */
export interface DockerInstanceStats {
  /** CPU use in percent of one CPU (200 = two CPUs busy). */
  cpuPercent: number;
  /** Memory in use, without the page cache. */
  memoryBytes: number;
  /** The memory limit the engine enforces. */
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
  pids: number;
}

export function toInstanceStats(stats: Dockerode.ContainerStats): DockerInstanceStats {
  const cpu = stats.cpu_stats;
  const previous = stats.precpu_stats;
  const cpuDelta = cpu.cpu_usage.total_usage - (previous?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - (previous?.system_cpu_usage ?? 0);
  const cpus = cpu.online_cpus || cpu.cpu_usage.percpu_usage?.length || 1;
  const memory = stats.memory_stats;
  const cache = memory.stats?.inactive_file ?? memory.stats?.cache ?? 0;
  const networks = Object.values(stats.networks ?? {});
  return {
    cpuPercent: systemDelta > 0 ? Math.round((cpuDelta / systemDelta) * cpus * 10_000) / 100 : 0,
    memoryBytes: Math.max(0, (memory.usage ?? 0) - cache),
    memoryLimitBytes: memory.limit ?? 0,
    networkRxBytes: networks.reduce((sum, network) => sum + network.rx_bytes, 0),
    networkTxBytes: networks.reduce((sum, network) => sum + network.tx_bytes, 0),
    pids: stats.pids_stats?.current ?? 0,
  };
}
