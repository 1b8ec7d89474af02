import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ValidationError } from '@bp/provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataFromTables, decodeCatalog, encodeCatalog, isBinaryCatalog } from '../src/catalog-binary.js';
import {
  type CatalogDataV1,
  catalogInfo,
  cheapest,
  installCatalog,
  loadCatalog,
  shippedCatalogPath,
  shippedCatalogVersion,
  USER_CATALOG_FILE,
  validateCatalog,
} from '../src/index.js';
import { CSV_DIR, HAVE_CSVS, readCsv } from './csv.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
/** A fresh copy of the shipped catalog in its JSON form. */
const shippedData = (): CatalogDataV1 => dataFromTables(decodeCatalog(readFileSync(shippedCatalogPath())));

function refusal(data: unknown, file?: string): ValidationError {
  try {
    validateCatalog(data, { file });
  } catch (error) {
    if (ValidationError.isInstance(error)) return error as ValidationError;
    throw error;
  }
  throw new Error('validateCatalog accepted the data');
}

describe('the shipped catalog', () => {
  it('is small, versioned and carries its provenance', () => {
    // The binary form is not compressed (it loads without decompressing): about 1.7 MiB.
    const bytes = statSync(shippedCatalogPath()).size;
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    const data = validateCatalog(shippedData());
    expect(data.version).toBe(shippedCatalogVersion());
    expect(Object.keys(data.providers)).toEqual(['aws', 'gcp', 'azure']);
    expect(data.providers.gcp!.source.origins[0]).toMatchObject({
      repository: 'Cyclenerd/google-cloud-pricing-cost-calculator',
      commit: 'fd66b26ff84fee5cdd94f341ea89206e76c06b99',
    });
    expect(data.providers.aws!.source.sha256).toBe(
      '4c9a76f9c42c20755fab0bab6807dea8d1b6f609ac0b336a6fbe2da74b0beae5',
    );
  });

  it('reports sources, dates and counts per provider', () => {
    const info = catalogInfo({ now: new Date('2026-08-30T00:00:00Z') });
    expect(info).toMatchObject({ origin: 'shipped', version: '2026-07-30', newestDataDate: '2026-07-30' });
    expect(info.oldestDataDate).toBe('2026-06-18');
    expect(info.ageDays).toBe(73);
    expect(info.providers.aws).toMatchObject({ dataDate: '2026-07-20', rows: 2686, regions: 3, withSpot: 0 });
    expect(info.providers.gcp).toMatchObject({
      dataDate: '2026-07-30',
      rows: 17669,
      withSpot: 17501,
      sharedCoreTypes: 5,
    });
    expect(info.providers.azure).toMatchObject({
      dataDate: '2026-06-18',
      rows: 65121,
      noPrice: 68,
      withSpot: 0,
    });
    expect(info.providers.azure!.suspect).toBeGreaterThan(500);
    expect(info.providers.aws!.noSpecs).toBe(33); // 18 types without specs, over their regions
    expect(info.rows).toBe(2686 + 17669 + 65121);
    expect(info.suspectRule).toMatch(/family/);
    expect(info.storage.gcp!.diskType).toBe('pd-balanced');
  });

  it.skipIf(!HAVE_CSVS)('counts what the CSVs hold (independent parse)', () => {
    const info = catalogInfo();
    for (const provider of ['aws', 'gcp', 'azure']) {
      const rows = readCsv(provider);
      expect(info.providers[provider]).toMatchObject({
        rows: rows.length,
        noPrice: rows.filter((row) => row.price === null).length,
        noSpecs: rows.filter((row) => row.vcpus === null || row.memoryGib === null).length,
        withSpot: rows.filter((row) => row.spot !== null).length,
        instanceTypes: new Set(rows.map((row) => row.instanceType)).size,
        regions: new Set(rows.map((row) => row.region)).size,
      });
      const sha = createHash('sha256')
        .update(readFileSync(join(CSV_DIR, `${provider}.csv`)))
        .digest('hex');
      expect(info.providers[provider]!.source.sha256).toBe(sha);
    }
  });

  it.skipIf(!HAVE_CSVS)(
    'is exactly what scripts/build-catalog.mjs makes from the CSVs, and holds the JSON catalog it makes',
    () => {
      const directory = mkdtempSync(join(tmpdir(), 'bp-pricing-build-'));
      const build = (out: string) => {
        const result = spawnSync(
          process.execPath,
          [join(PACKAGE, 'scripts/build-catalog.mjs'), '--from', CSV_DIR, '--out', out],
          { encoding: 'utf8' },
        );
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        return readFileSync(out);
      };
      try {
        expect(build(join(directory, 'catalog.bin')).equals(readFileSync(shippedCatalogPath()))).toBe(true);
        const json = JSON.parse(gunzipSync(build(join(directory, 'catalog.json.gz'))).toString('utf8'));
        expect(validateCatalog(json)).toEqual(json);
        expect(shippedData()).toEqual(json);
        expect(JSON.parse(build(join(directory, 'catalog.json')).toString('utf8'))).toEqual(json);
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    },
  );
});

describe('validateCatalog', () => {
  it('accepts the shipped data and refuses bad files with the key path', () => {
    expect(refusal({}).path).toBe('format');
    expect(refusal({ ...shippedData(), formatVersion: 2 }, 'new.json')).toMatchObject({
      path: 'formatVersion',
      file: 'new.json',
    });
    expect(refusal({ ...shippedData(), version: 'yesterday' }).path).toBe('version');
    expect(refusal({ ...shippedData(), providers: {} }).path).toBe('providers');

    const negative = shippedData();
    negative.providers.aws!.rows.price[5] = -1;
    expect(refusal(negative).path).toBe('providers.aws.rows.price.5');

    const short = shippedData();
    short.providers.gcp!.rows.spot.pop();
    expect(refusal(short)).toMatchObject({ path: 'providers.gcp.rows.spot' });

    const region = shippedData();
    region.providers.aws!.rows.region[7] = 99;
    expect(refusal(region)).toMatchObject({ path: 'providers.aws.rows.region.7' });
    expect(refusal(region).reason).toMatch(/out of range/);

    const runs = shippedData();
    runs.providers.azure!.types.rows[0]! += 1;
    expect(refusal(runs).path).toBe('providers.azure.types.rows');

    const noSource = shippedData();
    noSource.providers.aws!.source.origins = [];
    expect(refusal(noSource).path).toBe('providers.aws.source.origins');
  });
});

describe('installCatalog and the user catalog', () => {
  let directory: string;
  let userDir: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'bp-pricing-'));
    userDir = join(directory, 'home', 'catalog');
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const newerCatalog = (version: string): string => {
    const data = shippedData();
    data.version = version;
    // A recognisable change: m5.large in us-east-1 costs 0.01 in the "newer" data.
    const aws = data.providers.aws!;
    let row = 0;
    for (let type = 0; type < aws.types.name.length; type++) {
      if (aws.types.name[type] === 'm5.large') {
        for (let offset = 0; offset < aws.types.rows[type]!; offset++)
          if (aws.regions[aws.rows.region[row + offset]!] === 'us-east-1')
            aws.rows.price[row + offset] = 0.01;
      }
      row += aws.types.rows[type]!;
    }
    const file = join(directory, `catalog-${version}.json`);
    writeFileSync(file, JSON.stringify(data));
    return file;
  };
  const request = { cpu: 2, memoryGb: 8, storageGb: 0, gpuCount: 0, spot: false };

  it('validates, writes, and is preferred when newer', () => {
    expect(loadCatalog({ userDir }).origin).toBe('shipped');
    const result = installCatalog(newerCatalog('2099-01-01'), userDir);
    expect(result).toMatchObject({
      version: '2099-01-01',
      active: true,
      shippedVersion: shippedCatalogVersion(),
    });
    expect(result.path).toBe(join(userDir, USER_CATALOG_FILE));
    expect(isBinaryCatalog(readFileSync(result.path))).toBe(true); // stored in the binary form

    const catalog = loadCatalog({ userDir });
    expect(catalog.origin).toBe('user');
    expect(catalog.version).toBe('2099-01-01');
    expect(cheapest({ request, provider: 'aws', region: 'us-east-1', catalog })).toMatchObject({
      instanceType: 'm5.large',
      hourlyUsd: 0.01,
    });
    expect(catalogInfo({ userDir })).toMatchObject({ origin: 'user', version: '2099-01-01' });
    // The shipped catalog is unchanged for callers that do not ask for the user's.
    expect(cheapest({ request, instanceType: 'm5.large', region: 'us-east-1' })!.hourlyUsd).toBe(0.096);

    // A second, newer install replaces it (gzipped input is accepted too).
    const gz = join(directory, 'next.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(newerCatalog('2099-01-01.2'))));
    expect(installCatalog(gz, userDir)).toMatchObject({
      version: '2099-01-01.2',
      replacedVersion: '2099-01-01',
    });
    const reloaded = loadCatalog({ userDir });
    expect(reloaded.version).toBe('2099-01-01.2');
    // No silent downgrade of the user's catalog.
    expect(() => installCatalog(newerCatalog('2099-01-01'), userDir)).toThrow(/older than the installed/);
  });

  it('refuses an invalid or older catalog, and prefers the shipped one over an older user one', () => {
    const bad = join(directory, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'bp-price-catalog', formatVersion: 1 }));
    expect(() => installCatalog(bad, userDir)).toThrow(
      expect.objectContaining({ file: bad, path: 'version' }),
    );
    writeFileSync(bad, '{ not json');
    expect(() => installCatalog(bad, userDir)).toThrow(/not valid JSON/);
    expect(() => installCatalog(join(directory, 'missing.json'), userDir)).toThrow(ValidationError);

    const older = newerCatalog('2020-01-01');
    expect(() => installCatalog(older, userDir)).toThrow(
      expect.objectContaining({ path: 'version', reason: expect.stringMatching(/not newer/) }),
    );
    expect(installCatalog(older, userDir, { force: true })).toMatchObject({ active: false });
    const catalog = loadCatalog({ userDir });
    expect(catalog.origin).toBe('shipped');
    expect(catalog.warnings.join(' ')).toMatch(/not newer than the shipped one/);
  });

  it('skips a damaged user catalog with a warning instead of failing every estimate', () => {
    installCatalog(newerCatalog('2099-02-02'), userDir);
    const path = join(userDir, USER_CATALOG_FILE);
    writeFileSync(
      path,
      gzipSync(JSON.stringify({ format: 'bp-price-catalog', formatVersion: 1, version: '2099-02-03' })),
    );
    utimesSync(path, new Date(), new Date(Date.now() + 5000)); // a new stamp, so the cache reloads
    const catalog = loadCatalog({ userDir });
    expect(catalog.origin).toBe('shipped');
    expect(catalog.warnings.join(' ')).toMatch(/user catalog skipped/);
    expect(catalogInfo({ userDir }).warnings).toHaveLength(1);

    // A truncated binary file is skipped the same way.
    installCatalog(newerCatalog('2099-02-04'), userDir);
    expect(loadCatalog({ userDir }).version).toBe('2099-02-04');
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 1000));
    utimesSync(path, new Date(), new Date(Date.now() + 10_000));
    const truncated = loadCatalog({ userDir });
    expect(truncated.origin).toBe('shipped');
    expect(truncated.warnings.join(' ')).toMatch(/user catalog skipped: .*truncated/);
  });

  it('still reads a user catalog installed as gzipped JSON, and replaces it on the next install', () => {
    const legacy = join(userDir, 'price-catalog.json.gz');
    mkdirSync(userDir, { recursive: true });
    writeFileSync(legacy, gzipSync(readFileSync(newerCatalog('2099-04-04'))));
    expect(loadCatalog({ userDir })).toMatchObject({ origin: 'user', version: '2099-04-04', path: legacy });
    expect(installCatalog(newerCatalog('2099-04-05'), userDir)).toMatchObject({
      version: '2099-04-05',
      replacedVersion: '2099-04-04',
    });
    expect(existsSync(legacy)).toBe(false);
    expect(loadCatalog({ userDir })).toMatchObject({ origin: 'user', version: '2099-04-05' });
  });

  it('installs and loads a binary catalog file, validated like JSON', () => {
    const file = join(directory, 'newer.bin');
    writeFileSync(file, encodeCatalog(JSON.parse(readFileSync(newerCatalog('2099-05-05'), 'utf8'))));
    expect(loadCatalog({ file })).toMatchObject({ origin: 'file', version: '2099-05-05' });
    expect(installCatalog(file, userDir)).toMatchObject({ version: '2099-05-05', active: true });
    expect(
      cheapest({ request, provider: 'aws', region: 'us-east-1', catalog: loadCatalog({ userDir }) }),
    ).toMatchObject({ instanceType: 'm5.large', hourlyUsd: 0.01 });

    const negative = shippedData();
    negative.version = '2099-06-06';
    negative.providers.gcp!.rows.price[3] = -1;
    writeFileSync(file, encodeCatalog(negative));
    expect(() => installCatalog(file, userDir)).toThrow(
      expect.objectContaining({ path: 'providers.gcp.rows.price.3', file }),
    );
  });

  it('loads an explicit file, validated', () => {
    const file = newerCatalog('2099-03-03');
    expect(loadCatalog({ file })).toMatchObject({ origin: 'file', version: '2099-03-03' });
    const bad = join(directory, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...shippedData(), format: 'something-else' }));
    expect(() => loadCatalog({ file: bad })).toThrow(expect.objectContaining({ path: 'format', file: bad }));
  });
});
