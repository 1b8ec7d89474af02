import type { ResourceRequestV1 } from '@bp/provider';
import { ValidationError } from '@bp/provider';
import {
  type CatalogTables,
  dataFromTables,
  type ProviderTables,
  priceOrder,
  sortRowsByPrice,
  tablesFromData,
} from './catalog-binary.js';
import {
  type CatalogDataV1,
  type CatalogOriginV1,
  type CatalogStorageV1,
  TYPE_FLAG_BURSTABLE,
  TYPE_FLAG_GPU_MODEL_FROM_NAME,
  TYPE_FLAG_SHARED_CORE,
} from './catalog-data.js';
import { type GpuModelQuery, gpuModelMatches, parseGpuModel } from './gpu-model.js';

/** Where a catalog came from. */
export type CatalogOrigin = 'shipped' | 'user' | 'file';

/** Where a result's numbers come from: the source CSV and the row in it. */
export interface CatalogRowSource {
  /** The CSV's file name, e.g. `gcp.csv` (in `shared/catalog` of the bp repository). */
  file: string;
  /** 1-based line in that CSV (the header is line 1). */
  line: number;
  /** SHA-256 of that CSV, as built into the catalog. */
  sha256: string;
}

/** One instance type in one region that fits a request, with the price bp uses for it. */
export interface InstanceMatch {
  /** `aws`, `gcp` or `azure`. */
  provider: string;
  region: string;
  instanceType: string;
  /** vCPUs (a fractional share for GCP shared-core types, see `sharedCore`). */
  vcpus: number;
  /** Memory in GiB. */
  memoryGb: number;
  /** GPU model, e.g. `A100`; null without GPUs or when the source does not name it. */
  gpuModel: string | null;
  /** GPUs; a fraction for GCP g4 types that get a share of one (0.125 of an RTX6000). */
  gpuCount: number;
  /** Memory of one GPU in GiB; null when unknown. */
  gpuMemoryGb: number | null;
  /** The price used, USD per hour: the spot price when `spot`, else the on-demand price. */
  hourlyUsd: number;
  /** On-demand (pay-as-you-go, Linux) list price, USD per hour. */
  onDemandHourlyUsd: number;
  /** Spot price, USD per hour, when the source has one. */
  spotHourlyUsd?: number;
  /** True when `hourlyUsd` is a spot price (spot was requested and is known for this row). */
  spot: boolean;
  /** True when the source has a spot price for this row. Never guessed from a discount. */
  spotPriceKnown: boolean;
  /** GCP shared-core types (e2-micro/small/medium, f1-micro, g1-small): a fraction of a core. */
  sharedCore: boolean;
  /** Burstable types (AWS t1/t2/t3/t3a/t4g, Azure B-series, GCP shared-core): CPU credits, not sustained. */
  burstable: boolean;
  /** The price looks wrong (see the suspect rule in the README); kept, not dropped. */
  suspect: boolean;
  /** Why the row is suspect, with its ratio to the family median. */
  suspectReason?: string;
  /** True when `gpuModel` was read from the size name (Azure) instead of a spec source. */
  gpuModelFromName?: boolean;
  source: CatalogRowSource;
}

/** Which instance types to look for. */
export interface FindInstanceTypesOptions {
  request: ResourceRequestV1;
  /** Only these providers (`aws`, `gcp`, `azure`); all by default. */
  provider?: string | readonly string[];
  /** Only these regions; all by default. */
  region?: string | readonly string[];
  /** At most this many results (the cheapest). All by default. */
  limit?: number;
  /** Leave out GCP shared-core types. */
  excludeSharedCore?: boolean;
  /** Leave out burstable types. */
  excludeBurstable?: boolean;
  /** Leave out rows whose price is suspect. Default false (true for `cheapest` and estimates). */
  excludeSuspect?: boolean;
  /** Only this instance type (exact name). */
  instanceType?: string;
}

