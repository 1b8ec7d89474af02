import { describe, expect, it } from 'vitest';
import { type ResourceSpec, resolveResources, resourceSpecSchema } from './resource-spec.js';
import { caught, expectValidationError } from './test-helpers.js';

const SPEC: ResourceSpec = {
  minCpu: 4,
  minMemoryGb: 8,
  minStorageGb: 20,
  recommendedCpu: 8,
  recommendedMemoryGb: 16,
  recommendedStorageGb: 50,
  gpuCount: 0,
  allowSpot: false,
};

describe('resourceSpecSchema', () => {
  it('turns the manifest table into a ResourceSpec with defaults', () => {
    expect(resourceSpecSchema().parse({ min_cpu: 0.5, min_memory_gb: 1, min_storage_gb: 10 })).toMatchObject({
      minCpu: 0.5,
      minMemoryGb: 1,
      minStorageGb: 10,
      gpuCount: 0,
      allowSpot: false,
    });
  });

  it('refuses camelCase keys, which are not the manifest spelling', () => {
    expect(resourceSpecSchema().safeParse({ minCpu: 1, min_memory_gb: 1, min_storage_gb: 1 }).success).toBe(
      false,
    );
  });
});

describe('resolveResources', () => {
  it('uses recommended values by default', () => {
    expect(resolveResources(SPEC)).toEqual({ cpu: 8, memoryGb: 16, storageGb: 50, gpuCount: 0, spot: false });
  });

  it('uses the minimums in min mode', () => {
    expect(resolveResources(SPEC, {}, 'min')).toEqual({
      cpu: 4,
      memoryGb: 8,
      storageGb: 20,
      gpuCount: 0,
      spot: false,
    });
  });

  it('falls back to each minimum when a recommended value is absent', () => {
    const spec = { ...SPEC, recommendedMemoryGb: undefined, recommendedStorageGb: undefined };
    expect(resolveResources(spec)).toMatchObject({ cpu: 8, memoryGb: 8, storageGb: 20 });
  });

  it('applies overrides at or above the minimums', () => {
    expect(
      resolveResources(SPEC, { cpu: 4, memoryGb: 32, storageGb: 20, gpuCount: 2, gpuModel: 'H100' }),
    ).toEqual({
      cpu: 4,
      memoryGb: 32,
      storageGb: 20,
      gpuCount: 2,
      gpuModel: 'H100',
      spot: false,
    });
  });

  it('carries the GPU model and lets --gpu-model replace it', () => {
    const spec = { ...SPEC, gpuCount: 1, gpuModel: 'A100' };
    expect(resolveResources(spec)).toMatchObject({ gpuCount: 1, gpuModel: 'A100' });
    expect(resolveResources(spec, { gpuModel: 'L4' })).toMatchObject({ gpuCount: 1, gpuModel: 'L4' });
  });

  it('uses spot only when asked for and allowed', () => {
    const spotSpec = { ...SPEC, allowSpot: true };
    expect(resolveResources(spotSpec).spot).toBe(false);
    expect(resolveResources(spotSpec, { spot: false }).spot).toBe(false);
    expect(resolveResources(spotSpec, { spot: true }).spot).toBe(true);
    expect(resolveResources(SPEC, { spot: false }).spot).toBe(false);
  });

  const refusals: [string, Parameters<typeof resolveResources>[1], ResourceSpec, string, string][] = [
    ['--cpu below min_cpu', { cpu: 2 }, SPEC, '--cpu', "2 is below the blueprint's min_cpu 4"],
    [
      '--memory below min_memory_gb',
      { memoryGb: 4 },
      SPEC,
      '--memory',
      "4 is below the blueprint's min_memory_gb 8",
    ],
    [
      '--storage below min_storage_gb',
      { storageGb: 10 },
      SPEC,
      '--storage',
      "10 is below the blueprint's min_storage_gb 20",
    ],
    [
      '--gpu below gpu_count',
      { gpuCount: 0 },
      { ...SPEC, gpuCount: 1 },
      '--gpu',
      "0 is below the blueprint's gpu_count 1",
    ],
    ['negative --cpu', { cpu: -1 }, SPEC, '--cpu', 'expected a number above 0, got -1'],
    ['zero --memory', { memoryGb: 0 }, SPEC, '--memory', 'expected a number above 0, got 0'],
    [
      'infinite --storage',
      { storageGb: Number.POSITIVE_INFINITY },
      SPEC,
      '--storage',
      'expected a number above 0, got Infinity',
    ],
    ['NaN --cpu', { cpu: Number.NaN }, SPEC, '--cpu', 'expected a number above 0, got NaN'],
    ['fractional --gpu', { gpuCount: 1.5 }, SPEC, '--gpu', 'expected a whole number, 0 or more, got 1.5'],
    ['negative --gpu', { gpuCount: -1 }, SPEC, '--gpu', 'expected a whole number, 0 or more, got -1'],
    [
      '--gpu-model without GPUs',
      { gpuModel: 'A100' },
      SPEC,
      '--gpu-model',
      'needs at least one GPU (--gpu or gpu_count)',
    ],
    ['empty --gpu-model', { gpuModel: ' ' }, { ...SPEC, gpuCount: 1 }, '--gpu-model', 'must not be empty'],
    [
      '--spot when allow_spot is false',
      { spot: true },
      SPEC,
      '--spot',
      'the blueprint does not allow spot capacity (allow_spot = false)',
    ],
  ];

  it.each(refusals)('refuses %s', (_case, overrides, spec, path, reason) => {
    expectValidationError(
      caught(() => resolveResources(spec, overrides)),
      { path, reason },
    );
  });
});
