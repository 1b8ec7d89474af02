import { loadCatalog } from '@bp/pricing';
import { CredentialsError, ProviderCallError } from '@bp/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { importGcp } from '../src/index.js';
import {
  failFirst,
  fixture,
  gcpResponder,
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

async function run(
  respond: Responder,
  credentials: { apiKey?: string; token?: string } = { apiKey: 'testing' },
) {
  server = await startServer(respond);
  return importGcp({ endpoint: `${server.url}/v1`, now, retryDelayMs: 1, maxRetries: 2, ...credentials });
}

const shape = (vcpus: number, memoryGib: number, gpu?: [string, number]) => ({
  vcpus,
  memoryGib,
  gpuModel: gpu?.[0] ?? null,
  gpuCount: gpu?.[1] ?? null,
  gpuMemoryGib: null,
});

describe('importGcp against recorded Cloud Billing Catalog responses', () => {
  it('prices machine types from core, RAM and GPU SKUs', async () => {
    const limited = failFirst(gcpResponder, (request) => request.query.has('pageToken'), {
      status: 429,
      body: fixture('gcp/error.rate-limited.json'),
    });
    const result = await run(limited);
    const find = (type: string, region: string) =>
      result.rows.find((row) => row.instanceType === type && row.region === region);

    // 2 × 0.031611 + 8 × 0.004237; spot 2 × 0.015553 + 8 × 0.002084. The Americas SKUs cover 2 regions.
    for (const region of ['us-central1', 'us-east1'])
      expect(find('n2-standard-2', region)).toEqual({
        provider: 'gcp',
        instanceType: 'n2-standard-2',
        region,
        ...shape(2, 8),
        priceHourlyUsd: 0.097118,
        spotPriceHourlyUsd: 0.047778,
      });
    // Belgium has no spot SKUs in the recording.
    expect(find('n2-standard-2', 'europe-west1')).toMatchObject({
      priceHourlyUsd: 0.106834,
      spotPriceHourlyUsd: null,
    });
    // Shared core: 0.25 × 0.021811 + 1 × 0.002923.
    expect(find('e2-micro', 'us-central1')).toMatchObject({ ...shape(0.25, 1), priceHourlyUsd: 0.00837575 });
    // N1 "Predefined" SKUs: 0.031611 + 3.75 × 0.004237.
    expect(find('n1-standard-1', 'us-central1')).toMatchObject({
      ...shape(1, 3.75),
      priceHourlyUsd: 0.04749975,
    });
    // 4 × 0.024988 + 16 × 0.002927 + 1 × 0.56 (L4); no spot G2 core SKU, so no spot price.
    expect(find('g2-standard-4', 'us-central1')).toEqual({
      provider: 'gcp',
      instanceType: 'g2-standard-4',
      region: 'us-central1',
      ...shape(4, 16, ['L4', 1]),
      priceHourlyUsd: 0.706784,
      spotPriceHourlyUsd: null,
    });
    expect(find('f1-micro', 'us-central1')).toMatchObject({
      priceHourlyUsd: 0.0076,
      spotPriceHourlyUsd: null,
    });
    // No SKUs for these: not priced.
    expect(find('g1-small', 'us-central1')).toBeUndefined();
    expect(find('c2-standard-4', 'us-central1')).toBeUndefined();
    expect(
      result.rows.some((row) => row.instanceType.startsWith('e2-') && row.region !== 'us-central1'),
    ).toBe(false);

    // Every n2 type in 3 regions; e2, n1, g2 and f1-micro in us-central1.
    const names = loadCatalog().data.providers.gcp!.types.name;
    const count = (prefix: string) => names.filter((name) => name.startsWith(prefix)).length;
    expect(result.rows).toHaveLength(3 * count('n2-') + count('e2-') + count('n1-') + count('g2-') + 1);

    const requests = server!.requests;
    expect(requests.map((request) => request.query.get('pageToken'))).toEqual([
      null,
      'CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA',
      'CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA',
    ]);
    expect(Object.fromEntries(requests[0]!.query)).toEqual({
      currencyCode: 'USD',
      pageSize: '5000',
      key: 'testing',
    });
    expect(result.provenance).toMatchObject({
      provider: 'gcp',
      requests: 3,
      fetchedAt: '2026-11-20T09:00:00.000Z',
    });
    expect(result.provenance.origins[0]).toMatchObject({
      repository: 'Cloud Billing Catalog API',
      note: '3 requests, 19 SKUs',
    });
    expect(result.provenance.origins[1]).toMatchObject({
      repository: 'Cyclenerd/google-cloud-pricing-cost-calculator',
    });
    // The commitment and custom SKUs (network SKUs are not Compute; T4 is read, but no type uses it).
    expect(result.provenance.notes.at(-1)).toBe(
      '2 Compute SKUs (commitments, custom, sole-tenant, licences, ...) were not used.',
    );
  });

  it('sends an OAuth token as a Bearer header instead of a key', async () => {
    await run(gcpResponder, { token: 'ya29.testing' });
    expect(server!.requests[0]!.headers.authorization).toBe('Bearer ya29.testing');
    expect(server!.requests[0]!.query.has('key')).toBe(false);
  });

  it('needs a key or a token', async () => {
    const error = await importGcp({ endpoint: 'http://127.0.0.1:9/v1' }).catch((caught) => caught);
    expect(CredentialsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'gcp', source: 'apiKey / token options' });
  });

  it('turns a 403 into a CredentialsError without the key in the message', async () => {
    const error = await run(() => ({ status: 403, body: fixture('gcp/error.permission-denied.json') }), {
      apiKey: 'secret-key',
    }).catch((caught) => caught);
    expect(CredentialsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'gcp', source: 'the apiKey option' });
    expect(error.message).toMatch(
      /^gcp skus.list: credentials refused \(HTTP 403: Cloud Billing API has not been used/,
    );
    expect(error.message).not.toContain('secret-key');
    expect(server!.requests).toHaveLength(1);
  });

  it('turns a rejected API key (400 API_KEY_INVALID) into a CredentialsError', async () => {
    const error = await run(() => ({ status: 400, body: fixture('gcp/error.api-key-invalid.json') })).catch(
      (caught) => caught,
    );
    expect(CredentialsError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      'gcp skus.list: credentials refused (HTTP 400: API key not valid. Please pass a valid API key.)',
    );
  });

  it('gives up on a lasting 500 with a retryable ProviderCallError', async () => {
    const error = await run(() => ({ status: 500, body: fixture('gcp/error.internal.json') })).catch(
      (caught) => caught,
    );
    expect(ProviderCallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      provider: 'gcp',
      operation: 'skus.list',
      statusCode: 500,
      isRetryable: true,
    });
    expect(error.message).toBe(
      'gcp skus.list failed after 3 attempts (HTTP 500: Internal error encountered.)',
    );
    expect(server!.requests).toHaveLength(3);
  });
});
