// A local HTTP server (127.0.0.1, a free port) that answers with the recorded responses in
// test/fixtures, chosen by path, query, X-Amz-Target header and body, like the real APIs would.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body: string;
}

export type Responder = (request: RecordedRequest) => Reply;

export interface RecordedServer {
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startServer(respond: Responder): Promise<RecordedServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
    const request: RecordedRequest = {
      method: incoming.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: incoming.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(request);
    let reply: Reply;
    try {
      reply = respond(request);
    } catch (error) {
      // A request the fixtures do not cover: 404 (not retried), so the test fails clearly.
      reply = { status: 404, body: JSON.stringify({ error: { message: (error as Error).message } }) };
    }
    outgoing.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    outgoing.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The text of test/fixtures/<name>; throws (-> 404) when there is no such recording. */
export function fixture(name: string): string {
  try {
    return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  } catch {
    throw new Error(`no recorded response ${name}`);
  }
}

/** Answers the first `times` requests that `matches` with `reply`, then defers to `respond`. */
export function failFirst(
  respond: Responder,
  matches: (request: RecordedRequest) => boolean,
  reply: Reply,
  times = 1,
): Responder {
  let left = times;
  return (request) => {
    if (left > 0 && matches(request)) {
      left--;
      return reply;
    }
    return respond(request);
  };
}

/**
 * AWS: Price List GetProducts (JSON 1.1, `X-Amz-Target: AWSPriceListService.GetProducts`) by the
 * regionCode and tenancy filters and NextToken; EC2 DescribeInstanceTypes and
 * DescribeSpotPriceHistory (query protocol, XML) by Action, NextToken and the region of the
 * request's SigV4 credential scope.
 */
export const awsResponder: Responder = (request): Reply => {
  if (request.headers['x-amz-target'] === 'AWSPriceListService.GetProducts') {
    const input = JSON.parse(request.body) as {
      Filters: { Field: string; Value: string }[];
      NextToken?: string;
    };
    const filter = (field: string) => input.Filters.find((entry) => entry.Field === field)?.Value;
    const kind = filter('tenancy') === 'Dedicated' ? 'metal' : 'shared';
    const page = input.NextToken ? `.${input.NextToken}` : '';
    return {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fixture' },
      body: fixture(`aws/get-products.${filter('regionCode')}.${kind}${page}.json`),
    };
  }
  const form = new URLSearchParams(request.body);
  const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/ec2\//.exec(String(request.headers.authorization))?.[1];
  const action = (form.get('Action') ?? '').replace(/(?<=.)([A-Z])/g, '-$1').toLowerCase();
  const page = form.get('NextToken') ? `.${form.get('NextToken')}` : '';
  return {
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: fixture(`aws/${action}.${region}${page}.xml`),
  };
};

/** Azure Retail Prices: the page is chosen by `$skip` (none: page 1). */
export const azureResponder: Responder = (request) => {
  if (request.path !== '/api/retail/prices') throw new Error(`unexpected path ${request.path}`);
  const skip = Number(request.query.get('$skip') ?? 0);
  return { body: fixture(`azure/prices.page-${skip / 3 + 1}.json`) };
};

/** GCP Cloud Billing Catalog: `services/6F81-5844-456A/skus`, the page chosen by pageToken. */
export const gcpResponder: Responder = (request) => {
  if (request.path !== '/v1/services/6F81-5844-456A/skus') throw new Error(`unexpected path ${request.path}`);
  const pages: Record<string, number> = { '': 1, CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA: 2 };
  const page = pages[request.query.get('pageToken') ?? ''];
  if (!page) throw new Error(`unknown pageToken ${request.query.get('pageToken')}`);
  return { body: fixture(`gcp/skus.page-${page}.json`) };
};
