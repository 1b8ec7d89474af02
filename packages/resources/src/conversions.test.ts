import type { ResourceRequestV1 } from '@bp/provider';
import { describe, expect, it } from 'vitest';
import { toDockerHostConfig, toKubernetesResources, toPricingUnits } from './conversions.js';

const SMALL: ResourceRequestV1 = { cpu: 0.5, memoryGb: 0.5, storageGb: 1, gpuCount: 0, spot: false };
const GPU: ResourceRequestV1 = {
  cpu: 8,
  memoryGb: 32,
  storageGb: 100,
  gpuCount: 2,
  gpuModel: 'a100',
  spot: true,
};

describe('toKubernetesResources', () => {
  it('writes millicores and binary quantities, limits equal to requests', () => {
    const requests = { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '1Gi' };
    expect(toKubernetesResources(SMALL)).toEqual({ requests, limits: requests });
  });

  it('writes whole cores and GiB plainly, and GPUs in limits', () => {
    expect(toKubernetesResources(GPU)).toEqual({
      requests: { cpu: '8', memory: '32Gi', 'ephemeral-storage': '100Gi' },
      limits: { cpu: '8', memory: '32Gi', 'ephemeral-storage': '100Gi', 'nvidia.com/gpu': '2' },
    });
  });

  it('rounds up to the next millicore and MiB, without float noise', () => {
    const request = { ...SMALL, cpu: 0.29, memoryGb: 0.3, storageGb: 1.5 };
    expect(toKubernetesResources(request).requests).toEqual({
      cpu: '290m',
      memory: '308Mi',
      'ephemeral-storage': '1536Mi',
    });
    expect(toKubernetesResources({ ...SMALL, cpu: 0.0001 }).requests.cpu).toBe('1m');
  });
});

describe('toDockerHostConfig', () => {
  it('writes NanoCpus and Memory in bytes', () => {
    expect(toDockerHostConfig(SMALL)).toEqual({ NanoCpus: 500_000_000, Memory: 536_870_912 });
  });

  it('adds StorageOpt only when asked, and DeviceRequests for GPUs', () => {
    expect(toDockerHostConfig(GPU, { limitStorage: true })).toEqual({
      NanoCpus: 8_000_000_000,
      Memory: 34_359_738_368,
      StorageOpt: { size: '100G' },
      DeviceRequests: [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }],
    });
    expect(toDockerHostConfig({ ...SMALL, storageGb: 0.5 }, { limitStorage: true }).StorageOpt).toEqual({
      size: '512M',
    });
  });
});

describe('toPricingUnits', () => {
  it('normalizes to vCPUs, GiB and an upper-case GPU model', () => {
    expect(toPricingUnits(GPU)).toEqual({
      vcpus: 8,
      memoryGb: 32,
      storageGb: 100,
      gpuCount: 2,
      gpuModel: 'A100',
    });
    expect(toPricingUnits({ ...SMALL, cpu: 0.29, memoryGb: 0.3 })).toEqual({
      vcpus: 0.29,
      memoryGb: 308 / 1024,
      storageGb: 1,
      gpuCount: 0,
    });
  });

  it('drops a GPU model when no GPUs are requested', () => {
    expect(toPricingUnits({ ...SMALL, gpuModel: 'A100' })).not.toHaveProperty('gpuModel');
  });
});
