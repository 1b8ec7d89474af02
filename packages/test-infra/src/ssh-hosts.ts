// Real SSH "hosts" for provider-ssh's tests: each is a network namespace with its own address, a throwaway
// sshd (own config and ed25519 host key; never the system's), optionally its own Docker engine, and its own
// home directory: sshd's SetEnv gives every session `HOME` (so `~/.bp` is per host although the namespaces
// share this machine's files, and no rc file of this machine's user slows sessions down) and `DOCKER_HOST`.
// One client key pair and one known_hosts file serve them all.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNetns, type Netns, runNetnsTool } from './netns.js';
import {
  importSshHostImages,
  type SshHostEngine,
  type SshHostImage,
  startSshHostEngine,
} from './ssh-host-engines.js';

/** One host, as plain data (it crosses from a vitest globalSetup to the tests). */
export interface SshHostInfo {
  /** The network namespace's name. */
  name: string;
  /** For `nsenter --net=...`. */
  netnsPath: string;
  /** Where sshd listens, from this machine: 10.200.N.2. sshd also listens on 127.0.0.1 inside the namespace. */
  address: string;
  port: number;
  /** This host's files. */
  dir: string;
  hostKeyPath: string;
  sshdConfigPath: string;
  sshdPidPath: string;
  /** `HOME` of every SSH session on this host. */
  home: string;
  /** `DOCKER_HOST` of every SSH session: the host's own engine, when started with `docker`. */
  dockerHost?: string;
}

/** Everything a test needs to reach the hosts. */
export interface SshHostsInfo {
  /** The login user (the user running the tests). */
  user: string;
  privateKeyPath: string;
  publicKeyPath: string;
  /** Holds every host's key under its address (port 22). */
  knownHostsPath: string;
  hosts: SshHostInfo[];
}

export interface SshHosts extends SshHostsInfo {
  /** Stops engines and sshds by PID, kills what is left in the namespaces, deletes them and every file. */
  stop(): Promise<void>;
}

export interface StartSshHostsOptions {
  count: number;
  /** Start a dockerd inside each host's namespace. */
  docker?: boolean;
  /** Images to import into each host's engine (with `docker`). */
  images?: SshHostImage[];
}

const SSHD = '/usr/sbin/sshd';
const SSH_PORT = 22;

