import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineHttpError, engineRequest, pathPart, readResponse } from './engine-http.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A unix-socket server answering every request with `answer` (as raw bytes), recording what it got. */
async function socketServer(answer: string[]): Promise<{ socketPath: string; requests: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-engine-http-'));
  const socketPath = join(dir, 'engine.sock');
  const requests: string[] = [];
  const server: Server = createServer((socket) => {
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const headEnd = received.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? 0);
      if (headEnd >= 0 && received.length >= headEnd + 4 + length) {
        requests.push(received);
        // In pieces, as a real server may send it.
        for (const [index, piece] of answer.entries()) setTimeout(() => socket.write(piece), index * 5);
        setTimeout(() => socket.end(), answer.length * 5 + 5);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { socketPath, requests };
}

describe('the engine HTTP client', () => {
  it('sends JSON with its query and reads a chunked answer in pieces', async () => {
    const { socketPath, requests } = await socketServer([
      'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      '9\r\n{"Id":"ab\r\n',
      '3\r\nc"}\r\n0\r\n\r\n',
    ]);
    const answer = await engineRequest(
      { socketPath },
      { method: 'POST', path: '/containers/create', query: { name: 'bp-x' }, body: { Image: 'hello' } },
    );
    expect(answer).toEqual({ Id: 'abc' });
    expect(requests[0]).toBe(
      'POST /containers/create?name=bp-x HTTP/1.1\r\nHost: docker\r\nUser-Agent: bp\r\nConnection: close\r\n' +
        'Content-Type: application/json\r\nContent-Length: 17\r\n\r\n{"Image":"hello"}',
    );
  });

  it("turns an engine's refusal into an error with its status and message", async () => {
    const body = '{"message":"No such image: nope:1"}';
    const { socketPath } = await socketServer([
      `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    ]);
    const failure = await engineRequest({ socketPath }, { method: 'GET', path: '/images/nope:1/json' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(EngineHttpError);
    expect(failure).toMatchObject({ statusCode: 404, json: { message: 'No such image: nope:1' } });
    expect((failure as Error).message).toContain('No such image: nope:1');
  });

  it('reports a missing socket with its code, and stops when aborted', async () => {
    await expect(
      engineRequest({ socketPath: '/nonexistent/engine.sock' }, { method: 'GET', path: '/info' }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
    const { socketPath } = await socketServer([]);
    const controller = new AbortController();
    const pending = engineRequest(
      { socketPath },
      { method: 'GET', path: '/info', signal: controller.signal },
    );
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reads Content-Length and empty answers, and refuses what is not HTTP', () => {
    expect(readResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing'))).toEqual({});
    expect(readResponse(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'))).toBeUndefined();
    expect(() => readResponse(Buffer.from('HTTP/1.1 304 Not Modified\r\n\r\n'))).toThrow(
      expect.objectContaining({ statusCode: 304 }),
    );
    expect(() => readResponse(Buffer.from('SSH-2.0\r\n\r\n'))).toThrow(/other than HTTP/);
    expect(() => readResponse(Buffer.from('HTTP/1.1 200 OK\r\n'))).toThrow(/complete answer/);
    expect(() =>
      readResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab')),
    ).toThrow(/ended early/);
  });

  it('keeps names from ending the request line', () => {
    expect(pathPart('127.0.0.1:5000/bp/hello:1')).toBe('127.0.0.1:5000/bp/hello:1');
    expect(pathPart('img@sha256:ab')).toBe('img@sha256:ab');
    expect(pathPart('a b\r\nX: 1')).toBe('a%20b%0D%0AX:%201');
  });
});
