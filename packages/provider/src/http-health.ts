import type { Socket } from 'node:net';
import type { HealthResultV1 } from './provider-v1.js';

/** A status line longer than this is no HTTP server's. */
const MAX_STATUS_LINE = 8 * 1024;

/**
 * One HTTP GET of `endpoint + path`; healthy on 2xx. Shared by providers whose
 * health check is plain HTTP from where bp runs. Never throws.
 *
 * Plain `http:` endpoints are asked over a bare TCP connection and only the status line is read
 * (Node's HTTP client costs several ms to load, which a deploy would pay just before it returns);
 * `https:` ones through node:https, with the certificate verified.
 */
export function checkHttpHealth(
  endpoint: string,
  path: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HealthResultV1> {
  const started = performance.now();
  const url = new URL(path, endpoint);
  const timeoutMs = options.timeoutMs ?? 2000;
  return new Promise((resolve) => {
    const finish = (result: HealthResultV1) => {
      resolve({ ...result, latencyMs: Math.round((performance.now() - started) * 10) / 10 });
    };
    const answered = (statusCode: number) => {
      const healthy = statusCode >= 200 && statusCode < 300;
      finish(
        healthy
          ? { healthy, statusCode }
          : { healthy, statusCode, reason: `${url.pathname} answered ${statusCode}` },
      );
    };
    const failed = (error: NodeJS.ErrnoException) => {
      finish({ healthy: false, reason: `${url.host}: ${error.code ?? error.message}` });
    };
    if (url.protocol === 'http:') getStatusLine(url, timeoutMs, options.signal).then(answered, failed);
    else getWithNodeHttp(url, timeoutMs, options.signal).then(answered, failed);
  });
}

/** The status code of `GET url` on a plain TCP connection, read from the status line alone. */
function getStatusLine(url: URL, timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
  const { connect } = process.getBuiltinModule('node:net') as typeof import('node:net');
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || 80);
    const socket: Socket = connect({ host, port });
    let received = '';
    let settled = false;
    const settle = (error: Error | undefined, statusCode?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        socket.destroy();
        reject(error);
        return;
      }
      // The answer is known; the rest is read and the connection closed in order (no reset the service
      // might log), within a second.
      socket.resume();
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      resolve(statusCode!);
    };
    const timer = setTimeout(() => settle(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => settle(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      // The path as the URL encoded it: nothing in it can end the request line.
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: bp-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: string) => {
      if (settled) return;
      received += chunk;
      const lineEnd = received.indexOf('\r\n');
      if (lineEnd < 0) {
        if (received.length > MAX_STATUS_LINE) settle(new Error('the answer is not HTTP'));
        return;
      }
      const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/.exec(received.slice(0, lineEnd));
      if (status) settle(undefined, Number(status[1]));
      else settle(new Error('the answer is not HTTP'));
    });
    socket.on('end', () => settle(new Error('the connection closed without an answer')));
    socket.on('error', (error) => settle(error));
  });
}

/** The status code of `GET url` through Node's HTTP client (https endpoints). */
function getWithNodeHttp(url: URL, timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
  // Loaded on use: importing node:https as an ES module builds its full facade (and undici with it),
  // which would slow every bp command that merely imports this package.
  const { request } = process.getBuiltinModule(
    url.protocol === 'https:' ? 'node:https' : 'node:http',
  ) as typeof import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, signal }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function abortError(): Error {
  const error = new Error('the health check was aborted') as NodeJS.ErrnoException;
  error.code = 'ABORT_ERR';
  return error;
}
