// The one CSV -> catalog builder, shared by scripts/build-catalog.mjs (the shipped catalog) and
// @bp/pricing-importers (catalogs built from the providers' pricing APIs).
//
// This file is also run directly by Node's type stripping (the build script imports it as .ts), so
// it imports only types, and uses only erasable TypeScript syntax. node:crypto is taken when
// needed: importing it would cost every process that loads @bp/pricing a few milliseconds.
import type {
  CatalogDataV1,
  CatalogOriginV1,
  CatalogProviderV1,
  CatalogStorageV1,
  CatalogTypesV1,
} from './catalog-data.js';

/** The columns of every catalog CSV, in order. */
export const CATALOG_CSV_HEADER =
  'provider,instance_type,region,zone,vcpus,memory_gib,gpu_model,gpu_count,gpu_memory_gib,price_hourly_usd,spot_price_hourly_usd';

/** Bits of {@link CatalogTypesV1.flags}. */
export const TYPE_FLAG_SHARED_CORE = 1;
export const TYPE_FLAG_BURSTABLE = 2;
export const TYPE_FLAG_GPU_MODEL_FROM_NAME = 4;

/** Suspect rule parameters (Azure only). Keep the README and SUSPECT_RULE in step. */
const SUSPECT_THRESHOLD = 1.5;
const SUSPECT_LOW_THRESHOLD = 0.4;
const SUSPECT_MIN_GROUP = 5;

/** The rule that sets `suspect` rows, in words; stored in every catalog as `suspectRule`. */
export const SUSPECT_RULE = [
  'Azure only; rows with a GPU, without specs or without a price are never judged.',
  'family = the size name without Standard_/Basic_, its size number, a constrained-core "-N" and "_Promo"',
  '(Standard_D2as_v5 -> Das_v5, Standard_E32-8as_v5 -> Eas_v5).',
  "per-vCPU price = price / vCPUs; a constrained-core size uses its parent size's vCPUs, since Azure bills it as the parent.",
  "region level = median over sizes of (price in the region / that size's median price over all regions).",
  `A row is suspect when (per-vCPU price / region level) is above ${SUSPECT_THRESHOLD}x the median of the same`,
  `over every row of its family in every region (families with at least ${SUSPECT_MIN_GROUP} such rows),`,
  `or below ${SUSPECT_LOW_THRESHOLD}x it (B-series excepted: their small sizes are not priced per vCPU).`,
  'Why: some Azure rows carry the Windows price (SOURCE.md gap 2); the Windows licence adds a per-vCPU charge,',
  'which puts those rows 1.7-2x above their family. A few rows are 10x too cheap (F*ams_v6 in newzealandnorth),',
  'which would win every "cheapest" query. Suspect rows stay in results, flagged, with their ratio.',
].join(' ');

const VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}(\.\d+)?$/;

/** One row of a catalog CSV: one instance type in one region. `null` is an empty cell. */
export interface CatalogCsvRow {
  provider: string;
  instanceType: string;
  region: string;
  vcpus: number | null;
  memoryGib: number | null;
  gpuModel: string | null;
  gpuCount: number | null;
  /** Memory of one GPU in GiB. */
  gpuMemoryGib: number | null;
  /** On-demand USD per hour. */
  priceHourlyUsd: number | null;
  /** Spot USD per hour. */
  spotPriceHourlyUsd: number | null;
}

/** Where a provider's CSV came from: its date, sources and known gaps. */
export interface CatalogProvenanceV1 {
  /** The date of the prices, YYYY-MM-DD. */
  dataDate: string;
  origins: CatalogOriginV1[];
  notes?: string[];
}

/** One provider's CSV text and its provenance. */
export interface CatalogCsvSource {
  provider: string;
  /** The CSV, header included; its SHA-256 and size are recorded in the catalog. */
  csv: string;
  /** The CSV's file name recorded in the catalog; `<provider>.csv` by default. */
  file?: string;
  /** Names the CSV in error messages (e.g. its full path); `file` by default. */
  label?: string;
  provenance: CatalogProvenanceV1;
  /** True when the CSV's SHA-256 is the one SOURCE.md lists (shipped catalog only). */
  listedInSourceNotes?: boolean;
}

