// The Engine API's plain JSON calls (info, inspects, create, start) over a local socket, written straight
// onto the connection. dockerode's first call costs about 20 ms of CPU (its modules, Node's HTTP client,
// its request set-up) where this costs about 3: that is most of what a deploy spends before the engine
// starts working. It is used only where no TLS is involved (the engine's socket, plain TCP to a loopback
// engine); everything else, and every call on a TLS engine, goes through dockerode (engine-client.ts).
import type { Socket } from 'node:net';

/** One JSON call of the Engine API. */
export interface EngineRequest {
  method: 'GET' | 'POST';
  /** The API path, its variable parts made with `pathPart`: `/containers/${pathPart(id)}/json`. */
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON (POST). */
  body?: unknown;
  signal?: AbortSignal;
  /** Called with the answer's `Date` (the engine's clock, in whole seconds) when it has one. */
  onDate?: (engineMs: number) => void;
}

/** Where a plain connection to the engine goes. */
export type EngineAddress = { socketPath: string } | { host: string; port: number };

/**
 * An answer other than 2xx, shaped as docker-modem's errors are (statusCode, reason, json), so that one
 * error mapping (map-docker-error.ts) reads both.
 */
export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    readonly json: unknown,
  ) {
    super(`(HTTP code ${statusCode}) ${reason} - ${engineMessage(json)} `);
    this.name = 'EngineHttpError';
  }
}

/** An engine answer larger than this is refused (the calls made here answer a few KB). */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const REASONS: Record<number, string> = {
  304: 'not modified',
  400: 'bad parameter',
  404: 'no such object',
  409: 'conflict',
  500: 'server error',
};

/**
 * A name or id as one part of a path: percent-encoded except for the characters image references use
 * (`/`, `:`, `@`), so nothing a blueprint says can end the request line or add a header.
 */
export function pathPart(value: string): string {
  return encodeURIComponent(value).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

/** Sends `request` on a new connection to `address`; resolves to the parsed JSON answer (undefined when empty). */
export function engineRequest(address: EngineAddress, request: EngineRequest): Promise<unknown> {
  const { connect } = process.getBuiltinModule('node:net') as typeof import('node:net');
  const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const query = request.query ? `?${new URLSearchParams(request.query)}` : '';
  const head =
    `${request.method} ${request.path}${query} HTTP/1.1\r\nHost: docker\r\nUser-Agent: bp\r\nConnection: close\r\n` +
    (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
    '\r\n';
  return new Promise((resolve, reject) => {
    const { signal } = request;
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const socket: Socket =
      'socketPath' in address
        ? connect({ path: address.socketPath })
        : connect({ host: address.host, port: address.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const onAbort = () => settle(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    });
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        settle(
          new Error(
            `the engine's answer to ${request.method} ${request.path} exceeds ${MAX_RESPONSE_BYTES} bytes`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    socket.on('error', (error) => settle(error));
    socket.on('end', () => {
      try {
        settle(undefined, readResponse(Buffer.concat(chunks), request.onDate));
      } catch (error) {
        settle(error);
      }
    });
  });
}

/** The JSON of a complete HTTP/1.1 response, or an EngineHttpError for a status other than 2xx. */
export function readResponse(response: Buffer, onDate?: (engineMs: number) => void): unknown {
  const headerEnd = response.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw new Error('the engine closed the connection before a complete answer');
  const [statusLine = '', ...headerLines] = response.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`the engine answered something other than HTTP: ${statusLine.slice(0, 40)}`);
  const statusCode = Number(status[1]);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const date = Date.parse(headers.get('date') ?? '');
  if (Number.isFinite(date)) onDate?.(date);
  let body = response.subarray(headerEnd + 4);
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')));
  const text = body.toString('utf8');
  const json = parseJson(text, headers.get('content-type'));
  if (statusCode >= 200 && statusCode < 300) return json;
  throw new EngineHttpError(statusCode, REASONS[statusCode] ?? 'unexpected', json);
}

/** The body of a chunked transfer, whole. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) throw new Error("the engine's chunked answer ended early");
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isInteger(size) || size < 0) throw new Error("the engine's chunked answer is malformed");
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (start + size > body.length) throw new Error("the engine's chunked answer ended early");
    parts.push(body.subarray(start, start + size));
    offset = start + size + 2;
  }
}

function parseJson(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') return undefined;
  if (contentType !== undefined && !/json/i.test(contentType)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function engineMessage(json: unknown): string {
  if (json && typeof json === 'object' && 'message' in json) return String(json.message);
  return typeof json === 'string' ? json.trim() : JSON.stringify(json);
}

function abortError(): Error {
  const error = new Error('the engine call was aborted');
  error.name = 'AbortError';
  return error;
}
