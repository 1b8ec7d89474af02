/**
 * The bp provider specification, version 1. A provider is a place that can run
 * blueprint instances: this machine, a Docker engine, SSH hosts, a Kubernetes
 * cluster, a cloud. Every call takes an AbortSignal; every error is one of the
 * classes in `errors.ts`.
 */

/** Tag keys bp puts on everything it creates. Where `:` is not allowed, use {@link TAG_LABELS}. */
export const TAGS = {
  deployment: 'bp:deployment',
  expiresAt: 'bp:expires-at',
  managedBy: 'bp:managed-by',
  owner: 'bp:owner',
} as const;

/** The same tags spelled as labels, for targets whose keys cannot hold `:` (Docker, Kubernetes, GCP). */
export const TAG_LABELS = {
  deployment: 'bp-deployment',
  expiresAt: 'bp-expires-at',
  managedBy: 'bp-managed-by',
  owner: 'bp-owner',
} as const;

/** Builds bp's tag set for a deployment. */
export function deploymentTags(options: {
  deploymentId: string;
  expiresAt: Date;
  owner: string;
}): Record<string, string> {
  return {
    [TAGS.deployment]: options.deploymentId,
    [TAGS.expiresAt]: options.expiresAt.toISOString(),
    [TAGS.managedBy]: 'bp',
    [TAGS.owner]: options.owner,
  };
}

/** What a provider can do. The manager checks these before it calls. */
export interface ProviderCapabilitiesV1 {
  /** Runs a native command (`blueprint.command`) rather than only images. */
  readonly nativeCommand: boolean;
  /** Runs container images (`blueprint.image`). */
  readonly containerImage: boolean;
  /** Can attach GPUs. */
  readonly gpu: boolean;
  /** Can run on spot / preemptible capacity. */
  readonly spot: boolean;
  /** `logs({ follow: true })` streams new lines as they are written. */
  readonly logsFollow: boolean;
  /** The instance stops itself at its expiry even if bp never runs again. */
  readonly ttlOnTarget: boolean;
  /** Implements {@link RemoteProviderV1.establishTunnel}. */
  readonly tunnel: boolean;
  /** Has regions (clouds); `false` for hosts, engines and this machine. */
  readonly regions: boolean;
}

/** The compute a deployment asks for; the resolved (min or recommended) values of a ResourceSpec. */
export interface ResourceRequestV1 {
  /** Virtual CPUs; fractions allowed (0.5). */
  cpu: number;
  /** Memory in GiB. */
  memoryGb: number;
  /** Disk in GiB. */
  storageGb: number;
  /** Number of GPUs; 0 for none. */
  gpuCount: number;
  /** GPU model, e.g. `A100`, when one is required. */
  gpuModel?: string;
  /** Spot / preemptible capacity is acceptable. */
  spot: boolean;
}

/** What runs: an image or a command, and how to reach and check it. */
export interface WorkloadV1 {
  /** Container image reference. At least one of `image` and `command` is set. */
  image?: string;
  /** Native command and arguments, run without a shell. */
  command?: string[];
  /** Directory the native command runs in (the blueprint's directory). */
  workingDirectory?: string;
  /** The port the service listens on inside its own network. */
  port: number;
  /** HTTP path that answers 2xx when healthy, e.g. `/health`. */
  healthPath: string;
  /** Plain environment settings (no secrets). */
  env: Record<string, string>;
}

/** A progress event a provider reports during a long call. */
export interface ProgressEventV1 {
  /** Short machine-readable step, e.g. `pull`, `create`, `start`. */
  step: string;
  /** One human line. */
  message: string;
}

/** Something the provider could not honour exactly; never a silent drop. */
export interface WarningV1 {
  /** The setting concerned, e.g. `resources.storageGb`. */
  setting: string;
  message: string;
}

/** Arguments to {@link RemoteProviderV1.deployInstance}. */
export interface DeployOptionsV1 {
  /** bp's deployment id; also the idempotency key: a retry with the same id finds what exists. */
  deploymentId: string;
  /** Human name of the deployment (`package.name` or `--name`). */
  name: string;
  workload: WorkloadV1;
  resources: ResourceRequestV1;
  /** When the deployment must be gone. Providers with `ttlOnTarget` enforce it on the target. */
  expiresAt: Date;
  /** bp's tags (see {@link deploymentTags}); put on every created resource. */
  tags: Record<string, string>;
  /** Secret environment values. Never logged, stored or echoed. */
  secrets?: Record<string, string>;
  /** Region, for providers with regions. */
  region?: string;
  /** Instance type chosen by the caller, for providers with instance types. */
  instanceType?: string;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEventV1) => void;
}

/** What {@link RemoteProviderV1.deployInstance} created. */
export interface RemoteInstanceV1 {
  deploymentId: string;
  /** Provider resource ids (container ids, instance ids, process ids...), to store at once. */
  resourceIds: string[];
  /** URL a client on bp's machine uses to reach the service, e.g. `http://127.0.0.1:41234`. */
  endpoint?: string;
  region?: string;
  instanceType?: string;
  /** List price per hour in USD, when known. */
  hourlyUsd?: number;
  /** True when the call found an existing instance for this id instead of creating one. */
  reused: boolean;
  warnings: WarningV1[];
}

