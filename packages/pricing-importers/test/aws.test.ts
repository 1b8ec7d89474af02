import { CredentialsError, ProviderCallError } from '@bp/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { importAws } from '../src/index.js';
import {
  awsResponder,
  failFirst,
  fixture,
  type RecordedServer,
  type Responder,
  startServer,
} from './recorded-server.js';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const now = () => new Date('2026-11-20T09:00:00Z');
const isGetProducts = (request: { headers: Record<string, unknown> }) =>
  request.headers['x-amz-target'] === 'AWSPriceListService.GetProducts';

let server: RecordedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(respond: Responder, regions = ['us-east-1', 'eu-west-1'], maxRetries = 2) {
  server = await startServer(respond);
  return importAws({
    regions,
    pricingEndpoint: server.url,
    ec2Endpoint: server.url,
    credentials,
    now,
    maxRetries,
  });
}

const row = (instanceType: string, region: string, values: Record<string, unknown>) => ({
  provider: 'aws',
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

describe('importAws against recorded Price List and EC2 responses', () => {
  it('merges on-demand prices, specs and spot prices into catalog rows', async () => {
    // The first GetProducts call is throttled once; the SDK retries it.
    const throttled = failFirst(awsResponder, isGetProducts, {
      status: 400,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: fixture('aws/error.throttling.json'),
    });
    const result = await run(throttled);
    expect(result.rows).toEqual([
      row('g5.xlarge', 'us-east-1', {
        vcpus: 4,
        memoryGib: 16,
        gpuModel: 'A10G',
        gpuCount: 1,
        gpuMemoryGib: 22888 / 1024,
        priceHourlyUsd: 1.006,
        spotPriceHourlyUsd: 0.4012,
      }),
      // Inferentia is not a GPU.
      row('inf2.xlarge', 'us-east-1', { vcpus: 4, memoryGib: 16, priceHourlyUsd: 0.7582 }),
      row('m5.large', 'eu-west-1', {
        vcpus: 2,
        memoryGib: 8,
        priceHourlyUsd: 0.107,
        spotPriceHourlyUsd: 0.0415,
      }),
      // Zones a 0.0392, b 0.0375 (its older 0.0300 is superseded), c 0.0401: the lowest current one.
      row('m5.large', 'us-east-1', {
        vcpus: 2,
        memoryGib: 8,
        priceHourlyUsd: 0.096,
        spotPriceHourlyUsd: 0.0375,
      }),
      // Bare metal comes from the second (tenancy Dedicated) query.
      row('m5.metal', 'us-east-1', { vcpus: 96, memoryGib: 384, priceHourlyUsd: 4.608 }),
      row('p4d.24xlarge', 'us-east-1', {
        vcpus: 96,
        memoryGib: 1152,
        gpuModel: 'A100',
        gpuCount: 8,
        gpuMemoryGib: 40,
        priceHourlyUsd: 21.957642,
      }),
      row('t3.micro', 'eu-west-1', { vcpus: 2, memoryGib: 1, priceHourlyUsd: 0.0114 }),
      row('t3.micro', 'us-east-1', {
        vcpus: 2,
        memoryGib: 1,
        priceHourlyUsd: 0.0104,
        spotPriceHourlyUsd: 0.0031,
      }),
    ]);

    const requests = server!.requests;
    // GetProducts: us-east-1 shared 2 pages + 1 throttled, metal 1; eu-west-1 2.
    // EC2: us-east-1 2 + 2 pages, eu-west-1 1 + 1.
    expect(requests.filter(isGetProducts)).toHaveLength(6);
    expect(requests).toHaveLength(12);
    expect(result.provenance).toMatchObject({
      provider: 'aws',
      fetchedAt: '2026-11-20T09:00:00.000Z',
      requests: 12,
      endpoints: [server!.url, server!.url],
    });
    expect(result.provenance.origins.map((origin) => origin.note)).toEqual([
      '6 GetProducts requests for us-east-1, eu-west-1',
      '3 DescribeInstanceTypes requests for us-east-1, eu-west-1',
      '3 DescribeSpotPriceHistory requests for us-east-1, eu-west-1',
    ]);
    expect(result.provenance.notes.join(' ')).toMatch(
      /1 type-region pairs had a spot price but no on-demand/,
    );

    const getProducts = JSON.parse(requests.find(isGetProducts)!.body);
    expect(getProducts).toMatchObject({ ServiceCode: 'AmazonEC2', FormatVersion: 'aws_v1' });
    expect(getProducts.Filters).toEqual(
      expect.arrayContaining(
        [
          ['operatingSystem', 'Linux'],
          ['preInstalledSw', 'NA'],
          ['capacitystatus', 'Used'],
          ['tenancy', 'Shared'],
        ].map(([Field, Value]) => ({ Type: 'TERM_MATCH', Field, Value })),
      ),
    );
    const spotQuery = new URLSearchParams(
      requests.find((request) => request.body.includes('Action=DescribeSpotPriceHistory'))!.body,
    );
    expect(spotQuery.get('ProductDescription.1')).toBe('Linux/UNIX');
    expect(spotQuery.get('StartTime')).toBe('2026-11-20T09:00:00Z');
    // The SDK signed the EC2 calls for each region's own scope.
    expect(String(requests.find((request) => !isGetProducts(request))!.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=testing\/\d{8}\/(us-east-1|eu-west-1)\/ec2\/aws4_request/,
    );
  });

  it('turns a 403 from the Price List API into a CredentialsError', async () => {
    const denied: Responder = (request) =>
      isGetProducts(request)
        ? { status: 403, body: fixture('aws/error.access-denied.json') }
        : awsResponder(request);
    const error = await run(denied, ['us-east-1']).catch((caught) => caught);
    expect(CredentialsError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'aws', source: 'the credentials option' });
    expect(error.message).toMatch(/^aws GetProducts: credentials refused \(AccessDeniedException, HTTP 403/);
  });

  it('turns an EC2 UnauthorizedOperation into a CredentialsError', async () => {
    const denied: Responder = (request) =>
      request.body.includes('Action=DescribeInstanceTypes')
        ? {
            status: 403,
            headers: { 'content-type': 'text/xml' },
            body: fixture('aws/error.unauthorized-operation.xml'),
          }
        : awsResponder(request);
    const error = await run(denied, ['us-east-1']).catch((caught) => caught);
    expect(CredentialsError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/DescribeInstanceTypes: credentials refused \(UnauthorizedOperation/);
  });

  it('gives up on a lasting 500 with a retryable ProviderCallError', async () => {
    const isShared = (request: { headers: Record<string, unknown>; body: string }) =>
      isGetProducts(request) && request.body.includes('"Shared"');
    const failing: Responder = (request) =>
      isShared(request) ? { status: 500, body: fixture('aws/error.internal.json') } : awsResponder(request);
    const error = await run(failing, ['us-east-1'], 1).catch((caught) => caught);
    expect(ProviderCallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      provider: 'aws',
      operation: 'GetProducts',
      statusCode: 500,
      isRetryable: true,
    });
    expect(error.message).toMatch(/^aws GetProducts failed \(InternalErrorException, HTTP 500/);
    // maxRetries 1: tried twice.
    expect(server!.requests.filter(isShared)).toHaveLength(2);
  });
});