/** Counts and provenance of one provider's data in a catalog. */
export interface ProviderCatalogInfo {
  /** Date of the prices, YYYY-MM-DD. */
  dataDate: string;
  /** Rows (instance type × region) in the source CSV. */
  rows: number;
  instanceTypes: number;
  regions: number;
  /** Rows with an on-demand price. */
  priced: number;
  /** Rows without a price: never returned. */
  noPrice: number;
  /** Rows whose type has no vCPU or memory figure: never returned. */
  noSpecs: number;
  /** Rows with a spot price. */
  withSpot: number;
  /** Rows flagged by the suspect rule. */
  suspect: number;
  /** Instance types flagged shared-core / burstable. */
  sharedCoreTypes: number;
  burstableTypes: number;
  /** Instance types whose GPU model was read from the name. */
  gpuModelFromNameTypes: number;
  source: {
    file: string;
    sha256: string;
    bytes: number;
    listedInSourceNotes?: boolean;
    origins: CatalogOriginV1[];
  };
  notes: string[];
}

/** What `bp catalog info` shows. */
export interface CatalogInfo {
  format: string;
  formatVersion: number;
  version: string;
  origin: CatalogOrigin;
  /** The file the catalog was read from. */
  path: string;
  /** Size of that file in bytes. */
  bytes: number;
  /** Newest and oldest provider data date, YYYY-MM-DD. */
  newestDataDate: string;
  oldestDataDate: string;
  /** Whole days from `oldestDataDate` to `now` (the date the info was asked for). */
  ageDays: number;
  rows: number;
  providers: Record<string, ProviderCatalogInfo>;
  storage: Record<string, CatalogStorageV1>;
  suspectRule: string;
  /** Problems met while choosing the catalog (e.g. an invalid user catalog that was skipped). */
  warnings: string[];
}

const EPSILON = 1e-9;

/**
 * A query sorts the rows of its fitting types itself, rather than walking the catalog's price
 * order, when those types hold less than this share of the rows (one instance type, GPUs, big
 * machines): the walk would pass over nearly every row before it found them.
 */
const SORT_OWN_ROWS_BELOW = 1 / 8;

/** One provider's data, indexed: typed columns per type and per row, and rows sorted by price. */
class ProviderIndex {
  readonly id: string;
  readonly data: ProviderTables;
  readonly rowCount: number;
  readonly typeCount: number;
  readonly rowType: Uint16Array;
  readonly rowRegion: Uint16Array;
  readonly price: Float64Array;
  readonly spot: Float64Array;
  readonly suspectRatio: Float64Array;
  readonly vcpus: Float64Array;
  readonly memory: Float64Array;
  readonly gpuCount: Float64Array;
  readonly gpuModel: Int32Array;
  readonly gpuMemory: Float64Array;
  readonly flags: Uint8Array;
  /** Each type's first row, and the row count last (a type's rows are contiguous). Built on first use. */
  private typeStarts?: Uint32Array;

  constructor(id: string, data: ProviderTables) {
    this.id = id;
    this.data = data;
    const { types, rows } = data;
    this.rowCount = rows.region.length;
    this.typeCount = types.name.length;
    this.rowType = rows.type;
    this.rowRegion = rows.region;
    this.price = rows.price;
    this.spot = rows.spot;
    this.suspectRatio = new Float64Array(this.rowCount);
    data.suspect.rows.forEach((suspectRow, index) => {
      this.suspectRatio[suspectRow] = data.suspect.ratio[index]!;
    });
    this.vcpus = types.vcpus;
    this.memory = types.memoryGib;
    this.gpuCount = types.gpuCount;
    this.gpuModel = types.gpuModel;
    this.gpuMemory = types.gpuMemoryGib;
    this.flags = types.flags;
  }

