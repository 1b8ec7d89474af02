import { readFile } from 'node:fs/promises';
import { Agent, type AgentOptions } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError, ValidationError } from '@bp/provider';
import type Dockerode from 'dockerode';

/** Client TLS files of a remote engine (paths; `~/` is expanded). The CA is required: bp always verifies the engine. */
export interface DockerTlsSettings {
  /** The CA that signed the engine's certificate. */
  ca: string;
  /** The client certificate the engine checks (`--tlsverify`); give it with `key`. */
  cert?: string;
  key?: string;
}

/** Where the engine is and how to reach it, before any file is read. */
export interface DockerTarget {
  /** How errors and warnings name the engine: `unix:///var/run/docker.sock`, `tcp://host:2376`. */
  description: string;
  socketPath?: string;
  hostname?: string;
  port?: number;
  /** Resolved TLS file paths; absent for the socket and for plain HTTP to a loopback engine. */
  tls?: DockerTlsSettings;
  /** What chose this engine, for CredentialsError.source: `settings`, `DOCKER_HOST`, or the default socket. */
  source: string;
  /** The engine runs on this machine (a socket or a loopback address): ports are published to 127.0.0.1. */
  isLocal: boolean;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/**
 * Picks the engine like the docker CLI: explicit settings (`socketPath`, or `host` with `tls`), then
 * DOCKER_HOST with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, then /var/run/docker.sock. Unlike the CLI, TLS is
 * always verified: a TLS setting without a CA is refused, and DOCKER_TLS without DOCKER_TLS_VERIFY verifies too.
 */
export function resolveDockerTarget(
  settings: { host?: string; tls?: DockerTlsSettings; socketPath?: string },
  env: NodeJS.ProcessEnv = process.env,
): DockerTarget {
  if (settings.tls !== undefined) checkTlsSettings(settings.tls);
  if (settings.socketPath !== undefined) {
    if (settings.host !== undefined) {
      throw new ValidationError({ path: 'socketPath', reason: 'give either socketPath or host, not both' });
    }
    return socketTarget(settings.socketPath, 'settings');
  }
  if (settings.host !== undefined) return parseHost(settings.host, 'host', 'settings', settings.tls);
  if (settings.tls !== undefined) {
    throw new ValidationError({ path: 'tls', reason: 'needs host = "tcp://HOST:PORT" of the engine' });
  }
  const dockerHost = env.DOCKER_HOST?.trim();
  if (!dockerHost) return socketTarget(DEFAULT_SOCKET, 'default socket');
  const wantsTls = Boolean(env.DOCKER_TLS_VERIFY || env.DOCKER_TLS || env.DOCKER_CERT_PATH);
  const certDir = expandHome(env.DOCKER_CERT_PATH || join(homedir(), '.docker'));
  const certFiles = {
    ca: join(certDir, 'ca.pem'),
    cert: join(certDir, 'cert.pem'),
    key: join(certDir, 'key.pem'),
  };
  return parseHost(dockerHost, 'DOCKER_HOST', 'DOCKER_HOST', wantsTls ? certFiles : undefined, certFiles);
}

function parseHost(
  host: string,
  path: string,
  source: string,
  tls: DockerTlsSettings | undefined,
  defaultTls?: DockerTlsSettings,
): DockerTarget {
  if (host.startsWith('unix://')) return socketTarget(host.slice('unix://'.length) || DEFAULT_SOCKET, source);
  let url: URL;
  try {
    url = new URL(host.includes('://') ? host : `tcp://${host}`);
  } catch {
    throw new ValidationError({ path, reason: `${host} is not unix:///PATH or tcp://HOST:PORT` });
  }
  if (url.protocol === 'ssh:') {
    throw new ValidationError({ path, reason: 'ssh:// engines are reached with @bp/provider-ssh' });
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError({ path, reason: `${host} is not unix:///PATH or tcp://HOST:PORT` });
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // The conventional TLS port: the CLI also speaks TLS there without being told.
  const port = Number(url.port || (tls ? 2376 : 2375));
  const isLocal = LOOPBACK.test(hostname);
  const resolvedTls = tls ? expandTls(tls) : port === 2376 ? defaultTls : undefined;
  if (!resolvedTls && !isLocal) {
    throw new ValidationError({
      path: source === 'settings' ? 'tls' : path,
      reason: `plain TCP to ${hostname} would hand root on that engine to anyone on the network: give tls = { ca, cert, key }`,
    });
  }
  return {
    description: `tcp://${url.host}`,
    hostname,
    port,
    tls: resolvedTls,
    source,
    isLocal,
  };
}

function socketTarget(socketPath: string, source: string): DockerTarget {
  return { description: `unix://${socketPath}`, socketPath, source, isLocal: true };
}

function checkTlsSettings(tls: DockerTlsSettings): void {
  if (typeof tls !== 'object' || tls === null || !tls.ca) {
    throw new ValidationError({
      path: 'tls.ca',
      reason: 'is required: bp always verifies the engine certificate (there is no insecure mode)',
    });
  }
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    throw new ValidationError({
      path: tls.cert ? 'tls.key' : 'tls.cert',
      reason: 'give cert and key together',
    });
  }
}

function expandTls(tls: DockerTlsSettings): DockerTlsSettings {
  return {
    ca: expandHome(tls.ca),
    cert: tls.cert ? expandHome(tls.cert) : undefined,
    key: tls.key ? expandHome(tls.key) : undefined,
  };
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/**
 * dockerode options for the target; reads the TLS files. Every key is set, so DOCKER_HOST and friends
 * (which docker-modem also reads) never override an explicit choice.
 */
export async function dockerOptionsFor(
  target: DockerTarget,
): Promise<Dockerode.DockerOptions & { agent?: Agent }> {
  const read = async (what: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CredentialsError({
        provider: 'docker',
        source: path,
        message: `cannot read the ${what} for ${target.description} from ${path} (${code})`,
        cause: error,
      });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read('CA certificate', target.tls?.ca),
    read('client certificate', target.tls?.cert),
    read('client key', target.tls?.key),
  ]);
  return {
    socketPath: target.socketPath,
    // A socket has no TLS server name: saying so spares Node's agent its IP check (a costly first regex).
    agent: target.socketPath ? new Agent({ servername: '' } as AgentOptions) : undefined,
    host: target.hostname,
    port: target.port,
    protocol: target.socketPath ? undefined : target.tls ? 'https' : 'http',
    ca,
    cert,
    key,
  };
}
