import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acquireSharedProcess, TEST_INFRA_DIR } from './docker-shared-process.js';

const run = promisify(execFile);

/** A throwaway OCI registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1. */
export interface Registry {
  /** `host:port`, e.g. `127.0.0.1:5000`: the prefix of image references. */
  address: string;
  /** Set for the registry that requires htpasswd (basic) authentication. */
  credentials?: { username: string; password: string };
  /** Releases this use; stops the registry only if this process started it and no other process uses it. */
  stop(): Promise<void>;
}

const PLAIN_PORT = 5000;
const AUTH_PORT = 5001;
const USERNAME = 'bp-test';

/**
 * Finds or starts `docker-registry serve` with its own config (never the packaged one) on 127.0.0.1:5000,
 * storing blobs under /tmp/bp-test-infra/registry-5000. Docker treats 127.0.0.0/8 registries as insecure,
 * so plain HTTP push and pull work.
 */
export function ensureRegistry(): Promise<Registry> {
  return startRegistry(PLAIN_PORT);
}

/** Like {@link ensureRegistry}, on 127.0.0.1:5001 with htpasswd authentication (bcrypt via python3 `crypt` or `htpasswd`). */
export function ensureAuthRegistry(): Promise<Registry> {
  return startRegistry(AUTH_PORT, true);
}

async function startRegistry(port: number, withAuth = false): Promise<Registry> {
  const dir = join(TEST_INFRA_DIR, `registry-${port}`);
  await mkdir(join(dir, 'data'), { recursive: true });
  const credentials = withAuth ? await ensureCredentials(dir) : undefined;
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(withAuth ? ['auth:', '  htpasswd:', '    realm: bp-test', `    path: ${join(dir, 'htpasswd')}`] : []),
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), `${config}\n`);
  const registry = await acquireSharedProcess({
    name: `registry-${port}`,
    isUp: () => answersAsRegistry(port, withAuth),
    command: 'docker-registry',
    args: ['serve', join(dir, 'config.yml')],
    // Its own settings only: REGISTRY_* variables would override the config file.
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    readyTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
  });
  return { address: `127.0.0.1:${port}`, credentials, stop: () => registry.release() };
}

/** A fixed user with a random password, kept (0600) so every process and re-run agrees with the htpasswd file. */
async function ensureCredentials(dir: string): Promise<{ username: string; password: string }> {
  const path = join(dir, 'credentials.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { username: string; password: string };
  } catch {
    const credentials = { username: USERNAME, password: randomBytes(12).toString('hex') };
    await writeFile(join(dir, 'htpasswd'), `${USERNAME}:${await bcrypt(credentials.password)}\n`, {
      mode: 0o600,
    });
    await writeFile(path, JSON.stringify(credentials), { mode: 0o600 });
    return credentials;
  }
}

async function bcrypt(password: string): Promise<string> {
  const script = 'import crypt,sys;print(crypt.crypt(sys.argv[1],crypt.mksalt(crypt.METHOD_BLOWFISH)))';
  const attempts: [string, string[], (out: string) => string][] = [
    ['python3', ['-W', 'ignore', '-c', script, password], (out) => out.trim()],
    ['htpasswd', ['-nbB', USERNAME, password], (out) => out.trim().split(':')[1] ?? ''],
  ];
  for (const [command, args, parse] of attempts) {
    const hash = await run(command, args, { timeout: 30_000 }).then(
      ({ stdout }) => parse(stdout),
      () => '',
    );
    if (hash.startsWith('$2')) return hash;
  }
  throw new Error(
    'cannot make a bcrypt hash: need python3 with the crypt module, or htpasswd (apache2-utils)',
  );
}

/** GET /v2/ answers like a registry: 200, or 401 with a basic challenge when auth is on. */
function answersAsRegistry(port: number, withAuth: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/v2/', timeout: 2000, agent: false },
      (response) => {
        response.resume();
        const isRegistry = response.headers['docker-distribution-api-version'] !== undefined;
        resolve(isRegistry && response.statusCode === (withAuth ? 401 : 200));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