  /**
   * Priced rows of types with specs, by on-demand price (or by spot price where known). The binary
   * catalog file carries both orders; a catalog read from JSON sorts on first use.
   */
  order(useSpot: boolean): Uint32Array {
    const { rows } = this.data;
    if (useSpot) {
      rows.spotOrder ??= priceOrder(this.data, true);
      return rows.spotOrder;
    }
    rows.order ??= priceOrder(this.data, false);
    return rows.order;
  }

  /**
   * The rows a query walks, cheapest first: {@link order}, or the priced rows of the fitting
   * types (`fits`) sorted here when they are few (see {@link SORT_OWN_ROWS_BELOW}). Either way,
   * rows of types without specs are never reached: such types never fit.
   */
  rowsByPrice(fits: Uint8Array, useSpot: boolean): Uint32Array {
    const counts = this.data.types.rows;
    let fitting = 0;
    for (let type = 0; type < this.typeCount; type++) if (fits[type]) fitting += counts[type]!;
    if (fitting >= this.rowCount * SORT_OWN_ROWS_BELOW) return this.order(useSpot);
    if (!this.typeStarts) {
      this.typeStarts = new Uint32Array(this.typeCount + 1);
      for (let type = 0; type < this.typeCount; type++)
        this.typeStarts[type + 1] = this.typeStarts[type]! + counts[type]!;
    }
    const rows: number[] = [];
    for (let type = 0; type < this.typeCount; type++) {
      if (!fits[type]) continue;
      for (let row = this.typeStarts[type]!; row < this.typeStarts[type + 1]!; row++)
        if (!Number.isNaN(this.price[row]!)) rows.push(row);
    }
    return sortRowsByPrice(this.data, rows, useSpot);
  }

  /** The price a query ranks `row` by: the spot price where asked for and known, else on-demand. */
  key(row: number, useSpot: boolean): number {
    const spot = this.spot[row]!;
    return useSpot && !Number.isNaN(spot) ? spot : this.price[row]!;
  }

  /** One flag per instance type: does it fit the request and the filters? */
  fittingTypes(options: FindInstanceTypesOptions, gpuQuery: GpuModelQuery | undefined): Uint8Array {
    const { request } = options;
    const fits = new Uint8Array(this.typeCount);
    const needGpus = Math.max(request.gpuCount, gpuQuery ? 1 : 0);
    const modelOk = new Int8Array(this.data.gpuModels.length);
    if (gpuQuery)
      this.data.gpuModels.forEach((model, index) => {
        modelOk[index] = gpuModelMatches(gpuQuery, model, null) ? 1 : 0;
      });
    let first = 0;
    let end = this.typeCount;
    if (options.instanceType !== undefined) {
      first = this.data.types.name.indexOf(options.instanceType);
      if (first < 0) return fits;
      end = first + 1;
    }
    for (let type = first; type < end; type++) {
      if (!(this.vcpus[type]! >= request.cpu - EPSILON)) continue; // NaN (no specs) fails here too
      if (!(this.memory[type]! >= request.memoryGb - EPSILON)) continue;
      if (this.gpuCount[type]! < needGpus) continue;
      const flags = this.flags[type]!;
      if (options.excludeSharedCore && flags & TYPE_FLAG_SHARED_CORE) continue;
      if (options.excludeBurstable && flags & TYPE_FLAG_BURSTABLE) continue;
      if (gpuQuery) {
        const model = this.gpuModel[type]!;
        if (model < 0) continue;
        // The model's name alone decides unless the query names a memory size and the row knows its own.
        const memory = this.gpuMemory[type]!;
        if (gpuQuery.memoryGib !== undefined && !Number.isNaN(memory)) {
          if (!gpuModelMatches(gpuQuery, this.data.gpuModels[model]!, memory)) continue;
        } else if (!modelOk[model]) continue;
      }
      fits[type] = 1;
    }
    return fits;
  }

