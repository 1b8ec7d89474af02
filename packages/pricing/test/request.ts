import type { ResourceRequestV1 } from '@bp/provider';

/** A resource request for the tests: 2 vCPU, 8 GiB, no disk, no GPU, no spot, unless overridden. */
export const request = (overrides: Partial<ResourceRequestV1> = {}): ResourceRequestV1 => ({
  cpu: 2,
  memoryGb: 8,
  storageGb: 0,
  gpuCount: 0,
  spot: false,
  ...overrides,
});
