import { connect, createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findFreePort, portsInUse, scanPortsInUse } from './free-port.js';

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => resolve(server));
  });
}

describe('free ports', () => {
  it.runIf(process.platform === 'linux')(
    'sees a listening socket of this process among the ports in use',
    async () => {
      const server = await listen();
      try {
        const { port } = server.address() as { port: number };
        expect(portsInUse()?.has(port)).toBe(true);
        expect((await scanPortsInUse())?.has(port)).toBe(true);
        // Both readers see the same listening sockets (on both tables: a server on [::] is in tcp6 only).
        expect([...((await scanPortsInUse()) ?? [])].sort()).toEqual([...(portsInUse() ?? [])].sort());
      } finally {
        server.close();
      }
    },
  );

  it.runIf(process.platform === 'linux')(
    "counts a connection's own end as in use: closed first, it keeps a listener off its port",
    async () => {
      const server = await listen();
      try {
        const { port } = server.address() as { port: number };
        // The client closes first, so its end (an ephemeral port) stays in TIME_WAIT.
        const localPort = await new Promise<number>((resolve, reject) => {
          const socket = connect({ port, host: '127.0.0.1' }, () => {
            const mine = socket.localPort!;
            socket.end();
            socket.once('close', () => resolve(mine));
          });
          socket.once('error', reject);
        });
        expect(portsInUse()?.has(localPort)).toBe(true);
        expect((await scanPortsInUse())?.has(localPort)).toBe(true);
        // What that costs a service that picked it: its listen fails.
        await expect(listen(localPort)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      } finally {
        server.close();
      }
    },
  );

  it('finds ports that can be bound, none of them in use', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await findFreePort('127.0.0.1');
      expect(portsInUse()?.has(port) ?? false).toBe(false);
      const server = await listen(port);
      server.close();
    }
  });
});