  match(row: number, useSpot: boolean): InstanceMatch {
    const type = this.rowType[row]!;
    const { types, gpuModels, regions, source } = this.data;
    const onDemand = this.price[row]!;
    const spot = this.spot[row]!;
    const spotKnown = !Number.isNaN(spot);
    const flags = this.flags[type]!;
    const modelIndex = this.gpuModel[type]!;
    const gpuMemory = this.gpuMemory[type]!;
    const ratio = this.suspectRatio[row]!;
    const result: InstanceMatch = {
      provider: this.id,
      region: regions[this.rowRegion[row]!]!,
      instanceType: types.name[type]!,
      vcpus: this.vcpus[type]!,
      memoryGb: this.memory[type]!,
      gpuModel: modelIndex >= 0 ? gpuModels[modelIndex]! : null,
      gpuCount: this.gpuCount[type]!,
      gpuMemoryGb: Number.isNaN(gpuMemory) ? null : gpuMemory,
      hourlyUsd: useSpot && spotKnown ? spot : onDemand,
      onDemandHourlyUsd: onDemand,
      spot: useSpot && spotKnown,
      spotPriceKnown: spotKnown,
      sharedCore: (flags & TYPE_FLAG_SHARED_CORE) !== 0,
      burstable: (flags & TYPE_FLAG_BURSTABLE) !== 0,
      suspect: ratio > 0,
      source: { file: source.file, line: row + 2, sha256: source.sha256 },
    };
    if (spotKnown) result.spotHourlyUsd = spot;
    if (ratio > 0)
      result.suspectReason =
        ratio > 1
          ? `per-vCPU price is ${ratio}x its family's median (region-adjusted): likely a Windows price`
          : `per-vCPU price is ${ratio}x its family's median (region-adjusted): likely a wrong, too-low price`;
    if (flags & TYPE_FLAG_GPU_MODEL_FROM_NAME) result.gpuModelFromName = true;
    return result;
  }

  info(): ProviderCatalogInfo {
    let priced = 0;
    let noSpecs = 0;
    let withSpot = 0;
    for (let row = 0; row < this.rowCount; row++) {
      const type = this.rowType[row]!;
      if (!Number.isNaN(this.price[row]!)) priced++;
      if (!Number.isNaN(this.spot[row]!)) withSpot++;
      if (Number.isNaN(this.vcpus[type]!) || Number.isNaN(this.memory[type]!)) noSpecs++;
    }
    const countFlag = (flag: number) => this.flags.reduce((sum, flags) => sum + (flags & flag ? 1 : 0), 0);
    const { source } = this.data;
    return {
      dataDate: this.data.dataDate,
      rows: this.rowCount,
      instanceTypes: this.typeCount,
      regions: this.data.regions.length,
      priced,
      noPrice: this.rowCount - priced,
      noSpecs,
      withSpot,
      suspect: this.data.suspect.rows.length,
      sharedCoreTypes: countFlag(TYPE_FLAG_SHARED_CORE),
      burstableTypes: countFlag(TYPE_FLAG_BURSTABLE),
      gpuModelFromNameTypes: countFlag(TYPE_FLAG_GPU_MODEL_FROM_NAME),
      source: {
        file: source.file,
        sha256: source.sha256,
        bytes: source.bytes,
        listedInSourceNotes: source.listedInSourceNotes,
        origins: source.origins,
      },
      notes: this.data.notes,
    };
  }
}

// Provider ids and region names are lower case in every cloud; accept `AWS` or `EastUS` too.
function asList(value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  return (typeof value === 'string' ? [value] : value).map((entry) => entry.toLowerCase());
}

