import type { ResourceRequestV1 } from '@bp/provider';
import { NotFoundError, ValidationError } from '@bp/provider';
import type { FindInstanceTypesOptions, InstanceMatch, PriceCatalog } from './price-catalog.js';
import { checkRequest } from './price-catalog.js';

/** Hours in the month bp prices with (365 × 24 / 12), the figure the clouds' calculators use. */
export const HOURS_PER_MONTH = 730;

/** Quality-of-service settings that change an estimate through explicit multipliers. */
export interface QosOptions {
  /** How much headroom to budget for the service. Default: no adjustment. */
  priority?: 'low' | 'normal' | 'high';
  /** The availability the service is meant to reach, in percent. Default: no adjustment. */
  sla?: '99' | '99.5' | '99.9' | '99.95' | '99.99';
}

/** One multiplier applied to an estimate, with why. */
export interface CostAdjustment {
  /** e.g. `priority:high`, `sla:99.95`. */
  name: string;
  multiplier: number;
  reason: string;
}

/**
 * bp's QoS multipliers. They are bp's planning factors, not provider prices: every one shows up
 * in the estimate's `adjustments`, and the product multiplies compute and storage.
 */
export const QOS_MULTIPLIERS = {
  priority: {
    low: { multiplier: 1, reason: 'low priority: no headroom budgeted' },
    normal: { multiplier: 1, reason: 'normal priority: no headroom budgeted' },
    high: {
      multiplier: 1.2,
      reason:
        'high priority: 20% headroom budgeted so the service can be restarted or moved to a pricier place at once (bp planning factor)',
    },
  },
  sla: {
    '99': { multiplier: 1, reason: 'one instance' },
    '99.5': { multiplier: 1, reason: 'one instance' },
    '99.9': {
      multiplier: 1.1,
      reason:
        'one instance plus 10% for health checks, restarts and redeploys during recovery (bp planning factor)',
    },
    '99.95': {
      multiplier: 2,
      reason:
        'two instances in different zones: bp does not count on one instance for 99.95% (bp planning factor)',
    },
    '99.99': {
      multiplier: 3,
      reason:
        'three instances in different zones: bp does not count on fewer for 99.99% (bp planning factor)',
    },
  },
} as const satisfies {
  priority: Record<NonNullable<QosOptions['priority']>, { multiplier: number; reason: string }>;
  sla: Record<NonNullable<QosOptions['sla']>, { multiplier: number; reason: string }>;
};

/** The adjustments a QoS setting brings; empty without one. */
export function qosAdjustments(qos: QosOptions | undefined): CostAdjustment[] {
  if (!qos) return [];
  const adjustments: CostAdjustment[] = [];
  if (qos.priority !== undefined) {
    const entry = (QOS_MULTIPLIERS.priority as Record<string, { multiplier: number; reason: string }>)[
      qos.priority
    ];
    if (!entry)
      throw new ValidationError({
        reason: `expected one of ${Object.keys(QOS_MULTIPLIERS.priority).join(', ')}, got ${String(qos.priority)}`,
        path: 'qos.priority',
      });
    adjustments.push({ name: `priority:${qos.priority}`, ...entry });
  }
  if (qos.sla !== undefined) {
    const entry = (QOS_MULTIPLIERS.sla as Record<string, { multiplier: number; reason: string }>)[qos.sla];
    if (!entry)
      throw new ValidationError({
        reason: `expected one of ${Object.keys(QOS_MULTIPLIERS.sla).join(', ')}, got ${String(qos.sla)}`,
        path: 'qos.sla',
      });
    adjustments.push({ name: `sla:${qos.sla}`, ...entry });
  }
  return adjustments;
}

/** The disk part of an estimate. All USD figures are null when bp has no sourced price. */
export interface StorageCost {
  /** GiB requested. */
  gb: number;
  /** The disk type priced, e.g. `pd-balanced`. */
  diskType: string | null;
  usdPerGbMonth: number | null;
  hourlyUsd: number | null;
  monthlyUsd: number | null;
  /** For the estimate's duration. */
  totalUsd: number | null;
  /** Where the rate comes from. */
  source?: Record<string, string>;
  /** Why there is no price, when there is none. */
  note?: string;
}

