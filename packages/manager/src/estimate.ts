import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CompareOption, CostEstimate } from '@bp/pricing';
import { type ResourceRequestV1, ValidationError } from '@bp/provider';

/** What `bp estimate` prices: a blueprint's resources, flags, or both (flags override). */
export interface EstimateRequest {
  /** A blueprint directory; without one, `cpu` and `memoryGb` are required. */
  blueprintDir?: string;
  cpu?: number;
  memoryGb?: number;
  storageGb?: number;
  gpuCount?: number;
  gpuModel?: string;
  spot?: boolean;
  /** How long it would run: text (`24h`) or milliseconds. Default 24h. */
  duration?: string | number;
  provider?: string;
  region?: string;
  /** Rank every provider × region × instance that fits rather than the best few. */
  compare?: boolean;
  /** At most this many options (the cheapest). Default: 10 without `compare`, all with it. */
  limit?: number;
  /** Where a newer catalog installed by `bp catalog update` lives. */
  catalogDir?: string;
}

/** The answer of `bp estimate`: PRODUCT.md's `{spec, cheapest, options}`, with the cheapest priced in full. */
export interface EstimateResult {
  spec: ResourceRequestV1;
  durationHours: number;
  /** The cheapest trustworthy option with storage, monthly cost and QoS adjustments; null when nothing fits. */
  cheapest: (CompareOption & { storageUsd: number | null; monthlyUsd: number; notes: string[] }) | null;
  /** Sorted by hourlyUsd. */
  options: CompareOption[];
  catalogVersion: string;
}

/** Whether a directory holds a blueprint: Blueprint.toml, or a package.json with a "blueprint" field. */
/** What an estimate prices when no duration is given: a day. */
const DEFAULT_DURATION_MS = 24 * 3_600_000;

function hasBlueprint(dir: string): boolean {
  if (existsSync(join(dir, 'Blueprint.toml'))) return true;
  try {
    return 'blueprint' in JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves the request and prices it from the offline catalog. Creates nothing, calls no provider. */
export async function estimate(request: EstimateRequest): Promise<EstimateResult> {
  // @bp/resources only for a blueprint or a duration to parse: flags alone skip loading it.
  const needsResources = () => import('@bp/resources');
  const overrides = {
    cpu: request.cpu,
    memoryGb: request.memoryGb,
    storageGb: request.storageGb,
    gpuCount: request.gpuCount,
    gpuModel: request.gpuModel,
    spot: request.spot,
  };
  const dir = resolve(request.blueprintDir ?? '.');
  let spec: ResourceRequestV1;
  if (request.blueprintDir !== undefined || (request.cpu === undefined && hasBlueprint(dir))) {
    const resources = await needsResources();
    spec = resources.resolveResources((await resources.loadBlueprint(dir)).resources, overrides);
  } else {
    if (request.cpu === undefined || request.memoryGb === undefined) {
      throw new ValidationError({
        path: request.cpu === undefined ? '--cpu' : '--memory',
        reason: 'needed when there is no blueprint to estimate (or name its directory)',
      });
    }
    for (const [flag, value] of Object.entries({ '--cpu': request.cpu, '--memory': request.memoryGb })) {
      if (!Number.isFinite(value) || value <= 0)
        throw new ValidationError({ path: flag, reason: `'${value}' must be positive` });
    }
    if (request.gpuCount !== undefined && !(Number.isInteger(request.gpuCount) && request.gpuCount >= 0)) {
      throw new ValidationError({ path: '--gpu', reason: `'${request.gpuCount}' must be a whole number` });
    }
    spec = {
      cpu: request.cpu,
      memoryGb: request.memoryGb,
      storageGb: request.storageGb ?? 0,
      gpuCount: request.gpuCount ?? (request.gpuModel ? 1 : 0),
      gpuModel: request.gpuModel,
      spot: request.spot ?? false,
    };
  }
  const durationMs =
    typeof request.duration === 'number'
      ? request.duration
      : request.duration === undefined
        ? DEFAULT_DURATION_MS
        : (await needsResources()).parseDuration(request.duration, '--duration');
  const durationHours = durationMs / 3_600_000;
  const pricing = await import('@bp/pricing');
  const catalog = pricing.loadCatalog({ userDir: request.catalogDir });
  const providers = request.provider ? [request.provider] : undefined;
  const regions = request.region ? [request.region] : undefined;
  const known = catalog.providerIds();
  if (request.provider && !known.includes(request.provider.toLowerCase())) {
    throw new ValidationError({
      path: '--provider',
      reason: `the price catalog has no '${request.provider}' (it has ${known.join(', ')}; this machine, Docker and SSH hosts cost what you pay for them)`,
    });
  }
  const limit = request.limit ?? (request.compare ? undefined : 10);
  const comparison = pricing.compare({ catalog, request: spec, providers, regions, durationHours, limit });
  const options = comparison.options;
  let cheapest: EstimateResult['cheapest'] = null;
  if (comparison.cheapest) {
    const full: CostEstimate = pricing.estimateCost({
      catalog,
      request: spec,
      provider: comparison.cheapest.provider,
      region: comparison.cheapest.region,
      instanceType: comparison.cheapest.instanceType,
      durationHours,
    });
    cheapest = {
      ...comparison.cheapest,
      storageUsd: full.storageUsd,
      monthlyUsd: full.monthlyUsd,
      notes: full.notes,
    };
  }
  return {
    spec,
    durationHours,
    cheapest,
    options,
    catalogVersion: catalog.version,
  };
}
