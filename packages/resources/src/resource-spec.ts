import { createRequire } from 'node:module';
import { type ResourceRequestV1, ValidationError } from '@bp/provider';
import type { z } from 'zod';

/** The compute a blueprint needs, from `[blueprint.resources]`. Sizes in GiB, CPU in vCPUs. */
export interface ResourceSpec {
  /** The fewest vCPUs the service runs with; fractions allowed (0.25). */
  minCpu: number;
  /** The least memory the service runs with, in GiB. */
  minMemoryGb: number;
  /** The least disk the service runs with, in GiB. */
  minStorageGb: number;
  /** vCPUs to ask for by default; at least `minCpu`. */
  recommendedCpu?: number;
  /** Memory to ask for by default, in GiB; at least `minMemoryGb`. */
  recommendedMemoryGb?: number;
  /** Disk to ask for by default, in GiB; at least `minStorageGb`. */
  recommendedStorageGb?: number;
  /** GPUs required; 0 (the default) for none. */
  gpuCount: number;
  /** GPU model, e.g. `A100`; only with `gpuCount` of 1 or more. */
  gpuModel?: string;
  /** Spot / preemptible capacity is acceptable. Defaults to false. */
  allowSpot: boolean;
}

/** The zod functions bp's schemas use (see zod-runtime.ts). */
export type ZodRuntime = typeof import('./zod-runtime.js');

/**
 * zod, loaded on first use: commands that only resolve resources or parse durations skip its start-up
 * cost. Built, it is the bundled dist/zod-runtime.cjs; from source (tests), the same file as TypeScript.
 */
export function loadZod(): ZodRuntime {
  zodModule ??= createRequire(import.meta.url)(
    import.meta.url.endsWith('.ts') ? './zod-runtime.ts' : './zod-runtime.cjs',
  ) as ZodRuntime;
  return zodModule;
}
let zodModule: ZodRuntime | undefined;

function buildResourceSpecSchema() {
  const z = loadZod();
  const positive = () => z.number().positive({ error: 'must be above 0' });

  /**
   * Validates a `[blueprint.resources]` table as written in the manifest (snake_case
   * keys such as `min_cpu`) and outputs a {@link ResourceSpec} (camelCase). Unknown
   * keys, wrong types, sizes of 0 or less, a fractional `gpu_count`, a minimum above
   * its recommended value and `gpu_model` without a GPU are refused.
   */
  return z
    .strictObject({
      min_cpu: positive(),
      min_memory_gb: positive(),
      min_storage_gb: positive(),
      recommended_cpu: positive().optional(),
      recommended_memory_gb: positive().optional(),
      recommended_storage_gb: positive().optional(),
      gpu_count: z.int().nonnegative({ error: 'must be 0 or more' }).default(0),
      gpu_model: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
      allow_spot: z.boolean().default(false),
    })
    .superRefine((table, context) => {
      for (const name of ['cpu', 'memory_gb', 'storage_gb'] as const) {
        const minimum = table[`min_${name}`];
        const recommended = table[`recommended_${name}`];
        if (recommended !== undefined && minimum > recommended) {
          context.addIssue({
            code: 'custom',
            path: [`min_${name}`],
            message: `${minimum} is above recommended_${name} ${recommended}`,
          });
        }
      }
      if (table.gpu_model !== undefined && table.gpu_count < 1) {
        context.addIssue({ code: 'custom', path: ['gpu_model'], message: 'needs gpu_count of 1 or more' });
      }
    })
    .transform(
      (table): ResourceSpec => ({
        minCpu: table.min_cpu,
        minMemoryGb: table.min_memory_gb,
        minStorageGb: table.min_storage_gb,
        recommendedCpu: table.recommended_cpu,
        recommendedMemoryGb: table.recommended_memory_gb,
        recommendedStorageGb: table.recommended_storage_gb,
        gpuCount: table.gpu_count,
        gpuModel: table.gpu_model,
        allowSpot: table.allow_spot,
      }),
    );
}

let resourceSpecSchemaCache: ReturnType<typeof buildResourceSpecSchema> | undefined;

/**
 * The zod schema of a `[blueprint.resources]` table as written in the manifest (snake_case
 * keys such as `min_cpu`), whose output is a {@link ResourceSpec} (camelCase). Unknown
 * keys, wrong types, sizes of 0 or less, a fractional `gpu_count`, a minimum above its
 * recommended value and `gpu_model` without a GPU are refused. Built on first use.
 */
