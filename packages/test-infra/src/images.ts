import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runDockerCli } from './docker-cli.js';
import type { DockerEngine } from './docker-engine.js';
import { TEST_INFRA_DIR, withLock } from './docker-shared-process.js';
import type { Registry } from './registry.js';

const run = promisify(execFile);

/** Images the provider tests run; none is pulled from the internet. */
export interface TestImages {
  /** A busybox rootfs (`/bin/busybox` of busybox-static), only on the engine: `local/busybox`. */
  busybox: string;
  /**
   * `<registry>/bp-test/hello-httpd:1`: busybox httpd serving `/health` on `$PORT` (default 8080); prints
   * `hello listening on port N` to stdout at start and logs requests to stderr. With `HELLO_FAIL_HEALTH=1`
   * it serves an empty root (404 on /health); with `HELLO_EXIT_AT_ONCE=1` it prints a line to stderr and exits 3.
   * Its Docker HEALTHCHECK fetches /health every second, so the engine's health status follows too.
   */
  hello: string;
  /** The same image in the authenticating registry, when one was given. Removed from the engine after the push. */
  helloAuth?: string;
}

/** The line the hello service prints once it serves. */
export const HELLO_READY_LINE = 'hello listening on port';

const BUSYBOX = '/bin/busybox';
const RECIPE_LABEL = 'bp-test-infra.recipe';
const HELLO_SCRIPT = `#!/bin/sh
# bp's test service: busybox httpd serving /health, with switches for the failure cases.
port="\${PORT:-8080}"
if [ -n "$HELLO_EXIT_AT_ONCE" ]; then
  echo "hello: exiting at once, as asked" >&2
  exit 3
fi
root=/www
[ -n "$HELLO_FAIL_HEALTH" ] && root=/www-empty
echo "${HELLO_READY_LINE} $port"
exec httpd -f -v -p "$port" -h "$root"
`;

/** The hello image: the engine's own health check asks the service's /health every second. */
function helloDockerfile(base: string): string {
  return [
    `FROM ${base}`,
    'EXPOSE 8080',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: expanded by the container's shell, not here.
    'HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null "http://127.0.0.1:${PORT:-8080}/health"',
    'CMD ["/bin/hello"]',
    '',
  ].join('\n');
}

/**
 * Builds `local/busybox` from /bin/busybox (busybox-static) via `docker import` of a rootfs tar, the hello
 * image from it with `docker build`, and pushes hello to the registry (and, with credentials, to the
 * authenticating one).
 * Idempotent and fast on re-run: an image whose recipe label matches is kept, a manifest the registry
 * already holds is not pushed again.
 */
export async function ensureTestImages(options: {
  engine: Pick<DockerEngine, 'socketPath'>;
  registry: Pick<Registry, 'address'>;
  authRegistry?: Pick<Registry, 'address' | 'credentials'>;
}): Promise<TestImages> {
  const { socketPath } = options.engine;
  const docker = (args: string[], input?: string) => runDockerCli(args, { socketPath, input });
  const images: TestImages = {
    busybox: 'local/busybox',
    hello: `${options.registry.address}/bp-test/hello-httpd:1`,
    helloAuth: options.authRegistry ? `${options.authRegistry.address}/bp-test/hello-httpd:1` : undefined,
  };
  const busybox = await readFile(BUSYBOX).catch(() => {
    throw new Error(`${BUSYBOX} is missing: install busybox-static`);
  });
  if (busybox.subarray(0, 4096).includes('ld-linux')) {
    throw new Error(`${BUSYBOX} is dynamically linked: install busybox-static`);
  }
  const recipe = createHash('sha256')
    .update(busybox)
    .update(HELLO_SCRIPT)
    .update(helloDockerfile(images.busybox))
    .digest('hex')
    .slice(0, 16);

  await withLock(join(TEST_INFRA_DIR, 'locks', 'images'), async () => {
    const labelOf = (image: string) =>
      docker(['image', 'inspect', '--format', `{{index .Config.Labels "${RECIPE_LABEL}"}}`, image]).then(
        (out) => out.trim(),
        () => '',
      );
    const current = (await Promise.all([images.busybox, images.hello].map(labelOf))).every(
      (label) => label === recipe,
    );
    if (!current) await importImages(docker, images, recipe);
    if (!current || !(await hasManifest(images.hello))) await docker(['push', images.hello]);

    const auth = options.authRegistry;
    if (auth && images.helloAuth && (!current || !(await hasManifest(images.helloAuth, auth.credentials)))) {
      if (!auth.credentials) throw new Error(`no credentials for ${auth.address}`);
      await docker(
        ['login', auth.address, '--username', auth.credentials.username, '--password-stdin'],
        auth.credentials.password,
      );
      await docker(['tag', images.hello, images.helloAuth]);
      await docker(['push', images.helloAuth]);
      // Pulls from the authenticating registry must really go to it.
      await docker(['image', 'rm', images.helloAuth]);
    }
  });
  return images;
}

async function importImages(
  docker: (args: string[], input?: string) => Promise<string>,
  images: TestImages,
  recipe: string,
): Promise<void> {
  await mkdir(TEST_INFRA_DIR, { recursive: true });
  const work = await mkdtemp(join(TEST_INFRA_DIR, 'rootfs-'));
  try {
    const rootfs = join(work, 'rootfs');
    for (const dir of ['bin', 'etc', 'tmp', 'root', 'www', 'www-empty', 'proc', 'sys', 'dev']) {
      await mkdir(join(rootfs, dir), { recursive: true });
    }
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await writeFile(join(rootfs, 'bin', 'busybox'), await readFile(BUSYBOX), { mode: 0o755 });
    const { stdout } = await run(BUSYBOX, ['--list']);
    for (const applet of stdout.split('\n').filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox')) {
      await symlink('busybox', join(rootfs, 'bin', applet));
    }
    await writeFile(join(rootfs, 'bin', 'hello'), HELLO_SCRIPT, { mode: 0o755 });
    await writeFile(join(rootfs, 'www', 'health'), 'ok\n');
    await writeFile(join(rootfs, 'www', 'index.html'), 'hello from bp\n');
    await writeFile(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    );
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tar = join(work, 'rootfs.tar');
    await run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
    const common = ['--change', 'ENV PATH=/bin', '--change', `LABEL ${RECIPE_LABEL}=${recipe}`];
    await docker(['import', ...common, '--change', 'CMD ["/bin/sh"]', tar, images.busybox]);
    // Built, not imported: `docker import` cannot set a HEALTHCHECK.
    await docker(['build', '--quiet', '--tag', images.hello, '-'], helloDockerfile(images.busybox));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** HEAD of the image's manifest in its registry (plain HTTP, 127.0.0.1 only). */
function hasManifest(image: string, credentials?: { username: string; password: string }): Promise<boolean> {
  const match = /^([^/]+)\/(.+):([^:/]+)$/.exec(image);
  if (!match) return Promise.resolve(false);
  const [, address, repository, tag] = match as unknown as [string, string, string, string];
  const [host, port] = address.split(':');
  const headers: Record<string, string> = {
    accept: 'application/vnd.docker.distribution.manifest.v2+json',
  };
  if (credentials) {
    headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }
  return new Promise((resolve) => {
    const req = request(
      { host, port, method: 'HEAD', path: `/v2/${repository}/manifests/${tag}`, headers, timeout: 5000 },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
