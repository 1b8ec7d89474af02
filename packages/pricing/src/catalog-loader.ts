import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { ValidationError } from '@bp/provider';
import { type CatalogDataV1, compareCatalogVersions, validateCatalog } from './catalog-data.js';
import { type CatalogInfo, PriceCatalog } from './price-catalog.js';

/** The file name {@link installCatalog} writes inside the user's directory. */
export const USER_CATALOG_FILE = 'price-catalog.json.gz';

/** Path of the catalog shipped inside this package (`catalog/catalog.json.gz`). */
export function shippedCatalogPath(): string {
  // src/ and dist/ both sit one level below the package root, next to catalog/.
  return fileURLToPath(new URL('../catalog/catalog.json.gz', import.meta.url));
}

export interface LoadCatalogOptions {
  /**
   * Directory of the user's catalog (written by {@link installCatalog}), e.g. `$BP_HOME/catalog`.
   * Its catalog is used when its version is newer than the shipped one.
   */
  userDir?: string;
  /** Load exactly this catalog file (gzipped or plain JSON) instead; it is validated. */
  file?: string;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

function decode(bytes: Buffer, file: string): unknown {
  let text: string;
  try {
    text =
      bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1
        ? gunzipSync(bytes).toString('utf8')
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

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ValidationError({ reason: `cannot read: ${(error as Error).message}`, file, cause: error });
  }
}

/** Reads and validates a catalog file (gzipped or plain JSON). */
export function readCatalogFile(file: string): { data: CatalogDataV1; bytes: number } {
  const bytes = readBytes(file);
  return { data: validateCatalog(decode(bytes, file), { file }), bytes: bytes.length };
}

let shipped: PriceCatalog | undefined;
let shippedVersionCache: string | undefined;
const userCache = new Map<string, { stamp: string; catalog: PriceCatalog }>();

function loadShipped(): PriceCatalog {
  if (shipped) return shipped;
  const path = shippedCatalogPath();
  const bytes = readFileSync(path);
  // The shipped file is built and tested with the package, so its shape is trusted here;
  // user files always go through validateCatalog.
  const data = JSON.parse(gunzipSync(bytes).toString('utf8')) as CatalogDataV1;
  shipped = new PriceCatalog(data, { origin: 'shipped', path, bytes: bytes.length });
  shippedVersionCache = data.version;
  return shipped;
}

/**
 * The shipped catalog's version, read from the head of the file without decompressing all of
 * it: the build writes `version` among the first keys.
 */
export function shippedCatalogVersion(): string {
  if (shippedVersionCache) return shippedVersionCache;
  const bytes = readFileSync(shippedCatalogPath());
  const head = gunzipSync(bytes.subarray(0, Math.min(bytes.length, 4096)), {
    finishFlush: constants.Z_SYNC_FLUSH,
  }).toString('utf8');
  const found = /"version":"([^"]+)"/.exec(head);
  shippedVersionCache = found ? found[1]! : loadShipped().version;
  return shippedVersionCache;
}

/**
 * The catalog to price with: the user's (from `userDir`) when it is valid and newer than the
 * shipped one, else the shipped one; or exactly `file` when given. Nothing is read until this is
 * called; results are cached per file (and reloaded when the file changes).
 */
export function loadCatalog(options: LoadCatalogOptions = {}): PriceCatalog {
  if (options.file) {
    const { data, bytes } = readCatalogFile(options.file);
    return new PriceCatalog(data, { origin: 'file', path: options.file, bytes });
  }
  if (!options.userDir) return loadShipped();
  const path = join(options.userDir, USER_CATALOG_FILE);
  let stamp: string;
  try {
    const stat = statSync(path);
    stamp = `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return loadShipped();
  }
  const cached = userCache.get(path);
  if (cached?.stamp === stamp) return cached.catalog;
  let catalog: PriceCatalog;
  try {
    const { data, bytes } = readCatalogFile(path);
    const shippedVersion = shippedCatalogVersion();
    if (compareCatalogVersions(data.version, shippedVersion) > 0) {
      catalog = new PriceCatalog(data, { origin: 'user', path, bytes });
    } else {
      const base = loadShipped();
      catalog = new PriceCatalog(base.data, {
        origin: 'shipped',
        path: base.path,
        bytes: base.bytes,
        warnings: [
          `user catalog ${path} (version ${data.version}) is not newer than the shipped one (${shippedVersion}); using the shipped one`,
        ],
      });
    }
  } catch (error) {
    if (!ValidationError.isInstance(error)) throw error;
    const base = loadShipped();
    catalog = new PriceCatalog(base.data, {
      origin: 'shipped',
      path: base.path,
      bytes: base.bytes,
      warnings: [`user catalog skipped: ${error.message}; using the shipped one`],
    });
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
 * Validates the catalog in `file` (gzipped or plain JSON) and writes it, gzipped, as the user's
 * catalog in `userDir` (created if needed; the write is atomic). A catalog that is not newer than
 * the shipped one, or older than the user catalog it would replace, is refused (ValidationError
 * on `version`) unless `force` is set.
 */
export function installCatalog(
  file: string,
  userDir: string,
  options: { force?: boolean } = {},
): InstallCatalogResult {
  const bytes = readBytes(file);
  const data = validateCatalog(decode(bytes, file), { file });
  const shippedVersion = shippedCatalogVersion();
  const newer = compareCatalogVersions(data.version, shippedVersion) > 0;
  if (!newer && !options.force)
    throw new ValidationError({
      reason: `version ${data.version} is not newer than the shipped catalog's ${shippedVersion}`,
      path: 'version',
      file,
    });
  const path = join(userDir, USER_CATALOG_FILE);
  let replacedVersion: string | undefined;
  try {
    replacedVersion = readCatalogFile(path).data.version;
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
  const gzipped =
    bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1
      ? bytes
      : gzipSync(JSON.stringify(data), { level: 9 });
  mkdirSync(userDir, { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, gzipped);
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
  userCache.delete(path);
  return { path, version: data.version, replacedVersion, shippedVersion, active: newer };
}

/** {@link PriceCatalog.info} of the catalog {@link loadCatalog} picks (or of `catalog`). */
export function catalogInfo(
  options: LoadCatalogOptions & { catalog?: PriceCatalog; now?: Date } = {},
): CatalogInfo {
  return (options.catalog ?? loadCatalog(options)).info(options.now);
}
