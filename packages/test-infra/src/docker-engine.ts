import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { acquireSharedProcess, type SharedProcess } from './docker-shared-process.js';
import { type DockerTlsFiles, ensureDockerTlsFiles } from './docker-tls.js';
import { startDockerTlsProxy } from './docker-tls-proxy.js';

/** The shared Docker engine of the tests: its local socket and its TLS listener. */
export interface DockerEngine {
  /** The engine's unix socket, e.g. `/var/run/docker.sock`. */
  socketPath: string;
  /** The TLS listener (client certificates required): `tcp://127.0.0.1:2376`. */
  tlsHost: string;
  /** The client's ca.pem, cert.pem and key.pem, laid out as DOCKER_CERT_PATH expects. */
  certDir: string;
  /** Every file of the test CA: the client's, the engine's and an untrusted client's. */
  tls: DockerTlsFiles;
  /**
   * Who terminates TLS on `tlsHost`: dockerd itself, or, when a dockerd without a TLS listener was
   * already running, a TLS proxy in this process that verifies client certificates and forwards to the socket.
   */
  tlsTerminator: 'dockerd' | 'proxy';
  /** Releases this use; stops only what this process started (by pid), once no other process uses it. */
  stop(): Promise<void>;
}

const SOCKET_PATH = '/var/run/docker.sock';
const TLS_ADDRESS = { host: '127.0.0.1', port: 2376 };
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type StartedEngine = Omit<DockerEngine, 'stop'> & { release(): Promise<void> };
type SharedEngine = { users: number; engine: Promise<StartedEngine> };
// On globalThis, so that copies of this module loaded for different vitest projects share one engine.
const SHARED = Symbol.for('bp.test-infra.docker-engine');
const registry = globalThis as { [SHARED]?: SharedEngine };

/**
 * Finds the Docker engine on /var/run/docker.sock and tcp://127.0.0.1:2376, or starts one dockerd with both
 * listeners (TLS with client verification, certificates from {@link ensureDockerTlsFiles}). If a dockerd
 * already answers on the socket but nothing on the TLS port, a TLS proxy in this process stands in for the
 * listener (dockerd cannot add a listener while it runs). Shared by every caller in this process and,
 * through pid files under /tmp/bp-test-infra/users, across processes.
 */
export async function ensureDockerEngine(): Promise<DockerEngine> {
  if (!registry[SHARED]) {
    const engine = startEngine();
    const started: SharedEngine = { users: 0, engine };
    registry[SHARED] = started;
    engine.catch(() => {
      if (registry[SHARED] === started) delete registry[SHARED];
    });
  }
  const current = registry[SHARED];
  current.users += 1;
  const { release, ...engine } = await current.engine.catch((error: unknown) => {
    current.users -= 1;
    throw error;
  });
  let stopped = false;
  return {
    ...engine,
    async stop() {
      if (stopped) return;
      stopped = true;
      current.users -= 1;
      if (current.users > 0) return;
      if (registry[SHARED] === current) delete registry[SHARED];
      await release();
    },
  };
}

async function startEngine(): Promise<StartedEngine> {
  const tls = await ensureDockerTlsFiles();
  const [ca, cert, key] = await Promise.all([readFile(tls.ca), readFile(tls.cert), readFile(tls.key)]);
  const tlsUp = () => ping({ ...TLS_ADDRESS, ca, cert, key });
  const dockerd: SharedProcess = await acquireSharedProcess({
    name: 'dockerd',
    isUp: () => ping({ socketPath: SOCKET_PATH }),
    command: 'dockerd',
    args: [
      '--host',
      `unix://${SOCKET_PATH}`,
      '--host',
      `tcp://${TLS_ADDRESS.host}:${TLS_ADDRESS.port}`,
      '--tlsverify',
      '--tlscacert',
      tls.ca,
      '--tlscert',
      tls.serverCert,
      '--tlskey',
      tls.serverKey,
    ],
    env: { PATH, HOME: process.env.HOME ?? '/root' },
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 30_000,
  });
  let proxy: { close(): Promise<void> } | undefined;
  try {
    if (!(await tlsUp())) {
      proxy = await startDockerTlsProxy({ ...TLS_ADDRESS, socketPath: SOCKET_PATH, tls });
      if (!(await tlsUp())) throw new Error('the TLS proxy in front of the Docker socket does not answer');
    }
  } catch (error) {
    await dockerd.release();
    throw error;
  }
  return {
    socketPath: SOCKET_PATH,
    tlsHost: `tcp://${TLS_ADDRESS.host}:${TLS_ADDRESS.port}`,
    certDir: tls.certDir,
    tls,
    tlsTerminator: proxy ? 'proxy' : 'dockerd',
    async release() {
      await proxy?.close();
      await dockerd.release();
    },
  };
}

/** One GET /_ping, over the socket or TLS; true on 200. Bounded by a 2 s timeout. */
export function ping(
  target: { socketPath: string } | { host: string; port: number; ca: Buffer; cert: Buffer; key: Buffer },
): Promise<boolean> {
  return new Promise((resolve) => {
    const options = { path: '/_ping', method: 'GET', timeout: 2000 };
    const done = (up: boolean) => {
      request.destroy();
      resolve(up);
    };
    const request =
      'socketPath' in target
        ? httpRequest({ ...options, socketPath: target.socketPath })
        : httpsRequest({ ...options, ...target, agent: false });
    request.on('response', (response) => {
      response.resume();
      done(response.statusCode === 200);
    });
    request.on('timeout', () => done(false));
    request.on('error', () => done(false));
    request.end();
  });
}