/** Refuses requests no instance could mean: negative or non-finite numbers, fractional GPUs. */
export function checkRequest(request: ResourceRequestV1, path = 'request'): void {
  if (typeof request !== 'object' || request === null)
    throw new ValidationError({ reason: 'expected a resource request', path });
  for (const key of ['cpu', 'memoryGb', 'storageGb', 'gpuCount'] as const) {
    const value = request[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new ValidationError({
        reason: `expected a number >= 0, got ${String(value)}`,
        path: `${path}.${key}`,
      });
  }
  if (!Number.isInteger(request.gpuCount))
    throw new ValidationError({
      reason: `expected a whole number of GPUs, got ${request.gpuCount}`,
      path: `${path}.gpuCount`,
    });
  if (request.gpuModel !== undefined && (typeof request.gpuModel !== 'string' || !request.gpuModel.trim()))
    throw new ValidationError({ reason: 'expected a GPU model name like A100', path: `${path}.gpuModel` });
}

/** Where a {@link PriceCatalog} was read from, and what happened while choosing it. */
export interface PriceCatalogMeta {
  origin: CatalogOrigin;
  /** The file the catalog was read from. */
  path: string;
  /** Size of that file in bytes. */
  bytes: number;
  /** Problems met while choosing the catalog (e.g. an invalid user catalog that was skipped). */
  warnings?: string[];
}

/**
 * A loaded, indexed price catalog. Get one from {@link loadCatalog}; the package's functions use
 * the shipped one unless given another.
 */
export class PriceCatalog {
  /** The catalog in memory: its number columns as typed arrays. Shared by catalogs read from the same file. */
  readonly tables: CatalogTables;
  readonly origin: CatalogOrigin;
  readonly path: string;
  readonly bytes: number;
  readonly warnings: string[];
  private readonly providers: ProviderIndex[];
  private dataCache?: CatalogDataV1;

  constructor(tables: CatalogTables, meta: PriceCatalogMeta) {
    this.tables = tables;
    this.origin = meta.origin;
    this.path = meta.path;
    this.bytes = meta.bytes;
    this.warnings = meta.warnings ?? [];
    this.providers = Object.entries(tables.providers).map(
      ([id, provider]) => new ProviderIndex(id, provider),
    );
  }

  /** A catalog from its JSON form (validated or trusted by the caller). */
  static fromData(data: CatalogDataV1, meta: PriceCatalogMeta): PriceCatalog {
    const catalog = new PriceCatalog(tablesFromData(data), meta);
    catalog.dataCache = data;
    return catalog;
  }

  /**
   * The catalog in its JSON form ({@link CatalogDataV1}), e.g. as the base of a new catalog. Built
   * from {@link tables} on first use (a few milliseconds): queries never need it.
   */
  get data(): CatalogDataV1 {
    this.dataCache ??= dataFromTables(this.tables);
    return this.dataCache;
  }

  /** The catalog's version, YYYY-MM-DD or YYYY-MM-DD.N. */
  get version(): string {
    return this.tables.version;
  }

  /** Provider ids in the catalog, e.g. `['aws', 'gcp', 'azure']`. */
  providerIds(): string[] {
    return this.providers.map((provider) => provider.id);
  }

  /** Regions of one provider, in catalog order. */
  regions(provider: string): string[] {
    return this.providers.find((entry) => entry.id === provider)?.data.regions ?? [];
  }

  /** Sources, dates, sizes and counts. `now` sets the date the age is measured to. */
  info(now: Date = new Date()): CatalogInfo {
    const providers = Object.fromEntries(this.providers.map((provider) => [provider.id, provider.info()]));
    const dates = Object.values(providers)
      .map((provider) => provider.dataDate)
      .sort();
    const oldest = dates[0] ?? '';
    return {
      format: this.tables.format,
      formatVersion: this.tables.formatVersion,
      version: this.tables.version,
      origin: this.origin,
      path: this.path,
      bytes: this.bytes,
      newestDataDate: dates.at(-1) ?? '',
      oldestDataDate: oldest,
      ageDays: oldest
        ? Math.max(0, Math.floor((now.getTime() - Date.parse(`${oldest}T00:00:00Z`)) / 86_400_000))
        : 0,
      rows: Object.values(providers).reduce((sum, provider) => sum + provider.rows, 0),
      providers,
      storage: this.tables.storage,
      suspectRule: this.tables.suspectRule,
      warnings: this.warnings,
    };
  }

  /**
   * Every instance type × region that fits the request, cheapest first (by the spot price where
   * spot is requested and known, else the on-demand price). Rows without a price or without
   * specs never appear. Ties keep the catalog's order.
   */
  findInstanceTypes(options: FindInstanceTypesOptions): InstanceMatch[] {
    checkRequest(options.request);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0))
      throw new ValidationError({ reason: `expected a limit >= 0, got ${options.limit}`, path: 'limit' });
    const useSpot = options.request.spot === true;
    const gpuQuery = options.request.gpuModel ? parseGpuModel(options.request.gpuModel) : undefined;
    const providerFilter = asList(options.provider);
    const regionFilter = asList(options.region);
    // One cursor per provider over its price-sorted rows; merged so the whole result is sorted.
    const cursors: {
      index: ProviderIndex;
      order: Uint32Array;
      position: number;
      fits: Uint8Array;
      regions: Uint8Array | undefined;
      /** The next row to return, or -1 when there is none; `key` is its price. */
      current: number;
      key: number;
    }[] = [];
    for (const index of this.providers) {
      if (providerFilter && !providerFilter.includes(index.id)) continue;
      let regions: Uint8Array | undefined;
      if (regionFilter) {
        regions = new Uint8Array(index.data.regions.length);
        let any = false;
        for (const name of regionFilter) {
          const found = index.data.regions.indexOf(name);
          if (found >= 0) {
            regions[found] = 1;
            any = true;
          }
        }
        if (!any) continue;
      }
      const fits = index.fittingTypes(options, gpuQuery);
      if (!fits.includes(1)) continue;
      cursors.push({
        index,
        order: index.rowsByPrice(fits, useSpot),
        position: 0,
        fits,
        regions,
        current: -1,
        key: 0,
      });
    }
    const excludeSuspect = options.excludeSuspect === true;
    // Runs once per row passed over: plain locals keep it cheap before the JIT has compiled it.
    const advance = (cursor: (typeof cursors)[number]) => {
      const { index, order, fits, regions } = cursor;
      const { rowType, rowRegion, suspectRatio } = index;
      let position = cursor.position;
      let found = -1;
      while (position < order.length) {
        const row = order[position++]!;
        if (!fits[rowType[row]!]) continue;
        if (regions && !regions[rowRegion[row]!]) continue;
        if (excludeSuspect && suspectRatio[row]! > 0) continue;
        found = row;
        break;
      }
      cursor.position = position;
      cursor.current = found;
      if (found >= 0) cursor.key = index.key(found, useSpot);
    };
    for (const cursor of cursors) advance(cursor);
    const results: InstanceMatch[] = [];
    while (results.length < limit) {
      let best: (typeof cursors)[number] | undefined;
      for (const cursor of cursors)
        if (cursor.current >= 0 && (!best || cursor.key < best.key)) best = cursor;
      if (!best) break;
      results.push(best.index.match(best.current, useSpot));
      advance(best);
    }
    return results;
  }

  /**
   * The cheapest fitting instance type, or undefined when nothing in the catalog fits. Rows with
   * a suspect price are skipped unless `excludeSuspect` is false: a wrong price must not win.
   */
  cheapest(options: Omit<FindInstanceTypesOptions, 'limit'>): InstanceMatch | undefined {
    return this.findInstanceTypes({
      ...options,
      excludeSuspect: options.excludeSuspect ?? true,
      limit: 1,
    })[0];
  }

  /** Per-GiB-month disk price for a provider and region, with where it comes from. */
  storageRate(provider: string, region: string): { rate: number | null; entry?: CatalogStorageV1 } {
    const entry = this.tables.storage[provider];
    const rate = entry?.byRegion[region];
    return { rate: rate ?? null, entry };
  }
}