/** What {@link estimateCost} returns. USD throughout. */
export interface CostEstimate {
  spec: ResourceRequestV1;
  /** The instance priced: the cheapest that fits, or the one asked for. */
  instance: InstanceMatch;
  durationHours: number;
  /** The instance's price per hour (spot when spot was asked for and is known). */
  computeHourlyUsd: number;
  storage: StorageCost;
  /** Storage for the duration; null when bp has no sourced disk price (see `storage.note`). */
  storageUsd: number | null;
  /** Every multiplier applied; empty without `qos`. */
  adjustments: CostAdjustment[];
  /** Product of the adjustments' multipliers (1 without any). */
  multiplier: number;
  /** (compute + known storage) per hour × multiplier. */
  hourlyUsd: number;
  /** `hourlyUsd` × `durationHours`. */
  totalUsd: number;
  /** `hourlyUsd` × 730. */
  monthlyUsd: number;
  /** Caveats: unknown storage, spot price unknown, suspect price, burstable or shared-core type. */
  notes: string[];
}

export interface EstimateCostOptions {
  request: ResourceRequestV1;
  provider?: string | readonly string[];
  region?: string | readonly string[];
  /** Price this instance type rather than the cheapest fitting one. */
  instanceType?: string;
  /** Hours the deployment runs; > 0. */
  durationHours: number;
  qos?: QosOptions;
  excludeSharedCore?: boolean;
  excludeBurstable?: boolean;
  /** Skip rows with a suspect price. Default true: the estimate prices the cheapest credible row. */
  excludeSuspect?: boolean;
}

function checkDuration(durationHours: number): void {
  if (typeof durationHours !== 'number' || !Number.isFinite(durationHours) || durationHours <= 0)
    throw new ValidationError({
      reason: `expected a number of hours > 0, got ${String(durationHours)}`,
      path: 'durationHours',
    });
}

function describeRequest(options: {
  request: ResourceRequestV1;
  provider?: unknown;
  region?: unknown;
}): string {
  const { request } = options;
  const parts = [`${request.cpu} vCPU`, `${request.memoryGb} GiB`];
  if (request.gpuCount || request.gpuModel)
    parts.push(`${request.gpuCount || 1}x ${request.gpuModel ?? 'GPU'}`);
  if (options.provider) parts.push(`provider ${String(options.provider)}`);
  if (options.region) parts.push(`region ${String(options.region)}`);
  return parts.join(', ');
}

/** Prices a request: the cheapest fitting instance (or `instanceType`), its disk, and QoS multipliers. */
export function estimateCostWith(catalog: PriceCatalog, options: EstimateCostOptions): CostEstimate {
  checkRequest(options.request);
  checkDuration(options.durationHours);
  const adjustments = qosAdjustments(options.qos);
  const find: FindInstanceTypesOptions = {
    request: options.request,
    provider: options.provider,
    region: options.region,
    instanceType: options.instanceType,
    excludeSharedCore: options.excludeSharedCore,
    excludeBurstable: options.excludeBurstable,
    excludeSuspect: options.excludeSuspect,
  };
  const instance = catalog.cheapest(find);
  if (!instance)
    throw new NotFoundError({
      kind: 'instance type',
      id: options.instanceType ?? describeRequest(options),
      message: `no instance type in the price catalog fits ${describeRequest(options)}${options.instanceType ? ` as ${options.instanceType}` : ''}`,
    });
  const notes: string[] = [];
  const gb = options.request.storageGb;
  const { rate, entry } = catalog.storageRate(instance.provider, instance.region);
  let storage: StorageCost;
  if (gb === 0) {
    storage = {
      gb,
      diskType: entry?.diskType ?? null,
      usdPerGbMonth: rate,
      hourlyUsd: 0,
      monthlyUsd: 0,
      totalUsd: 0,
    };
  } else if (rate === null) {
    const note =
      entry?.note ??
      `no disk price for ${instance.provider} ${instance.region} in the catalog; storage is not priced`;
    storage = {
      gb,
      diskType: entry?.diskType ?? null,
      usdPerGbMonth: null,
      hourlyUsd: null,
      monthlyUsd: null,
      totalUsd: null,
      note,
    };
    notes.push(`storage not included: ${note}`);
  } else {
    const monthly = rate * gb;
    storage = {
      gb,
      diskType: entry?.diskType ?? null,
      usdPerGbMonth: rate,
      hourlyUsd: monthly / HOURS_PER_MONTH,
      monthlyUsd: monthly,
      totalUsd: (monthly / HOURS_PER_MONTH) * options.durationHours,
      source: entry?.source,
    };
  }
  if (options.request.spot && !instance.spotPriceKnown)
    notes.push(
      `no spot price is known for ${instance.instanceType} in ${instance.region}; the on-demand price is used`,
    );
  if (instance.suspect)
    notes.push(
      `the price of ${instance.instanceType} in ${instance.region} is suspect: ${instance.suspectReason}`,
    );
  if (instance.sharedCore)
    notes.push(`${instance.instanceType} is a shared-core type: ${instance.vcpus} of a vCPU`);
  else if (instance.burstable)
    notes.push(`${instance.instanceType} is burstable: full CPU only while credits last`);
  const multiplier = adjustments.reduce((product, adjustment) => product * adjustment.multiplier, 1);
  const hourlyUsd = (instance.hourlyUsd + (storage.hourlyUsd ?? 0)) * multiplier;
  return {
    spec: options.request,
    instance,
    durationHours: options.durationHours,
    computeHourlyUsd: instance.hourlyUsd,
    storage,
    storageUsd: storage.totalUsd,
    adjustments,
    multiplier,
    hourlyUsd,
    totalUsd: hourlyUsd * options.durationHours,
    monthlyUsd: hourlyUsd * HOURS_PER_MONTH,
    notes,
  };
}