export interface BuildCatalogDataOptions {
  /** The providers, in the order they are stored. */
  sources: CatalogCsvSource[];
  /** Recorded as `generator`, e.g. `packages/pricing/scripts/build-catalog.mjs`. */
  generator: string;
  /** Per-provider disk rates; none by default. */
  storage?: Record<string, CatalogStorageV1>;
  /** YYYY-MM-DD or YYYY-MM-DD.N; the newest `dataDate` by default. */
  version?: string;
}

const formatCell = (value: number | string | null): string => (value === null ? '' : String(value));

/**
 * Writes rows as a catalog CSV: the header, then one line per row sorted by (instance type,
 * region), the order every catalog CSV uses. Throws when a cell would break the format.
 */
export function catalogCsv(rows: readonly CatalogCsvRow[]): string {
  const sorted = [...rows].sort((a, b) =>
    a.instanceType === b.instanceType
      ? compareText(a.region, b.region)
      : compareText(a.instanceType, b.instanceType),
  );
  const lines = [CATALOG_CSV_HEADER];
  for (const row of sorted) {
    const cells = [
      row.provider,
      row.instanceType,
      row.region,
      '',
      formatCell(row.vcpus),
      formatCell(row.memoryGib),
      formatCell(row.gpuModel),
      formatCell(row.gpuCount),
      formatCell(row.gpuMemoryGib),
      formatCell(row.priceHourlyUsd),
      formatCell(row.spotPriceHourlyUsd),
    ];
    const bad = cells.find((cell) => /[,\n\r"]/.test(cell));
    if (bad !== undefined)
      throw new Error(`${row.provider} ${row.instanceType}: cell ${bad} has a , " or newline`);
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function parseNumber(text: string, where: string): number | null {
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${where}: not a non-negative number: ${text}`);
  return value;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Reads the size name's GPU model where Azure's name carries it, e.g. Standard_NC24ads_A100_v4. */
const AZURE_GPU_NAMES = ['A100', 'H100', 'H200', 'A10', 'T4', 'MI300X'];
function azureGpuModelFromName(name: string): string | null {
  const tokens = name.split('_');
  return AZURE_GPU_NAMES.find((model) => tokens.includes(model)) ?? null;
}

function flagsFor(provider: string, name: string): number {
  let flags = 0;
  if (provider === 'gcp' && /^(e2-micro|e2-small|e2-medium|f1-micro|g1-small)$/.test(name))
    flags |= TYPE_FLAG_SHARED_CORE | TYPE_FLAG_BURSTABLE;
  if (provider === 'aws' && /^(t1|t2|t3|t3a|t4g)\./.test(name)) flags |= TYPE_FLAG_BURSTABLE;
  if (provider === 'azure' && /^Standard_B\d/.test(name)) flags |= TYPE_FLAG_BURSTABLE;
  return flags;
}

interface ParsedCsv {
  regions: string[];
  gpuModels: string[];
  types: CatalogTypesV1;
  rows: CatalogProviderV1['rows'];
}

function parseCsv(provider: string, text: string, label: string): ParsedCsv {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== CATALOG_CSV_HEADER) throw new Error(`${label}: unexpected header: ${lines[0]}`);
  const regions: string[] = [];
  const regionIndex = new Map<string, number>();
  const gpuModels: string[] = [];
  const gpuIndex = new Map<string, number>();
  const types: CatalogTypesV1 = {
    name: [],
    vcpus: [],
    memoryGib: [],
    gpuModel: [],
    gpuCount: [],
    gpuMemoryGib: [],
    flags: [],
    rows: [],
  };
  const rows: ParsedCsv['rows'] = { region: [], price: [], spot: [] };
  const seenTypes = new Set<string>();
  const seenPairs = new Set<string>();
  let current = null as { name: string; spec: string } | null;
  for (let index = 1; index < lines.length; index++) {
    const where = `${label}:${index + 1}`;
    const cells = lines[index]!.split(',');
    if (cells.length !== 11) throw new Error(`${where}: expected 11 columns, got ${cells.length}`);
    const [rowProvider, name, region, , vcpus, memory, gpuModelText, gpuCount, gpuMemory, price, spot] =
      cells as [string, string, string, string, string, string, string, string, string, string, string];
    if (rowProvider !== provider) throw new Error(`${where}: provider ${rowProvider} in ${provider}.csv`);
    if (!name || !region) throw new Error(`${where}: empty instance_type or region`);
    if (seenPairs.has(`${name}\u0000${region}`)) throw new Error(`${where}: duplicate ${name} ${region}`);
    seenPairs.add(`${name}\u0000${region}`);
    const spec = [vcpus, memory, gpuModelText, gpuCount, gpuMemory].join(',');
    if (current?.name !== name) {
      // Rows are stored in file order, grouped by type; the run lengths give each row its type.
      if (seenTypes.has(name)) throw new Error(`${where}: rows of ${name} are not contiguous`);
      seenTypes.add(name);
      let model = gpuModelText || null;
      let flags = flagsFor(provider, name);
      if (!model && provider === 'azure' && gpuCount) {
        model = azureGpuModelFromName(name);
        if (model) flags |= TYPE_FLAG_GPU_MODEL_FROM_NAME;
      }
      let modelIndex = -1;
      if (model) {
        if (!gpuIndex.has(model)) {
          gpuIndex.set(model, gpuModels.length);
          gpuModels.push(model);
        }
        modelIndex = gpuIndex.get(model)!;
      }
      types.name.push(name);
      types.vcpus.push(parseNumber(vcpus, where));
      types.memoryGib.push(parseNumber(memory, where));
      types.gpuModel.push(modelIndex);
      types.gpuCount.push(gpuCount ? parseNumber(gpuCount, where)! : 0);
      types.gpuMemoryGib.push(parseNumber(gpuMemory, where));
      types.flags.push(flags);
      types.rows.push(0);
      current = { name, spec };
    } else if (current.spec !== spec) throw new Error(`${where}: specs of ${name} differ between regions`);
    types.rows[types.rows.length - 1]!++;
    if (!regionIndex.has(region)) {
      regionIndex.set(region, regions.length);
      regions.push(region);
    }
    rows.region.push(regionIndex.get(region)!);
    rows.price.push(parseNumber(price, where));
    rows.spot.push(parseNumber(spot, where));
  }
  return { regions, gpuModels, types, rows };
}

/** Marks Azure rows whose price looks like a Windows price; see SUSPECT_RULE. */
function findSuspects(data: ParsedCsv): CatalogProviderV1['suspect'] {
  const { types, rows } = data;
  const rowType: number[] = [];
  types.rows.forEach((count, type) => {
    for (let i = 0; i < count; i++) rowType.push(type);
  });
  const typeIndex = new Map(types.name.map((name, index) => [name, index]));
  // Region level: how expensive each region is, judged over every priced size.
  const pricesBySize = new Map<number, number[]>();
  rowType.forEach((type, row) => {
    const price = rows.price[row];
    if (price === null || price === undefined) return;
    if (!pricesBySize.has(type)) pricesBySize.set(type, []);
    pricesBySize.get(type)!.push(price);
  });
  const sizeMedian = new Map([...pricesBySize].map(([type, prices]) => [type, median(prices)]));
  const relativeByRegion = new Map<number, number[]>();
  rowType.forEach((type, row) => {
    const price = rows.price[row];
    if (price === null || price === undefined) return;
    const region = rows.region[row]!;
    if (!relativeByRegion.has(region)) relativeByRegion.set(region, []);
    relativeByRegion.get(region)!.push(price / sizeMedian.get(type)!);
  });
  const regionLevel = new Map([...relativeByRegion].map(([region, values]) => [region, median(values)]));
  // Families, and each candidate row's region-adjusted per-vCPU price.
  const families = new Map<string, { row: number; value: number; burstable: boolean }[]>();
  rowType.forEach((type, row) => {
    const price = rows.price[row];
    if (price === null || price === undefined || types.vcpus[type] === null || types.gpuCount[type]! > 0)
      return;
    const match = /^(?:Standard|Basic)_([A-Z]+)(\d+)(-\d+)?([a-z]*)(_.*)?$/.exec(types.name[type]!);
    if (!match) return;
    let vcpus = types.vcpus[type]!;
    if (match[3]) {
      const parent = typeIndex.get(types.name[type]!.replace(/-\d+/, ''));
      if (parent === undefined || types.vcpus[parent] === null) return;
      vcpus = types.vcpus[parent]!;
    }
    if (!vcpus) return;
    const family = `${match[1]}${match[4]}${(match[5] ?? '').replace(/_Promo$/, '')}`;
    if (!families.has(family)) families.set(family, []);
    families.get(family)!.push({
      row,
      value: price / vcpus / regionLevel.get(rows.region[row]!)!,
      burstable: (types.flags[type]! & TYPE_FLAG_BURSTABLE) !== 0,
    });
  });
  const suspect = { rows: [] as number[], ratio: [] as number[] };
  for (const members of families.values()) {
    if (members.length < SUSPECT_MIN_GROUP) continue;
    const middle = median(members.map((member) => member.value));
    for (const member of members) {
      const ratio = member.value / middle;
      if (ratio > SUSPECT_THRESHOLD || (ratio < SUSPECT_LOW_THRESHOLD && !member.burstable)) {
        suspect.rows.push(member.row);
        suspect.ratio.push(Number(ratio.toPrecision(3)));
      }
    }
  }
  const order = suspect.rows.map((_row, index) => index).sort((a, b) => suspect.rows[a]! - suspect.rows[b]!);
  return {
    rows: order.map((index) => suspect.rows[index]!),
    ratio: order.map((index) => suspect.ratio[index]!),
  };
}

/**
 * Builds a catalog from per-provider CSVs: columnar types and rows, GPU models read from Azure
 * size names, the shared-core/burstable flags, the Azure suspect rows, and each provider's
 * provenance with the CSV's SHA-256. Deterministic: the same inputs give the same JSON.
 * Throws an Error naming the CSV line on a malformed CSV.
 */
export function buildCatalogData(options: BuildCatalogDataOptions): CatalogDataV1 {
  const catalog: CatalogDataV1 = {
    format: 'bp-price-catalog',
    formatVersion: 1,
    version: '',
    generator: options.generator,
    suspectRule: SUSPECT_RULE,
    providers: {},
    storage: options.storage ?? {},
  };
  const dates: string[] = [];
  for (const source of options.sources) {
    const { provider, csv, provenance } = source;
    const file = source.file ?? `${provider}.csv`;
    const data = parseCsv(provider, csv, source.label ?? file);
    dates.push(provenance.dataDate);
    catalog.providers[provider] = {
      dataDate: provenance.dataDate,
      source: {
        file,
        sha256: process.getBuiltinModule('node:crypto').createHash('sha256').update(csv).digest('hex'),
        bytes: Buffer.byteLength(csv),
        rows: data.rows.region.length,
        listedInSourceNotes: source.listedInSourceNotes,
        origins: provenance.origins,
      },
      notes: provenance.notes ?? [],
      regions: data.regions,
      gpuModels: data.gpuModels,
      types: data.types,
      rows: data.rows,
      suspect: provider === 'azure' ? findSuspects(data) : { rows: [], ratio: [] },
    };
  }
  catalog.version = options.version ?? dates.sort().at(-1) ?? '';
  if (!VERSION_PATTERN.test(catalog.version))
    throw new Error(`version must look like 2026-07-30 or 2026-07-30.2, not ${catalog.version}`);
  return catalog;
}