export function resourceSpecSchema(): ReturnType<typeof buildResourceSpecSchema> {
  resourceSpecSchemaCache ??= buildResourceSpecSchema();
  return resourceSpecSchemaCache;
}

/** `[blueprint.resources]` as written in the manifest, before defaults. */
export type ResourceSpecInput = z.input<ReturnType<typeof buildResourceSpecSchema>>;

/** Command-line overrides of a blueprint's resources (`--cpu`, `--memory`, `--storage`, `--gpu`, `--gpu-model`, `--spot`). */
export interface ResourceOverrides {
  /** vCPUs; at least the blueprint's `min_cpu`. */
  cpu?: number;
  /** Memory in GiB; at least the blueprint's `min_memory_gb`. */
  memoryGb?: number;
  /** Disk in GiB; at least the blueprint's `min_storage_gb`. */
  storageGb?: number;
  /** GPUs; at least the blueprint's `gpu_count`. */
  gpuCount?: number;
  /** GPU model, replacing the blueprint's `gpu_model`. */
  gpuModel?: string;
  /** Ask for spot capacity (refused when the blueprint's `allow_spot` is false) or refuse it. */
  spot?: boolean;
}

function checkOverride(flag: string, value: number, minimum: number, key: string, integer = false): number {
  const valid = Number.isFinite(value) && (integer ? Number.isInteger(value) && value >= 0 : value > 0);
  if (!valid) {
    const expected = integer ? 'a whole number, 0 or more' : 'a number above 0';
    throw new ValidationError({ path: flag, reason: `expected ${expected}, got ${value}` });
  }
  if (value < minimum) {
    throw new ValidationError({ path: flag, reason: `${value} is below the blueprint's ${key} ${minimum}` });
  }
  return value;
}

/**
 * Picks the values to deploy with: the recommended ones (each falling back to its
 * minimum) or, with `mode: 'min'`, the minimums; then applies command-line
 * overrides. An override below the blueprint's minimum, a non-finite or negative
 * one, and `spot: true` when the blueprint does not allow spot are refused with a
 * ValidationError whose path is the flag (`--cpu`, `--memory`, `--storage`,
 * `--gpu`, `--gpu-model`, `--spot`). Spot is used only when asked for (`--spot`
 * or cloud.toml's `defaults.spot`) and allowed: `allow_spot` permits, it does not request.
 */
export function resolveResources(
  spec: ResourceSpec,
  overrides: ResourceOverrides = {},
  mode: 'recommended' | 'min' = 'recommended',
): ResourceRequestV1 {
  const pick = (minimum: number, recommended: number | undefined) =>
    mode === 'recommended' ? (recommended ?? minimum) : minimum;
  const request: ResourceRequestV1 = {
    cpu: pick(spec.minCpu, spec.recommendedCpu),
    memoryGb: pick(spec.minMemoryGb, spec.recommendedMemoryGb),
    storageGb: pick(spec.minStorageGb, spec.recommendedStorageGb),
    gpuCount: spec.gpuCount,
    spot: false,
  };
  if (overrides.cpu !== undefined)
    request.cpu = checkOverride('--cpu', overrides.cpu, spec.minCpu, 'min_cpu');
  if (overrides.memoryGb !== undefined) {
    request.memoryGb = checkOverride('--memory', overrides.memoryGb, spec.minMemoryGb, 'min_memory_gb');
  }
  if (overrides.storageGb !== undefined) {
    request.storageGb = checkOverride('--storage', overrides.storageGb, spec.minStorageGb, 'min_storage_gb');
  }
  if (overrides.gpuCount !== undefined) {
    request.gpuCount = checkOverride('--gpu', overrides.gpuCount, spec.gpuCount, 'gpu_count', true);
  }
  const gpuModel = overrides.gpuModel ?? spec.gpuModel;
  if (overrides.gpuModel !== undefined && overrides.gpuModel.trim() === '') {
    throw new ValidationError({ path: '--gpu-model', reason: 'must not be empty' });
  }
  if (gpuModel !== undefined) {
    if (request.gpuCount < 1) {
      throw new ValidationError({
        path: '--gpu-model',
        reason: 'needs at least one GPU (--gpu or gpu_count)',
      });
    }
    request.gpuModel = gpuModel.trim();
  }
  if (overrides.spot !== undefined) {
    if (overrides.spot && !spec.allowSpot) {
      throw new ValidationError({
        path: '--spot',
        reason: 'the blueprint does not allow spot capacity (allow_spot = false)',
      });
    }
    request.spot = overrides.spot;
  }
  return request;
}