/** One row of a comparison: the `bp estimate --json` option shape, plus provenance and flags. */
export interface CompareOption {
  provider: string;
  region: string;
  instanceType: string;
  vcpus: number;
  memoryGb: number;
  gpuModel: string | null;
  gpuCount: number;
  /** True when `hourlyUsd` is a spot price. */
  spot: boolean;
  /** Compute price per hour (disks are not included in a comparison). */
  hourlyUsd: number;
  /** `hourlyUsd` × the duration. */
  totalUsd: number;
  onDemandHourlyUsd: number;
  spotHourlyUsd?: number;
  spotPriceKnown: boolean;
  gpuMemoryGb: number | null;
  sharedCore: boolean;
  burstable: boolean;
  suspect: boolean;
  source: InstanceMatch['source'];
}

/** What {@link compare} returns: the shape of `bp estimate --compare --json`. */
export interface Comparison {
  spec: ResourceRequestV1;
  durationHours: number;
  /**
   * The cheapest fit whose price is not suspect, or null when there is none. It is the first such
   * option, or, when `limit` cut the options before one, the one past them.
   */
  cheapest: CompareOption | null;
  /** Every provider × region × instance type that fits, sorted by `hourlyUsd`. */
  options: CompareOption[];
}

export interface CompareOptions {
  request: ResourceRequestV1;
  providers?: readonly string[];
  regions?: readonly string[];
  /** Hours, for `totalUsd`; > 0. */
  durationHours: number;
  /** At most this many options. All by default. */
  limit?: number;
  excludeSharedCore?: boolean;
  excludeBurstable?: boolean;
  excludeSuspect?: boolean;
}

export function toCompareOption(match: InstanceMatch, durationHours: number): CompareOption {
  const option: CompareOption = {
    provider: match.provider,
    region: match.region,
    instanceType: match.instanceType,
    vcpus: match.vcpus,
    memoryGb: match.memoryGb,
    gpuModel: match.gpuModel,
    gpuCount: match.gpuCount,
    spot: match.spot,
    hourlyUsd: match.hourlyUsd,
    totalUsd: match.hourlyUsd * durationHours,
    onDemandHourlyUsd: match.onDemandHourlyUsd,
    spotPriceKnown: match.spotPriceKnown,
    gpuMemoryGb: match.gpuMemoryGb,
    sharedCore: match.sharedCore,
    burstable: match.burstable,
    suspect: match.suspect,
    source: match.source,
  };
  if (match.spotHourlyUsd !== undefined) option.spotHourlyUsd = match.spotHourlyUsd;
  return option;
}

/** Ranks every provider × region × instance type that fits, cheapest first. */
export function compareWith(catalog: PriceCatalog, options: CompareOptions): Comparison {
  checkDuration(options.durationHours);
  const find: FindInstanceTypesOptions = {
    request: options.request,
    provider: options.providers,
    region: options.regions,
    excludeSharedCore: options.excludeSharedCore,
    excludeBurstable: options.excludeBurstable,
    excludeSuspect: options.excludeSuspect,
  };
  const matches = catalog.findInstanceTypes({ ...find, limit: options.limit });
  const rows = matches.map((match) => toCompareOption(match, options.durationHours));
  // Suspect rows stay in the list, flagged, but a probably-wrong price is not called the cheapest.
  let cheapest = rows.find((row) => !row.suspect) ?? null;
  if (!cheapest && rows.length === options.limit) {
    const credible = catalog.cheapest({ ...find, excludeSuspect: true });
    cheapest = credible ? toCompareOption(credible, options.durationHours) : null;
  }
  return { spec: options.request, durationHours: options.durationHours, cheapest, options: rows };
}
