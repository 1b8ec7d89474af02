import { createRequire } from 'node:module';
import { ValidationError } from '@bp/provider';
import type { z as zod } from 'zod';

/** The catalog file format this package reads. A file with another `formatVersion` is refused. */
export const CATALOG_FORMAT_VERSION = 1 as const;

// The flag bits live with the builder that sets them (it runs without a bundler, see there).
export {
  TYPE_FLAG_BURSTABLE,
  TYPE_FLAG_GPU_MODEL_FROM_NAME,
  TYPE_FLAG_SHARED_CORE,
} from './catalog-builder.js';

/** Where one provider's CSV came from: a repository file at a commit. */
export interface CatalogOriginV1 {
  /** What the file provided, e.g. `prices (us-east-1)`, `specs`. */
  role: string;
  repository: string;
  license: string;
  /** The repository snapshot (HEAD) the file was read from, when known. */
  snapshot?: string;
  path: string;
  /** The commit that last changed the file. */
  commit: string;
  /** The data's date, YYYY-MM-DD. */
  date: string;
  note?: string;
}

/** Per instance type, columnar: entry `i` of every array describes type `i`. */
export interface CatalogTypesV1 {
  name: string[];
  /** vCPUs; null when the source has no specs (such types never fit a request). */
  vcpus: (number | null)[];
  /** Memory in GiB; null when unknown. */
  memoryGib: (number | null)[];
  /** Index into `gpuModels`, or -1 for none/unknown. */
  gpuModel: number[];
  gpuCount: number[];
  /** Memory of one GPU in GiB; null when unknown. */
  gpuMemoryGib: (number | null)[];
  /** TYPE_FLAG_* bits. */
  flags: number[];
  /** How many consecutive rows belong to this type (rows are grouped by type, in CSV order). */
  rows: number[];
}

/** Per (instance type, region) row, columnar, in the source CSV's order: row `i` is CSV line `i + 2`. */
export interface CatalogRowsV1 {
  /** Index into `regions`. */
  region: number[];
  /** On-demand USD per hour; null when the source has none (the row is never priced). */
  price: (number | null)[];
  /** Spot USD per hour; null when the source has none. */
  spot: (number | null)[];
}

export interface CatalogProviderV1 {
  /** The date of the provider's prices, YYYY-MM-DD. */
  dataDate: string;
  source: {
    /** The CSV's file name, e.g. `aws.csv`. */
    file: string;
    sha256: string;
    bytes: number;
    rows: number;
    /** True when the CSV's SHA-256 is the one SOURCE.md lists. */
    listedInSourceNotes?: boolean;
    origins: CatalogOriginV1[];
  };
  /** Known gaps and problems of this provider's data, one sentence each. */
  notes: string[];
  regions: string[];
  gpuModels: string[];
  types: CatalogTypesV1;
  rows: CatalogRowsV1;
  /** Rows flagged by the suspect rule (ascending row indexes) with their ratio to the family median. */
  suspect: { rows: number[]; ratio: number[] };
}

/** Per-GiB-month disk prices for one provider; an empty `byRegion` means not priced (see `note`). */
export interface CatalogStorageV1 {
  diskType: string;
  unit: string;
  byRegion: Record<string, number>;
  source?: Record<string, string>;
  note?: string;
}

/** The catalog file (gzipped JSON): see the README for the format and how it is built. */
export interface CatalogDataV1 {
  format: 'bp-price-catalog';
  formatVersion: typeof CATALOG_FORMAT_VERSION;
  /** YYYY-MM-DD or YYYY-MM-DD.N; a user catalog is preferred when this is newer than the shipped one. */
  version: string;
  generator: string;
  /** The rule that set the `suspect` rows, in words. */
  suspectRule: string;
  providers: Record<string, CatalogProviderV1>;
  storage: Record<string, CatalogStorageV1>;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}(\.\d+)?$/;

let schema: zod.ZodType<CatalogDataV1> | undefined;

