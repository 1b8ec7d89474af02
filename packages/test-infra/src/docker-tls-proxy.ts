import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { createServer } from 'node:tls';
import type { DockerTlsFiles } from './docker-tls.js';

/**
 * A stand-in for dockerd's TLS listener when a dockerd without one is already running: terminates TLS
 * (client certificates signed by the test CA required, like `--tlsverify`) and forwards bytes to the socket.
 */
export async function startDockerTlsProxy(options: {
  host: string;
  port: number;
  socketPath: string;
  tls: DockerTlsFiles;
}): Promise<{ close(): Promise<void> }> {
  const [ca, cert, key] = await Promise.all([
    readFile(options.tls.ca),
    readFile(options.tls.serverCert),
    readFile(options.tls.serverKey),
  ]);
  const open = new Set<{ destroy(): void }>();
  const server = createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true }, (client) => {
    const engine = connect(options.socketPath);
    open.add(client);
    const closeBoth = () => {
      open.delete(client);
      client.destroy();
      engine.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth);
    engine.on('error', closeBoth).on('close', closeBoth);
    client.pipe(engine).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot serve the Docker TLS proxy on ${options.host}:${options.port}: ${error.code ?? error.message} ` +
            '(something else holds the port: stop it, or start dockerd with the test TLS listener)',
        ),
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  server.unref();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const client of open) client.destroy();
      }),
  };
}
