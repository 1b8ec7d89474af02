import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { catalogInfo, cheapest, installCatalog, loadCatalog, validateCatalog } from '@bp/pricing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCatalog,
  type ImportResult,
  importAws,
  importAzure,
  importGcp,
  writeCatalog,
} from '../src/index.js';
import {
  awsResponder,
  azureResponder,
  gcpResponder,
  type RecordedServer,
  startServer,
} from './recorded-server.js';

const now = () => new Date('2026-11-20T09:00:00Z');
const servers: RecordedServer[] = [];
let results: ImportResult[] = [];
let directory = '';

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'bp-pricing-importers-'));
  const [aws, azure, gcp] = await Promise.all([awsResponder, azureResponder, gcpResponder].map(startServer));
  servers.push(aws!, azure!, gcp!);
  results = await Promise.all([
    importAws({
      regions: ['us-east-1', 'eu-west-1'],
      pricingEndpoint: aws!.url,
      ec2Endpoint: aws!.url,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      now,
    }),
    importAzure({ regions: ['eastus', 'westeurope'], endpoint: `${azure!.url}/api/retail/prices`, now }),
    importGcp({ endpoint: `${gcp!.url}/v1`, apiKey: 'testing', now }),
  ]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(directory, { recursive: true, force: true });
});

const byProvider = () => ({
  rows: Object.fromEntries(results.map((result) => [result.provider, result.rows])),
  provenance: Object.fromEntries(results.map((result) => [result.provider, result.provenance])),
});

describe('buildCatalog and writeCatalog', () => {
  it('build a valid catalog that installCatalog takes and bp then prices with', () => {
    const { rows, provenance } = byProvider();
    const data = buildCatalog(rows, provenance);
    expect(validateCatalog(data)).toEqual(data);
    expect(data).toMatchObject({
      format: 'bp-price-catalog',
      version: '2026-11-20',
      generator: '@bp/pricing-importers',
    });
    expect(Object.keys(data.providers)).toEqual(['aws', 'gcp', 'azure']);
    expect(data.providers.azure!.source).toMatchObject({ file: 'azure-api.csv', rows: 7 });
    expect(data.providers.aws!.dataDate).toBe('2026-11-20');
    expect(data.providers.azure!.gpuModels).toEqual(['A100']);
    // The shipped catalog's GCP disk rates are kept.
    expect(data.storage.gcp!.byRegion['us-central1']).toBe(0.1);

    const file = join(directory, 'catalog.json.gz');
    const written = writeCatalog(file, data);
    expect(written.bytes).toBe(readFileSync(file).length);
    expect(JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'))).toEqual(data);

    const userDir = join(directory, 'user');
    expect(installCatalog(file, userDir)).toMatchObject({ version: '2026-11-20', active: true });
    const catalog = loadCatalog({ userDir });
    expect(catalog.origin).toBe('user');
    const request = { cpu: 2, memoryGb: 8, storageGb: 0, gpuCount: 0, spot: false };
    // The Linux price (the shipped catalog has the Windows 0.178 for this size).
    expect(cheapest({ catalog, request, provider: 'azure', region: 'eastus' })).toMatchObject({
      instanceType: 'Standard_D2as_v5',
      hourlyUsd: 0.086,
      spotHourlyUsd: 0.0118,
    });
    expect(
      cheapest({ catalog, request: { ...request, spot: true }, provider: 'aws', region: 'us-east-1' }),
    ).toMatchObject({ instanceType: 'm5.large', hourlyUsd: 0.0375, spotPriceKnown: true });
    expect(
      cheapest({ catalog, request: { ...request, gpuCount: 1, gpuModel: 'A100' }, provider: 'azure' }),
    ).toMatchObject({ instanceType: 'Standard_NC24ads_A100_v4', gpuModelFromName: true });
    const info = catalogInfo({ catalog });
    expect(info.providers.gcp!.source.origins[0]).toMatchObject({ repository: 'Cloud Billing Catalog API' });
    expect(info.providers.aws).toMatchObject({ rows: 8, withSpot: 4, regions: 2 });
  });

  it('keeps the providers that were not imported from the base, or only the imported ones', () => {
    const { rows, provenance } = byProvider();
    const shipped = loadCatalog().data;
    const azureOnly = buildCatalog({ azure: rows.azure }, provenance);
    expect(azureOnly.providers.aws).toEqual(shipped.providers.aws);
    expect(azureOnly.providers.azure!.source.file).toBe('azure-api.csv');
    const alone = buildCatalog({ azure: rows.azure }, provenance, { base: null });
    expect(Object.keys(alone.providers)).toEqual(['azure']);
    expect(alone.storage).toEqual({});
  });

  it('gives a second import on the same day a newer version', () => {
    const { rows, provenance } = byProvider();
    const first = buildCatalog(rows, provenance);
    expect(buildCatalog(rows, provenance, { base: first }).version).toBe('2026-11-20.1');
    expect(buildCatalog(rows, provenance, { version: '2026-12-01' }).version).toBe('2026-12-01');
  });

  it('refuses to write an invalid catalog', () => {
    const { rows, provenance } = byProvider();
    const data = buildCatalog(rows, provenance);
    data.providers.aws!.rows.price[0] = -1;
    expect(() => writeCatalog(join(directory, 'bad.json.gz'), data)).toThrow(
      /providers\.aws\.rows\.price\.0/,
    );
  });
});
