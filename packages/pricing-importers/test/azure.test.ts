import { AbortedError, ProviderCallError, ValidationError } from '@bp/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { importAzure } from '../src/index.js';
import {
  azureResponder,
  failFirst,
  fixture,
  type RecordedServer,
  type Responder,
  startServer,
} from './recorded-server.js';

const now = () => new Date('2026-11-20T09:00:00Z');

let server: RecordedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(respond: Responder, options: { maxRetries?: number; signal?: AbortSignal } = {}) {
  server = await startServer(respond);
  return importAzure({
    regions: ['eastus', 'westeurope'],
    endpoint: `${server.url}/api/retail/prices`,
    now,
    retryDelayMs: 1,
    ...options,
  });
}

const row = (instanceType: string, region: string, values: Record<string, unknown>) => ({
  provider: 'azure',
  instanceType,
  region,
  vcpus: null,
  memoryGib: null,
  gpuModel: null,
  gpuCount: null,
  gpuMemoryGib: null,
  spotPriceHourlyUsd: null,
  ...values,
});

describe('importAzure against recorded Retail Prices responses', () => {
  it('keeps Linux on-demand and Spot prices, with specs lent by the catalog', async () => {
    // Page 2 is rate-limited once (Retry-After: 0) and then served.
    const limited = failFirst(azureResponder, (request) => request.query.get('$skip') === '3', {
      status: 429,
      headers: { 'retry-after': '0' },
      body: fixture('azure/error.too-many-requests.json'),
    });
    const result = await run(limited);
    expect(result.rows).toEqual([
      row('Standard_B2s', 'eastus', { vcpus: 2, memoryGib: 4, priceHourlyUsd: 0.0416 }),
      // The Linux price, not the Windows 0.178 the offline catalog carries; Low Priority is ignored.
      row('Standard_D2as_v5', 'eastus', {
        vcpus: 2,
        memoryGib: 8,
        priceHourlyUsd: 0.086,
        spotPriceHourlyUsd: 0.0118,
      }),
      row('Standard_D2as_v5', 'westeurope', { vcpus: 2, memoryGib: 8, priceHourlyUsd: 0.104 }),
      // Listed twice: 0.096 (effective 2022) wins over 0.11 (2019).
      row('Standard_D2s_v3', 'eastus', {
        vcpus: 2,
        memoryGib: 8,
        priceHourlyUsd: 0.096,
        spotPriceHourlyUsd: 0.0144,
      }),
      row('Standard_D2s_v3', 'westeurope', { vcpus: 2, memoryGib: 8, priceHourlyUsd: 0.12 }),
      // The shipped catalog has no specs for this size.
      row('Standard_D2s_v7', 'eastus', { priceHourlyUsd: 0.132 }),
      // The GPU model is read from the name by the catalog builder, not here.
      row('Standard_NC24ads_A100_v4', 'eastus', {
        vcpus: 24,
        memoryGib: 220,
        gpuCount: 1,
        priceHourlyUsd: 3.673,
        spotPriceHourlyUsd: 0.7346,
      }),
    ]);

    const requests = server!.requests;
    expect(requests.map((request) => request.query.get('$skip'))).toEqual([null, '3', '3', '6']);
    expect(requests[0]!.query.get('$filter')).toBe(
      "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and (armRegionName eq 'eastus' or armRegionName eq 'westeurope')",
    );
    // NextPageLink names prices.azure.com:443; it was followed on the endpoint given.
    expect(requests.every((request) => request.path === '/api/retail/prices')).toBe(true);
    expect(requests[1]!.query.get('$filter')).toBe(requests[0]!.query.get('$filter'));
    expect(result.provenance).toMatchObject({
      provider: 'azure',
      requests: 4,
      fetchedAt: '2026-11-20T09:00:00.000Z',
    });
    expect(result.provenance.origins[0]).toMatchObject({
      repository: 'Azure Retail Prices API',
      date: '2026-11-20',
    });
    expect(result.provenance.origins.slice(1).map((origin) => origin.repository)).toContain(
      'kubernetes/autoscaler',
    );
    expect(result.provenance.notes.join(' ')).toMatch(
      /2 Windows items and 1 Low Priority items were left out.*\(4 sizes\); 1 sizes have none there.*1 items with a retail price of 0.*1 items that are not VM sizes.*1 meters were listed twice/,
    );
  });

  it('gives up on a lasting 500 with a retryable ProviderCallError', async () => {
    const error = await run(() => ({ status: 500, body: fixture('azure/error.internal.json') }), {
      maxRetries: 2,
    }).catch((caught) => caught);
    expect(ProviderCallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      provider: 'azure',
      operation: 'retail prices',
      statusCode: 500,
      isRetryable: true,
    });
    expect(error.message).toBe(
      'azure retail prices failed after 3 attempts (HTTP 500: An error occurred while processing the request. Please try again later.)',
    );
    expect(server!.requests).toHaveLength(3);
  });

  it('reports a 403 as a ProviderCallError: the API takes no credentials', async () => {
    const error = await run(() => ({
      status: 403,
      body: '{"Error":{"Code":"Forbidden","Message":"Forbidden"}}',
    })).catch((caught) => caught);
    expect(ProviderCallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 403, isRetryable: false });
    expect(server!.requests).toHaveLength(1);
  });

  it('refuses a region that would break the OData filter', async () => {
    const error = await importAzure({ regions: ["eastus' or 1 eq 1"] }).catch((caught) => caught);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(error.path).toBe('regions');
  });

  it('stops with AbortedError when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await run(azureResponder, { signal: controller.signal }).catch((caught) => caught);
    expect(AbortedError.isInstance(error)).toBe(true);
  });

  it('stops a runaway NextPageLink loop at maxPages', async () => {
    server = await startServer(() => ({ body: fixture('azure/prices.page-1.json') }));
    const error = await importAzure({ endpoint: `${server.url}/api/retail/prices`, maxPages: 3 }).catch(
      (caught) => caught,
    );
    expect(ProviderCallError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/more than 3 pages/);
    expect(server.requests).toHaveLength(3);
  });
});