// zod is loaded and the schema built on first use: importing zod alone costs ~50 ms, which
// `bp --help` and every estimate from the (trusted) shipped catalog should not pay.
function catalogSchema(): zod.ZodType<CatalogDataV1> {
  if (schema) return schema;
  const { z } = createRequire(import.meta.url)('zod') as { z: typeof zod };
  const amount = z.number().nonnegative();
  const index = z.number().int().nonnegative();
  const origin = z.object({
    role: z.string(),
    repository: z.string().min(1),
    license: z.string(),
    snapshot: z.string().optional(),
    path: z.string().min(1),
    commit: z.string().min(1),
    date: z.string().regex(DATE, 'expected a date like 2026-07-30'),
    note: z.string().optional(),
  });
  const provider = z
    .object({
      dataDate: z.string().regex(DATE, 'expected a date like 2026-07-30'),
      source: z.object({
        file: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex'),
        bytes: index,
        rows: index,
        listedInSourceNotes: z.boolean().optional(),
        origins: z.array(origin).min(1, 'every provider needs at least one source'),
      }),
      notes: z.array(z.string()),
      regions: z.array(z.string().min(1)).max(65_535),
      gpuModels: z.array(z.string().min(1)),
      types: z.object({
        name: z.array(z.string().regex(/^[^\n]+$/, 'expected an instance type name (one line)')).max(65_535),
        vcpus: z.array(amount.nullable()),
        memoryGib: z.array(amount.nullable()),
        gpuModel: z.array(z.number().int().min(-1)),
        gpuCount: z.array(amount),
        gpuMemoryGib: z.array(amount.nullable()),
        flags: z.array(index),
        rows: z.array(index),
      }),
      rows: z.object({
        region: z.array(index),
        price: z.array(amount.nullable()),
        spot: z.array(amount.nullable()),
      }),
      suspect: z.object({ rows: z.array(index), ratio: z.array(amount) }),
    })
    .superRefine((value, context) => {
      const typeCount = value.types.name.length;
      for (const key of [
        'vcpus',
        'memoryGib',
        'gpuModel',
        'gpuCount',
        'gpuMemoryGib',
        'flags',
        'rows',
      ] as const) {
        if (value.types[key].length !== typeCount)
          context.addIssue({
            code: 'custom',
            path: ['types', key],
            message: `has ${value.types[key].length} entries, types.name has ${typeCount}`,
          });
      }
      const rowCount = value.rows.region.length;
      for (const key of ['price', 'spot'] as const) {
        if (value.rows[key].length !== rowCount)
          context.addIssue({
            code: 'custom',
            path: ['rows', key],
            message: `has ${value.rows[key].length} entries, rows.region has ${rowCount}`,
          });
      }
      const covered = value.types.rows.reduce((sum, count) => sum + count, 0);
      if (covered !== rowCount)
        context.addIssue({
          code: 'custom',
          path: ['types', 'rows'],
          message: `covers ${covered} rows, the catalog has ${rowCount}`,
        });
      if (value.source.rows !== rowCount)
        context.addIssue({
          code: 'custom',
          path: ['source', 'rows'],
          message: `says ${value.source.rows} rows, the catalog has ${rowCount}`,
        });
      const firstBad = (values: number[], limit: number, min = 0) =>
        values.findIndex((entry) => entry < min || entry >= limit);
      const badRegion = firstBad(value.rows.region, value.regions.length);
      if (badRegion >= 0)
        context.addIssue({
          code: 'custom',
          path: ['rows', 'region', badRegion],
          message: `region index ${value.rows.region[badRegion]} is out of range (${value.regions.length} regions)`,
        });
      const badModel = firstBad(value.types.gpuModel, value.gpuModels.length, -1);
      if (badModel >= 0)
        context.addIssue({
          code: 'custom',
          path: ['types', 'gpuModel', badModel],
          message: `GPU model index ${value.types.gpuModel[badModel]} is out of range (${value.gpuModels.length} models)`,
        });
      if (value.suspect.ratio.length !== value.suspect.rows.length)
        context.addIssue({
          code: 'custom',
          path: ['suspect', 'ratio'],
          message: 'must have one entry per suspect row',
        });
      const badSuspect = firstBad(value.suspect.rows, rowCount);
      if (badSuspect >= 0)
        context.addIssue({
          code: 'custom',
          path: ['suspect', 'rows', badSuspect],
          message: `row ${value.suspect.rows[badSuspect]} is out of range (${rowCount} rows)`,
        });
    });
  const storage = z.object({
    diskType: z.string(),
    unit: z.string(),
    byRegion: z.record(z.string(), amount),
    source: z.record(z.string(), z.string()).optional(),
    note: z.string().optional(),
  });
  schema = z.object({
    format: z.literal('bp-price-catalog', {
      error: 'not a bp price catalog (format must be "bp-price-catalog")',
    }),
    formatVersion: z.literal(CATALOG_FORMAT_VERSION, {
      error: `unsupported formatVersion; this @bp/pricing reads ${CATALOG_FORMAT_VERSION}`,
    }),
    version: z.string().regex(VERSION_PATTERN, 'expected a version like 2026-07-30 or 2026-07-30.2'),
    generator: z.string(),
    suspectRule: z.string(),
    providers: z
      .record(z.string().regex(/^[a-z0-9-]+$/, 'expected a provider id like aws'), provider)
      .refine((value) => Object.keys(value).length > 0, 'the catalog has no providers'),
    storage: z.record(z.string(), storage),
  }) as unknown as zod.ZodType<CatalogDataV1>;
  return schema;
}

/**
 * Checks that `data` (a parsed catalog file) has the catalog's shape and consistent columns.
 * Returns it typed; throws a {@link ValidationError} whose `path` names the first bad key
 * (e.g. `providers.aws.rows.price.17`) and whose `file` is `options.file` when given.
 */
export function validateCatalog(data: unknown, options: { file?: string } = {}): CatalogDataV1 {
  const result = catalogSchema().safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ValidationError({
    reason: issue.message,
    path: issue.path.map(String).join('.') || undefined,
    file: options.file,
  });
}

/** Orders catalog versions: negative when `a` is older than `b`, 0 when equal. */
export function compareCatalogVersions(a: string, b: string): number {
  const [dateA = '', sequenceA = '0'] = a.split('.');
  const [dateB = '', sequenceB = '0'] = b.split('.');
  if (dateA !== dateB) return dateA < dateB ? -1 : 1;
  return Number(sequenceA) - Number(sequenceB);
}
