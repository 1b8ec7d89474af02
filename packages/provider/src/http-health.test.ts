import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHttpHealth } from './http-health.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A TCP server on `host` that hands each connection to `onConnection`; its base URL. */
async function rawServer(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<string> {
  const server = createServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Reads one request head from `socket`, then calls `answer` with it. */
function onRequest(socket: Socket, answer: (head: string) => void): void {
  let head = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    head += chunk;
    if (head.includes('\r\n\r\n')) answer(head);
  });
}

describe('checkHttpHealth', () => {
  it('is healthy on 2xx from a real HTTP server, asking for the path given', async () => {
    const paths: string[] = [];
    const server = createHttpServer((request, response) => {
      paths.push(request.url ?? '');
      response.writeHead(request.url === '/health?deep=1' ? 204 : 404).end();
    });
    servers.push(server as unknown as Server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await checkHttpHealth(endpoint, '/health?deep=1')).toMatchObject({
      healthy: true,
      statusCode: 204,
    });
    expect(await checkHttpHealth(endpoint, '/other')).toMatchObject({
      healthy: false,
      statusCode: 404,
      reason: '/other answered 404',
    });
    expect(paths).toEqual(['/health?deep=1', '/other']);
  });

  it('reads a status line that arrives in pieces, and sends a well-formed request', async () => {
    let request = '';
    const endpoint = await rawServer((socket) =>
      onRequest(socket, (head) => {
        request = head;
        socket.write('HTTP/1.1 20');
        setTimeout(() => socket.write('0 OK\r\nContent-Length: 0\r\n\r\n'), 20);
      }),
    );
    expect(await checkHttpHealth(endpoint, '/health')).toMatchObject({ healthy: true, statusCode: 200 });
    expect(request).toBe(
      `GET /health HTTP/1.1\r\nHost: ${new URL(endpoint).host}\r\nUser-Agent: bp-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
  });

  it('closes in order once it has the answer: the service sees an end, not a reset', async () => {
    const seen: string[] = [];
    const endpoint = await rawServer((socket) =>
      onRequest(socket, () => {
        // A body larger than one read: a client that closed with it unread would reset the connection.
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n${'x'.repeat(2097152)}`);
        socket.on('end', () => seen.push('end'));
        socket.on('error', (error: NodeJS.ErrnoException) => seen.push(error.code ?? 'error'));
      }),
    );
    expect(await checkHttpHealth(endpoint, '/')).toMatchObject({ healthy: true, statusCode: 200 });
    const started = Date.now();
    while (seen.length === 0 && Date.now() - started < 2000)
      await new Promise((resolve) => setTimeout(resolve, 10));
    // A reset would show as an error, an orderly close as the end.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(seen).toEqual(['end']);
  });

  it('keeps a path that would end the request line inside it', async () => {
    let request = '';
    const endpoint = await rawServer((socket) =>
      onRequest(socket, (head) => {
        request = head;
        socket.end('HTTP/1.1 200 OK\r\n\r\n');
      }),
    );
    await checkHttpHealth(endpoint, '/health\r\nX-Injected: 1');
    // The URL parser drops the line breaks; the space is encoded.
    expect(request.split('\r\n')[0]).toBe('GET /healthX-Injected:%201 HTTP/1.1');
    expect(request).not.toContain('X-Injected: 1');
  });

  it('answers [::1] endpoints', async () => {
    const endpoint = await rawServer(
      (socket) => onRequest(socket, () => socket.end('HTTP/1.0 200 OK\r\n\r\n')),
      '::1',
    );
    expect(await checkHttpHealth(endpoint, '/')).toMatchObject({ healthy: true, statusCode: 200 });
  });

  it('reports a refused connection, a silent server, a non-HTTP answer and a closed connection', async () => {
    const closed = await rawServer(() => {});
    const port = new URL(closed).port;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await checkHttpHealth(`http://127.0.0.1:${port}`, '/')).toMatchObject({
      healthy: false,
      reason: `127.0.0.1:${port}: ECONNREFUSED`,
    });

    const silent = await rawServer(() => {});
    const started = Date.now();
    expect(await checkHttpHealth(silent, '/', { timeoutMs: 200 })).toMatchObject({
      healthy: false,
      reason: expect.stringContaining('no answer within 200 ms'),
    });
    expect(Date.now() - started).toBeLessThan(2000);

    const notHttp = await rawServer((socket) => onRequest(socket, () => socket.end('SSH-2.0-OpenSSH\r\n')));
    expect(await checkHttpHealth(notHttp, '/')).toMatchObject({
      healthy: false,
      reason: expect.stringContaining('not HTTP'),
    });

    const hangsUp = await rawServer((socket) => onRequest(socket, () => socket.end()));
    expect(await checkHttpHealth(hangsUp, '/')).toMatchObject({
      healthy: false,
      reason: expect.stringContaining('closed without an answer'),
    });
  });

  it('stops when its signal is aborted', async () => {
    const silent = await rawServer(() => {});
    const controller = new AbortController();
    const pending = checkHttpHealth(silent, '/', { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ healthy: false, reason: expect.stringContaining('ABORT_ERR') });
  });
});
