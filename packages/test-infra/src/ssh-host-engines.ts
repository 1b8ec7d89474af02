// A Docker engine that belongs to one SSH test host: dockerd started inside the host's network namespace
// (with nsenter, as `ip netns exec` does not work for it), so published ports and `--network host` land on
// the host's own address. No image can be pulled here: images are busybox root filesystems made from this
// machine's static busybox and imported into the engine.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runNetnsTool } from './netns.js';

/** The Docker CLI that matches the Debian engine (dockerd 20.10). */
export const SSH_HOST_DOCKER_CLI = '/usr/bin/docker';
const BUSYBOX = '/bin/busybox';

/** An image made of busybox plus a few files, imported into a host's engine. */
export interface SshHostImage {
  /** e.g. `local/busybox`. */
  tag: string;
  /** Extra files by absolute path in the image; mode defaults to 0644. */
  files?: Record<string, { content: string; mode?: number }>;
  /** The image's CMD. */
  cmd?: string[];
}

/** A running dockerd inside a network namespace. */
export interface SshHostEngine {
  /** `unix:///.../docker.sock`, for `DOCKER_HOST` or `docker -H`. */
  dockerHost: string;
  pid: number;
  /** Removes every container of this engine, stops dockerd (bounded) and deletes its directories. */
  stop(): Promise<void>;
}

/** Starts dockerd in the namespace at `netnsPath`, keeping all its state under `dir`. */
export async function startSshHostEngine(options: {
  netnsPath: string;
  dir: string;
}): Promise<SshHostEngine> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const dockerHost = `unix://${socket}`;
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=${options.netnsPath}`,
      'dockerd',
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--host',
      dockerHost,
      // The namespace is a fresh network: the default bridge lives inside it, published ports go through
      // docker-proxy, and no iptables rule of this machine is touched.
      '--iptables=false',
      '--ip6tables=false',
      '--shutdown-timeout',
      '2',
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const docker = (...args: string[]) => runNetnsTool(SSH_HOST_DOCKER_CLI, ['-H', dockerHost, ...args]);
  const stop = async () => {
    const containers = (await docker('ps', '-aq').catch(() => '')).split(/\s+/).filter(Boolean);
    if (containers.length) await docker('rm', '-f', ...containers).catch(() => {});
    child.kill('SIGTERM');
    // Unreferenced timers: a race that is already won must not keep the process alive.
    const stopped = await Promise.race([exited.then(() => true), sleep(15_000, false, { ref: false })]);
    if (!stopped) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000, undefined, { ref: false })]);
    }
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  for (let attempt = 0; ; attempt++) {
    if (
      await docker('version').then(
        () => true,
        () => false,
      )
    )
      break;
    if (child.exitCode !== null || attempt >= 120) {
      await stop();
      const tail = await readFile(join(dir, 'dockerd.log'), 'utf8').catch(() => '');
      throw new Error(
        `dockerd in ${options.netnsPath} did not start: ${tail.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    await sleep(250);
  }
  return { dockerHost, pid: child.pid!, stop };
}

/** Imports each image into the engine (a busybox root filesystem plus the image's files). */
export async function importSshHostImages(
  dockerHost: string,
  images: SshHostImage[],
  workDir: string,
): Promise<void> {
  for (const image of images) {
    const rootfs = join(workDir, `rootfs-${image.tag.replace(/[^a-z0-9]+/gi, '-')}`);
    await buildBusyboxRootfs(rootfs, image.files ?? {});
    const tar = await runTar(rootfs);
    const changes = ['-c', 'ENV PATH=/bin', ...(image.cmd ? ['-c', `CMD ${JSON.stringify(image.cmd)}`] : [])];
    await runNetnsTool(SSH_HOST_DOCKER_CLI, ['-H', dockerHost, 'import', ...changes, '-', image.tag], {
      input: tar,
    });
    await rm(rootfs, { recursive: true, force: true });
  }
}

async function buildBusyboxRootfs(rootfs: string, files: NonNullable<SshHostImage['files']>): Promise<void> {
  await rm(rootfs, { recursive: true, force: true });
  for (const sub of ['bin', 'etc', 'tmp', 'root']) await mkdir(join(rootfs, sub), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await writeFile(join(rootfs, 'bin/busybox'), await readFile(BUSYBOX), { mode: 0o755 });
  for (const name of (await runNetnsTool(BUSYBOX, ['--list'])).split('\n').filter(Boolean)) {
    if (name !== 'busybox') await symlink('busybox', join(rootfs, 'bin', name)).catch(() => {});
  }
  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
  );
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  for (const [path, file] of Object.entries(files)) {
    const target = join(rootfs, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content, { mode: file.mode ?? 0o644 });
    await chmod(target, file.mode ?? 0o644);
  }
}

function runTar(rootfs: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`tar of ${rootfs} failed: ${stderr}`)),
    );
  });
}

/** Unmounts whatever a killed dockerd left mounted below `dir` (deepest first). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((path) => path === dir || path.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const path of mounts) await runNetnsTool('umount', ['-l', path]).catch(() => {});
}