/** Identifies an instance for status, terminate, logs and health. */
export interface InstanceRefV1 {
  deploymentId: string;
  /** The resource ids returned by deploy, when known. Providers must also work from the id alone. */
  resourceIds?: string[];
  region?: string;
  signal?: AbortSignal;
}

/**
 * Runtime state of an instance, as the provider sees it.
 * `gone` means the provider has nothing left for this deployment.
 */
export type InstanceStateV1 = 'starting' | 'running' | 'stopping' | 'exited' | 'gone';

/** Arguments to {@link RemoteProviderV1.getInstanceStatus}. */
export interface InstanceStatusV1 {
  state: InstanceStateV1;
  endpoint?: string;
  /** Exit code when `state` is `exited`. */
  exitCode?: number;
  /** A short explanation (signal, OOM, expiry...). */
  message?: string;
  /** The expiry the target itself enforces, when it has one. */
  expiresAt?: Date;
}

/** Arguments to {@link RemoteProviderV1.logs}. */
export interface LogsOptionsV1 extends InstanceRefV1 {
  /** Keep streaming new lines until the signal aborts or the instance stops. */
  follow?: boolean;
  /** Only lines written at or after this time. */
  since?: Date;
  /** Only the last N lines (before following). */
  tail?: number;
}

/** One log line. */
export interface LogEntryV1 {
  timestamp: Date;
  stream: 'stdout' | 'stderr' | 'system';
  message: string;
}

/** Result of {@link RemoteProviderV1.checkHealth}. */
export interface HealthResultV1 {
  healthy: boolean;
  /** HTTP status of the health request, when one was answered. */
  statusCode?: number;
  /** Why it is not healthy. */
  reason?: string;
  /** Round trip in milliseconds. */
  latencyMs?: number;
}

/** What a provider can offer right now. */
export interface AvailableResourcesV1 {
  cpu: number;
  memoryGb: number;
  storageGb: number;
  gpus: { model: string; count: number }[];
  regions?: string[];
}

/** Arguments to {@link RemoteProviderV1.estimateCost}. */
export interface CostEstimateOptionsV1 {
  resources: ResourceRequestV1;
  region?: string;
  /** Duration to price, in hours. */
  durationHours: number;
  signal?: AbortSignal;
}

/** A price. */
export interface CostEstimateV1 {
  hourlyUsd: number;
  totalUsd: number;
  instanceType?: string;
  region?: string;
  /** Where the price comes from, e.g. `free: this machine`, `catalog aws 2026-10-01`. */
  source: string;
}

/** A resource carrying bp's tags, found by {@link RemoteProviderV1.listManagedResources}. */
export interface ManagedResourceV1 {
  resourceId: string;
  deploymentId: string;
  expiresAt?: Date;
  owner?: string;
  region?: string;
  state: InstanceStateV1;
}

/** Arguments to {@link RemoteProviderV1.establishTunnel}. */
export interface TunnelOptionsV1 extends InstanceRefV1 {
  /** The WireGuard public key of the peer joining the instance. */
  peerPublicKey: string;
  /** The address the instance gets inside the tunnel network, CIDR notation. */
  address: string;
}

/** A tunnel endpoint on the instance. */
export interface TunnelV1 {
  publicKey: string;
  endpoint: string;
  address: string;
}

/** A place that can run blueprint instances: a cloud, a cluster, a host, this machine. */
export interface RemoteProviderV1 {
  readonly specificationVersion: 'v1';
  /** Stable provider id, e.g. `local`, `docker`, `aws`. */
  readonly provider: string;
  /** What this provider supports; the manager checks before calling. */
  readonly capabilities: ProviderCapabilitiesV1;
  /**
   * Creates (or, for a deployment id it already has, finds) the instance and
   * returns as soon as it exists. Does not wait for health: the manager does.
   */
  deployInstance(options: DeployOptionsV1): Promise<RemoteInstanceV1>;
  /** Live state of an instance; `gone` when nothing is left. Never throws NotFoundError. */
  getInstanceStatus(options: InstanceRefV1): Promise<InstanceStatusV1>;
  /** Starts removing everything the deployment created. Idempotent: terminating a gone instance succeeds. */
  terminateInstance(options: InstanceRefV1): Promise<void>;
  /** The service's output, oldest first; with `follow`, continues until the signal aborts or the instance stops. */
  logs(options: LogsOptionsV1): AsyncIterable<LogEntryV1>;
  /** One HTTP health check of the instance's health path, from where bp runs. */
  checkHealth(options: InstanceRefV1 & { path: string; timeoutMs?: number }): Promise<HealthResultV1>;
  /** What the target can offer now. */
  getAvailableResources(options?: { region?: string; signal?: AbortSignal }): Promise<AvailableResourcesV1>;
  /** The price of running the request for a duration. */
  estimateCost(options: CostEstimateOptionsV1): Promise<CostEstimateV1>;
  /** Every resource carrying bp's tags, for `bp reconcile`. */
  listManagedResources(options?: {
    owner?: string;
    region?: string;
    signal?: AbortSignal;
  }): Promise<ManagedResourceV1[]>;
  /** Optional (`capabilities.tunnel`): opens a WireGuard endpoint on the instance. */
  establishTunnel?(options: TunnelOptionsV1): Promise<TunnelV1>;
}
