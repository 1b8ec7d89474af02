import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  buildCatalogData,
  type CatalogCsvRow,
  type CatalogDataV1,
  type CatalogOriginV1,
  type CatalogStorageV1,
  catalogCsv,
  loadCatalog,
  TYPE_FLAG_GPU_MODEL_FROM_NAME,
  validateCatalog,
} from '@bp/pricing';

/** Where an importer's rows came from. */
export interface ImportProvenance {
  /** Provider id: `aws`, `azure` or `gcp`. */
  provider: string;
  /** The APIs read, in words. */
  api: string;
  /** The endpoints called (base URLs; never a key). */
  endpoints: string[];
  /** When the import started, ISO 8601 (UTC). Its date becomes the catalog's `dataDate`. */
  fetchedAt: string;
  /** HTTP requests sent, retries included. */
  requests: number;
  /** The sources in the catalog's format: the API, and the catalog that lent specs, if any. */
  origins: CatalogOriginV1[];
  /** What could not be mapped, one sentence each; stored as the provider's `notes`. */
  notes: string[];
}

/** What an importer returns: rows in the catalog's column shape, and their provenance. */
export interface ImportResult {
  provider: string;
  /** One row per (instance type, region), sorted by instance type then region. */
  rows: CatalogCsvRow[];
  provenance: ImportProvenance;
}

export interface BuildCatalogOptions {
  /**
   * Providers that were not imported are copied unchanged from this catalog, and its `storage`
   * is kept. Default: the catalog shipped with @bp/pricing; `null` keeps only the imported ones.
   */
  base?: CatalogDataV1 | null;
  /** YYYY-MM-DD[.N]. Default: the newest fetch date, with `.N` added when `base` has that date. */
  version?: string;
  /** Per-provider disk rates; default `base.storage` (none without a base). */
  storage?: Record<string, CatalogStorageV1>;
}

const PROVIDER_ORDER = ['aws', 'gcp', 'azure'];

/**
 * Builds a catalog (`CatalogDataV1`) from imported rows with @bp/pricing's own builder, so it
 * gets the same flags, GPU models read from Azure size names and suspect rows as the shipped
 * one. Each provider's `dataDate` is its fetch date, its `source` the CSV written from its rows
 * (`<provider>-api.csv`, with its SHA-256) and its `notes` the importer's. The result passes
 * `validateCatalog`.
 */
export function buildCatalog(
  rowsByProvider: Partial<Record<string, CatalogCsvRow[]>>,
  provenance: Partial<Record<string, ImportProvenance>>,
  options: BuildCatalogOptions = {},
): CatalogDataV1 {
  const base = options.base === undefined ? loadCatalog().data : options.base;
  const imported = Object.keys(rowsByProvider).filter((provider) => rowsByProvider[provider]);
  const sources = imported.map((provider) => {
    const source = provenance[provider];
    if (!source) throw new Error(`buildCatalog: no provenance for ${provider}`);
    return {
      provider,
      csv: catalogCsv(rowsByProvider[provider]!),
      file: `${provider}-api.csv`,
      provenance: { dataDate: source.fetchedAt.slice(0, 10), origins: source.origins, notes: source.notes },
    };
  });
  const built = buildCatalogData({
    sources,
    generator: '@bp/pricing-importers',
    storage: options.storage ?? base?.storage ?? {},
    version: options.version ?? defaultVersion(sources, base),
  });
  const providers = { ...base?.providers, ...built.providers };
  const order = [...new Set([...PROVIDER_ORDER, ...Object.keys(providers)])].filter(
    (name) => providers[name],
  );
  return validateCatalog({
    ...built,
    providers: Object.fromEntries(order.map((name) => [name, providers[name]])),
  });
}

function defaultVersion(sources: { provenance: { dataDate: string } }[], base: CatalogDataV1 | null) {
  const date = sources
    .map((source) => source.provenance.dataDate)
    .sort()
    .at(-1);
  if (!date) throw new Error('buildCatalog: no provider was imported');
  const [baseDate, sequence = '0'] = (base?.version ?? '').split('.');
  // installCatalog takes only a newer version: a second import on the base's date gets `.N`.
  return baseDate === date ? `${date}.${Number(sequence) + 1}` : date;
}

/**
 * Writes `data` as gzipped JSON (what `bp catalog update --from FILE` and `installCatalog`
 * read), after validating it. The write is atomic. Returns the size in bytes.
 */
export function writeCatalog(file: string, data: CatalogDataV1): { file: string; bytes: number } {
  const gzipped = gzipSync(JSON.stringify(validateCatalog(data)), { level: 9 });
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, gzipped);
    renameSync(temporary, file);
  } finally {
    rmSync(temporary, { force: true });
  }
  return { file, bytes: gzipped.length };
}

/** Specs of one instance type, as an existing catalog has them. */
export interface TypeShape {
  vcpus: number | null;
  memoryGib: number | null;
  /** Null when unknown, or when the catalog only read it from the size name (the builder does that again). */
  gpuModel: string | null;
  gpuCount: number | null;
  gpuMemoryGib: number | null;
}

/** The instance types of `provider` in `catalog`, by name. */
export function catalogShapes(catalog: CatalogDataV1, provider: string): Map<string, TypeShape> {
  const shapes = new Map<string, TypeShape>();
  const entry = catalog.providers[provider];
  if (!entry) return shapes;
  const { types, gpuModels } = entry;
  types.name.forEach((name, index) => {
    const modelIndex = types.gpuModel[index]!;
    const fromName = (types.flags[index]! & TYPE_FLAG_GPU_MODEL_FROM_NAME) !== 0;
    shapes.set(name, {
      vcpus: types.vcpus[index]!,
      memoryGib: types.memoryGib[index]!,
      gpuModel: modelIndex >= 0 && !fromName ? gpuModels[modelIndex]! : null,
      gpuCount: types.gpuCount[index] || null,
      gpuMemoryGib: types.gpuMemoryGib[index]!,
    });
  });
  return shapes;
}

/** The origins of `catalog`'s `provider` data, relabelled as the source of the specs an importer lent. */
export function lentSpecOrigins(catalog: CatalogDataV1, provider: string, what: string): CatalogOriginV1[] {
  return (catalog.providers[provider]?.source.origins ?? [])
    .filter((origin) => /spec/.test(origin.role))
    .map((origin) => ({
      ...origin,
      role: `${what}, from bp catalog ${catalog.version} (${origin.role})`,
    }));
}

/** Turns a price into a clean number: float noise from sums and products is dropped at 12 digits. */
export const roundPrice = (value: number): number => Number(value.toPrecision(12));

/** Rows in catalog order: by instance type, then region. */
export function sortRows(rows: CatalogCsvRow[]): CatalogCsvRow[] {
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => compare(a.instanceType, b.instanceType) || compare(a.region, b.region));
}
