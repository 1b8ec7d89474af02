import { describe, expect, it } from 'vitest';
import {
  buildCatalogData,
  CATALOG_CSV_HEADER,
  type CatalogCsvRow,
  catalogCsv,
  TYPE_FLAG_BURSTABLE,
  TYPE_FLAG_GPU_MODEL_FROM_NAME,
  validateCatalog,
} from '../src/index.js';

const provenance = {
  dataDate: '2026-11-20',
  origins: [
    { role: 'prices', repository: 'test', license: 'n/a', path: 'rows', commit: 'none', date: '2026-11-20' },
  ],
};
const row = (instanceType: string, region: string, values: Partial<CatalogCsvRow> = {}): CatalogCsvRow => ({
  provider: 'azure',
  instanceType,
  region,
  vcpus: 2,
  memoryGib: 8,
  gpuModel: null,
  gpuCount: null,
  gpuMemoryGib: null,
  priceHourlyUsd: 0.1,
  spotPriceHourlyUsd: null,
  ...values,
});

describe('the shared catalog builder', () => {
  it('writes rows as a sorted catalog CSV with empty cells for unknowns', () => {
    const csv = catalogCsv([
      row('Standard_D2s_v3', 'westeurope', { priceHourlyUsd: 0.12 }),
      row('Standard_B2s', 'eastus', { memoryGib: 4, priceHourlyUsd: 0.0416, spotPriceHourlyUsd: 0.0083 }),
      row('Standard_D2s_v3', 'eastus', { priceHourlyUsd: 0.096 }),
    ]);
    expect(csv).toBe(
      [
        CATALOG_CSV_HEADER,
        'azure,Standard_B2s,eastus,,2,4,,,,0.0416,0.0083',
        'azure,Standard_D2s_v3,eastus,,2,8,,,,0.096,',
        'azure,Standard_D2s_v3,westeurope,,2,8,,,,0.12,',
        '',
      ].join('\n'),
    );
    expect(() => catalogCsv([row('a,b', 'eastus')])).toThrow(/a,b/);
  });

  it('builds a valid catalog with flags, GPU models from Azure names and provenance', () => {
    const csv = catalogCsv([
      row('Standard_B2s', 'eastus'),
      row('Standard_NC24ads_A100_v4', 'eastus', { vcpus: 24, memoryGib: 220, gpuCount: 1 }),
    ]);
    const data = buildCatalogData({
      sources: [{ provider: 'azure', csv, provenance }],
      generator: 'test',
    });
    expect(validateCatalog(data)).toEqual(data);
    expect(data.version).toBe('2026-11-20');
    const azure = data.providers.azure!;
    expect(azure.source).toMatchObject({ file: 'azure.csv', rows: 2, bytes: csv.length });
    expect(azure.types.flags).toEqual([TYPE_FLAG_BURSTABLE, TYPE_FLAG_GPU_MODEL_FROM_NAME]);
    expect(azure.gpuModels).toEqual(['A100']);
  });

  it('refuses malformed CSVs, naming the line', () => {
    const build = (rows: CatalogCsvRow[], csv = catalogCsv(rows)) =>
      buildCatalogData({
        sources: [{ provider: 'azure', csv, label: 'x.csv', provenance }],
        generator: 'test',
      });
    expect(() => build([row('A', 'eastus'), row('A', 'westeurope', { vcpus: 4 })])).toThrow(
      'x.csv:3: specs of A differ between regions',
    );
    expect(() => build([], `${CATALOG_CSV_HEADER}\nazure,A,eastus\n`)).toThrow(
      'x.csv:2: expected 11 columns, got 3',
    );
    expect(() => build([], 'provider,instance_type\n')).toThrow(/unexpected header/);
    expect(() =>
      buildCatalogData({
        sources: [{ provider: 'azure', csv: catalogCsv([]), provenance }],
        generator: 't',
        version: 'x',
      }),
    ).toThrow(/version must look like/);
  });
});
