import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '@bp/provider';
import {
  CatalogFileError,
  type CatalogTables,
  dataFromTables,
  decodeCatalog,
  encodeCatalog,
  isBinaryCatalog,
  tablesFromData,
} from './catalog-binary.js';
import { type CatalogDataV1, compareCatalogVersions, validateCatalog } from './catalog-data.js';
import { type CatalogInfo, PriceCatalog } from './price-catalog.js';

/** The file name {@link installCatalog} writes inside the user's directory: the binary form. */
export const USER_CATALOG_FILE = 'price-catalog.bin';
/** What {@link installCatalog} wrote before the binary form (gzipped JSON); read when it is alone. */
const LEGACY_USER_CATALOG_FILE = 'price-catalog.json.gz';

/** Path of the catalog shipped inside this package (`catalog/catalog.bin`, the binary form). */
export function shippedCatalogPath(): string {
  // src/ and dist/ both sit one level below the package root, next to catalog/.
  return fileURLToPath(new URL('../catalog/catalog.bin', import.meta.url));
}

export interface LoadCatalogOptions {
  /**
   * Directory of the user's catalog (written by {@link installCatalog}), e.g. `$BP_HOME/catalog`.
   * Its catalog is used when its version is newer than the shipped one.
   */
  userDir?: string;
  /** Load exactly this catalog file (JSON, gzipped JSON or the binary form) instead; it is validated. */
  file?: string;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

// node:zlib is loaded only for gzipped JSON: the binary catalogs need no decompression, and
// importing zlib would cost every process that prices something a few milliseconds.
const zlib = () => process.getBuiltinModule('node:zlib');

function parseJson(bytes: Buffer, file: string): unknown {
  let text: string;
  try {
    text =
      bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1
        ? zlib().gunzipSync(bytes).toString('utf8')
        : bytes.toString('utf8');
  } catch (error) {
    throw new ValidationError({
      reason: `cannot decompress: ${(error as Error).message}`,
      file,
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError({ reason: `not valid JSON: ${(error as Error).message}`, file, cause: error });
  }
}

function decodeBinary(bytes: Buffer, file: string): CatalogTables {
  try {
    return decodeCatalog(bytes);
  } catch (error) {
    if (!(error instanceof CatalogFileError)) throw error;
    throw new ValidationError({ reason: error.message, file, cause: error });
  }
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ValidationError({ reason: `cannot read: ${(error as Error).message}`, file, cause: error });
  }
}

/** Reads and validates a catalog file: JSON, gzipped JSON or the binary form. */
export function readCatalogFile(file: string): { data: CatalogDataV1; bytes: number } {
  const bytes = readBytes(file);
  const parsed = isBinaryCatalog(bytes) ? dataFromTables(decodeBinary(bytes, file)) : parseJson(bytes, file);
  return { data: validateCatalog(parsed, { file }), bytes: bytes.length };
}

/**
 * Reads the user's catalog. The binary form is written by {@link installCatalog} from a validated
 * catalog, so only its structure is checked; a (legacy) JSON file is validated.
 */
function readUserCatalog(path: string): { tables: CatalogTables; bytes: number } {
  const bytes = readBytes(path);
  if (isBinaryCatalog(bytes)) return { tables: decodeBinary(bytes, path), bytes: bytes.length };
  return {
    tables: tablesFromData(validateCatalog(parseJson(bytes, path), { file: path })),
    bytes: bytes.length,
  };
}

/** The user's catalog file in `userDir`: the binary one, or the legacy JSON one when only it exists. */
function userCatalogPath(userDir: string): string {
  const path = join(userDir, USER_CATALOG_FILE);
  const legacy = join(userDir, LEGACY_USER_CATALOG_FILE);
  return !existsSync(path) && existsSync(legacy) ? legacy : path;
}

let shipped: PriceCatalog | undefined;
const userCache = new Map<string, { stamp: string; catalog: PriceCatalog }>();

function loadShipped(): PriceCatalog {
  if (shipped) return shipped;
  const path = shippedCatalogPath();
  const bytes = readFileSync(path);
  // The shipped file is built and tested with the package: like an installed one, it is trusted.
  shipped = new PriceCatalog(decodeCatalog(bytes), { origin: 'shipped', path, bytes: bytes.length });
  return shipped;
}

/** The shipped catalog's version. Loads the shipped catalog, which takes a few milliseconds once per process. */
export function shippedCatalogVersion(): string {
  return loadShipped().version;
}

/**
 * The catalog to price with: the user's (from `userDir`) when it is valid and newer than the
 * shipped one, else the shipped one; or exactly `file` when given. Nothing is read until this is
 * called; results are cached per file (and reloaded when the file changes).
 */
export function loadCatalog(options: LoadCatalogOptions = {}): PriceCatalog {
  if (options.file) {
    const { data, bytes } = readCatalogFile(options.file);
    return PriceCatalog.fromData(data, { origin: 'file', path: options.file, bytes });
  }
  if (!options.userDir) return loadShipped();
  const path = userCatalogPath(options.userDir);
  let stamp: string;
  try {
    const stat = statSync(path);
    stamp = `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return loadShipped();
  }
  const cached = userCache.get(path);
  if (cached?.stamp === stamp) return cached.catalog;
  const shippedWith = (warning: string) => {
    const base = loadShipped();
    return new PriceCatalog(base.tables, {
      origin: 'shipped',
      path: base.path,
      bytes: base.bytes,
      warnings: [warning],
    });
  };
  let catalog: PriceCatalog;
  try {
    const { tables, bytes } = readUserCatalog(path);
    const shippedVersion = shippedCatalogVersion();
    catalog =
      compareCatalogVersions(tables.version, shippedVersion) > 0
        ? new PriceCatalog(tables, { origin: 'user', path, bytes })
        : shippedWith(
            `user catalog ${path} (version ${tables.version}) is not newer than the shipped one (${shippedVersion}); using the shipped one`,
          );
  } catch (error) {
    if (!ValidationError.isInstance(error)) throw error;
    catalog = shippedWith(`user catalog skipped: ${error.message}; using the shipped one`);
  }
  userCache.set(path, { stamp, catalog });
  return catalog;
}

/** What {@link installCatalog} did. */
export interface InstallCatalogResult {
  /** Where the catalog was written. */
  path: string;
  version: string;
  /** The version of the user catalog it replaced, if there was one. */
  replacedVersion?: string;
  shippedVersion: string;
  /** True when {@link loadCatalog} with this `userDir` will now use it (newer than the shipped one). */
  active: boolean;
}

/**
 * Validates the catalog in `file` (JSON, gzipped JSON or the binary form) and installs it in the
 * binary form as the user's catalog in `userDir` (created if needed; the write is atomic). A
 * catalog that is not newer than the shipped one, or older than the user catalog it would
 * replace, is refused (ValidationError on `version`) unless `force` is set.
 */
export function installCatalog(
  file: string,
  userDir: string,
  options: { force?: boolean } = {},
): InstallCatalogResult {
  const { data } = readCatalogFile(file);
  const shippedVersion = shippedCatalogVersion();
  const newer = compareCatalogVersions(data.version, shippedVersion) > 0;
  if (!newer && !options.force)
    throw new ValidationError({
      reason: `version ${data.version} is not newer than the shipped catalog's ${shippedVersion}`,
      path: 'version',
      file,
    });
  let replacedVersion: string | undefined;
  try {
    replacedVersion = readUserCatalog(userCatalogPath(userDir)).tables.version;
  } catch {
    // No user catalog yet, or a damaged one: either way it is replaced.
    replacedVersion = undefined;
  }
  if (replacedVersion && compareCatalogVersions(data.version, replacedVersion) < 0 && !options.force)
    throw new ValidationError({
      reason: `version ${data.version} is older than the installed user catalog's ${replacedVersion}`,
      path: 'version',
      file,
    });
  const path = join(userDir, USER_CATALOG_FILE);
  mkdirSync(userDir, { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, encodeCatalog(data));
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  rmSync(join(userDir, LEGACY_USER_CATALOG_FILE), { force: true });
  userCache.delete(path);
  return { path, version: data.version, replacedVersion, shippedVersion, active: newer };
}

/** {@link PriceCatalog.info} of the catalog {@link loadCatalog} picks (or of `catalog`). */
export function catalogInfo(
  options: LoadCatalogOptions & { catalog?: PriceCatalog; now?: Date } = {},
): CatalogInfo {
  return (options.catalog ?? loadCatalog(options)).info(options.now);
}
