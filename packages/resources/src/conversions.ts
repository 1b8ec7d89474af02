import type { ResourceRequestV1 } from '@bp/provider';

/** A container's `resources` in a Kubernetes pod spec. */
export interface KubernetesResources {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

/** The resource fields of a Docker Engine API `HostConfig` (POST /containers/create). */
export interface DockerHostConfigResources {
  /** CPU quota in units of 1e-9 CPUs. */
  NanoCpus: number;
  /** Memory limit in bytes. */
  Memory: number;
  /** Root filesystem size, e.g. `{ size: '10G' }`; only with `limitStorage`. */
  StorageOpt?: { size: string };
  /** GPUs, requested from the NVIDIA runtime. */
  DeviceRequests?: { Driver: string; Count: number; Capabilities: string[][] }[];
}

/** A request in the units price catalogs use. */
export interface PricingUnits {
  /** vCPUs, rounded up to a thousandth. */
  vcpus: number;
  /** Memory in GiB, rounded up to a MiB. */
  memoryGb: number;
  /** Disk in GiB, rounded up to a MiB. */
  storageGb: number;
  gpuCount: number;
  /** Upper-case GPU model (`A100`), only when GPUs are requested. */
  gpuModel?: string;
}

const GIB = 1024 ** 3;

// Round to a thousandth of a step first, so float noise (0.29 * 1000 = 290.00000000000006) does not add a step.
const ceilTo = (value: number, steps: number) => Math.ceil(Math.round(value * steps * 1000) / 1000) / steps;

/** GiB as a binary quantity: whole GiB as `<n><gib>`, otherwise whole MiB (rounded up) as `<n><mib>`. */
function binaryQuantity(gib: number, gibSuffix: string, mibSuffix: string): string {
  const mib = ceilTo(gib, 1024) * 1024;
  return mib % 1024 === 0 ? `${mib / 1024}${gibSuffix}` : `${mib}${mibSuffix}`;
}

/**
 * Kubernetes container resources: CPU as cores or millicores (`2`, `500m`), memory
 * and ephemeral storage as `Gi`/`Mi`. Limits equal requests (the Guaranteed QoS
 * class), so the pod gets what was priced. GPUs go in limits as `nvidia.com/gpu`;
 * the GPU model is not a resource and needs a node selector.
 */
export function toKubernetesResources(request: ResourceRequestV1): KubernetesResources {
  const millicores = ceilTo(request.cpu, 1000) * 1000;
  const requests = {
    cpu: millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`,
    memory: binaryQuantity(request.memoryGb, 'Gi', 'Mi'),
    'ephemeral-storage': binaryQuantity(request.storageGb, 'Gi', 'Mi'),
  };
  const limits: Record<string, string> = { ...requests };
  if (request.gpuCount > 0) limits['nvidia.com/gpu'] = String(request.gpuCount);
  return { requests, limits };
}

/**
 * Docker Engine API HostConfig resource fields. `StorageOpt` is only set with
 * `limitStorage`, because engines whose storage driver cannot size a container's
 * filesystem (overlay2 without xfs project quotas, the common default) refuse to
 * create the container. The GPU model cannot be chosen here.
 */
export function toDockerHostConfig(
  request: ResourceRequestV1,
  options: { limitStorage?: boolean } = {},
): DockerHostConfigResources {
  const hostConfig: DockerHostConfigResources = {
    NanoCpus: Math.round(request.cpu * 1e9),
    Memory: Math.round(request.memoryGb * GIB),
  };
  // Docker parses the size with binary units, so `G` here is GiB.
  if (options.limitStorage) hostConfig.StorageOpt = { size: binaryQuantity(request.storageGb, 'G', 'M') };
  if (request.gpuCount > 0) {
    hostConfig.DeviceRequests = [{ Driver: 'nvidia', Count: request.gpuCount, Capabilities: [['gpu']] }];
  }
  return hostConfig;
}

/** The request in price-catalog units: vCPUs, GiB and an upper-case GPU model. */
export function toPricingUnits(request: ResourceRequestV1): PricingUnits {
  const units: PricingUnits = {
    vcpus: ceilTo(request.cpu, 1000),
    memoryGb: ceilTo(request.memoryGb, 1024),
    storageGb: ceilTo(request.storageGb, 1024),
    gpuCount: request.gpuCount,
  };
  if (request.gpuCount > 0 && request.gpuModel) units.gpuModel = request.gpuModel.trim().toUpperCase();
  return units;
}