/** Starts `count` hosts in parallel; on any failure, stops what was started and rethrows. */
export async function startSshHosts(options: StartSshHostsOptions): Promise<SshHosts> {
  const root = await mkdtemp(join(tmpdir(), 'bp-ssh-hosts-'));
  const privateKeyPath = join(root, 'client_ed25519');
  await runNetnsTool('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'bp-test-client',
    '-f',
    privateKeyPath,
  ]);
  const publicKeyPath = `${privateKeyPath}.pub`;
  await writeFile(join(root, 'authorized_keys'), await readFile(publicKeyPath), { mode: 0o600 });
  const started: { netns?: Netns; engine?: SshHostEngine; info?: SshHostInfo }[] = [];
  const stop = async () => {
    await Promise.all(
      started.map(async (host) => {
        await host.engine?.stop().catch(() => {});
        if (host.info) await stopSshd(host.info).catch(() => {});
        await host.netns?.remove().catch(() => {});
      }),
    );
    await rm(root, { recursive: true, force: true });
  };
  try {
    const hosts = await Promise.all(
      Array.from({ length: options.count }, async (_, index) => {
        const slot: (typeof started)[number] = {};
        started.push(slot);
        slot.netns = await createNetns();
        const dir = join(root, `host${index + 1}`);
        await mkdir(join(dir, 'home'), { recursive: true, mode: 0o700 });
        if (options.docker) {
          slot.engine = await startSshHostEngine({ netnsPath: slot.netns.path, dir: join(dir, 'docker') });
          await importSshHostImages(slot.engine.dockerHost, options.images ?? [], dir);
        }
        slot.info = {
          name: slot.netns.name,
          netnsPath: slot.netns.path,
          address: slot.netns.address,
          port: SSH_PORT,
          dir,
          hostKeyPath: join(dir, 'ssh_host_ed25519_key'),
          sshdConfigPath: join(dir, 'sshd_config'),
          sshdPidPath: join(dir, 'sshd.pid'),
          home: join(dir, 'home'),
          dockerHost: slot.engine?.dockerHost,
        };
        await writeSshdConfig(slot.info, join(root, 'authorized_keys'));
        await newHostKey(slot.info);
        await startSshd(slot.info);
        return slot.info;
      }),
    );
    const knownHostsPath = join(root, 'known_hosts');
    const lines = await Promise.all(
      hosts.map(async (host) => `${host.address} ${await sshHostKeyLine(host)}`),
    );
    await writeFile(knownHostsPath, `${lines.join('\n')}\n`, { mode: 0o600 });
    return { user: userInfo().username, privateKeyPath, publicKeyPath, knownHostsPath, hosts, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `<type> <base64>` of the host's current public key, as in a known_hosts line. */
export async function sshHostKeyLine(host: SshHostInfo): Promise<string> {
  const [type, key] = (await readFile(`${host.hostKeyPath}.pub`, 'utf8')).trim().split(/\s+/);
  return `${type} ${key}`;
}

/** Restarts the host's sshd; with `newHostKey`, under a freshly generated host key (a "reinstalled" host). */
export async function restartSshHost(
  host: SshHostInfo,
  options: { newHostKey?: boolean } = {},
): Promise<void> {
  await stopSshd(host);
  if (options.newHostKey) await newHostKey(host);
  await startSshd(host);
}

async function writeSshdConfig(host: SshHostInfo, authorizedKeys: string): Promise<void> {
  const environment = [`HOME=${host.home}`, ...(host.dockerHost ? [`DOCKER_HOST=${host.dockerHost}`] : [])];
  const config = [
    `Port ${host.port}`,
    `ListenAddress ${host.address}`,
    // Reachable only from inside the namespace: a target that needs a jump host.
    'ListenAddress 127.0.0.1',
    `HostKey ${host.hostKeyPath}`,
    `PidFile ${host.sshdPidPath}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding yes',
    'MaxStartups 100',
    'Subsystem sftp internal-sftp',
    `SetEnv ${environment.join(' ')}`,
  ];
  await writeFile(host.sshdConfigPath, `${config.join('\n')}\n`, { mode: 0o600 });
}

async function newHostKey(host: SshHostInfo): Promise<void> {
  await rm(host.hostKeyPath, { force: true });
  await rm(`${host.hostKeyPath}.pub`, { force: true });
  await runNetnsTool('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    host.name,
    '-f',
    host.hostKeyPath,
  ]);
}

async function startSshd(host: SshHostInfo): Promise<void> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await runNetnsTool(SSHD, ['-t', '-f', host.sshdConfigPath]);
  await rm(host.sshdPidPath, { force: true });
  await runNetnsTool('ip', [
    'netns',
    'exec',
    host.name,
    SSHD,
    '-f',
    host.sshdConfigPath,
    '-E',
    join(host.dir, 'sshd.log'),
  ]);
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await readPid(host.sshdPidPath)) && (await accepts(host.address, host.port))) return;
    await sleep(50);
  }
  throw new Error(`sshd of ${host.name} did not start; see ${join(host.dir, 'sshd.log')}`);
}

/** Stops the listening sshd by its PID (bounded); sessions it already forked keep running. */
async function stopSshd(host: SshHostInfo): Promise<void> {
  const pid = await readPid(host.sshdPidPath);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let attempt = 0; attempt < 100 && isAlive(pid); attempt++) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(host.sshdPidPath, { force: true });
}

async function readPid(path: string): Promise<number | undefined> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Alive and not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return '';
    }
  })();
  return stat !== '' && !/^\d+ \(.*\) Z/s.test(stat);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 1000 });
    const finish = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}
