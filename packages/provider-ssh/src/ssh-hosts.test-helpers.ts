// Ground truth for the tests, asked of the hosts without the provider: each host's own Docker engine, the
// process table (the hosts' namespaces share this machine's PIDs and files) and OpenSSH's own ssh client.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DeployOptionsV1, deploymentTags, type WorkloadV1 } from '@bp/provider';
import type { SshHostInfo, SshHostsInfo } from '@bp/test-infra';
import { expect, inject } from 'vitest';
import { createSshProvider, type SshProvider, type SshProviderSettings } from './index.js';

export const HELLO_SERVER = fileURLToPath(new URL('../../../examples/hello/server.js', import.meta.url));

export function sshHosts(): SshHostsInfo {
  return inject('sshHosts');
}

/** A provider for the shared hosts: their key and known_hosts, a short stop grace. */
export function providerFor(
  runtime: 'docker' | 'native',
  overrides: Partial<SshProviderSettings> = {},
): SshProvider {
  const info = sshHosts();
  return createSshProvider({
    hosts: info.hosts.map((host) => host.address),
    user: info.user,
    key: info.privateKeyPath,
    knownHosts: info.knownHostsPath,
    runtime,
    stopGraceMs: 1000,
    ...overrides,
  });
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
}

/** The docker CLI against a host's own engine; arguments are data (no shell). */
export function hostDocker(host: SshHostInfo, args: string[]): Promise<string> {
  return run('/usr/bin/docker', ['-H', host.dockerHost!, ...args]);
}

/** Containers labelled with the deployment id, over every host's engine. */
export async function containersOf(
  deploymentId: string,
  options: { running?: boolean } = {},
): Promise<number> {
  const counts = await Promise.all(
    sshHosts().hosts.map(async (host) => {
      const filters = ['--filter', `label=bp-deployment=${deploymentId}`];
      if (options.running) filters.push('--filter', 'status=running');
      return (await hostDocker(host, ['ps', '--all', '--quiet', ...filters])).split('\n').filter(Boolean)
        .length;
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Live processes (zombies excluded) whose environment holds BP_DEPLOYMENT_ID=<id>: whatever runs for it. */
export async function processesOf(deploymentId: string): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const [environ = '', cmdline = '', stat = ''] = await Promise.all(
      ['environ', 'cmdline', 'stat'].map((file) => readFile(`/proc/${name}/${file}`, 'utf8').catch(() => '')),
    );
    if (!environ.split('\0').includes(`BP_DEPLOYMENT_ID=${deploymentId}`)) continue;
    if (!stat || /^\d+ \(.*\) Z/s.test(stat)) continue;
    found.push({ pid: Number(name), argv: cmdline.split('\0').slice(0, -1) });
  }
  return found;
}

/** Hosts that still hold an instance directory for the id. */
export function instanceDirsOf(deploymentId: string): string[] {
  return sshHosts()
    .hosts.map((host) => join(host.home, '.bp', 'instances', deploymentId))
    .filter((dir) => existsSync(dir));
}

/** One command on a host through OpenSSH's client (not the provider, not ssh2), host key checked. */
export function sshExec(host: SshHostInfo, command: string): Promise<string> {
  const info = sshHosts();
  return run('ssh', [
    '-i',
    info.privateKeyPath,
    '-o',
    `UserKnownHostsFile=${info.knownHostsPath}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    `${info.user}@${host.address}`,
    command,
  ]);
}

/** Deploy options with bp's tags and a small request; the id is fresh unless given. */
export function deployOptions(
  workload: WorkloadV1,
  overrides: Partial<DeployOptionsV1> = {},
): DeployOptionsV1 {
  const deploymentId = overrides.deploymentId ?? `t-${randomBytes(5).toString('hex')}`;
  const expiresAt = overrides.expiresAt ?? new Date(Date.now() + 10 * 60_000);
  return {
    deploymentId,
    name: 'provider-ssh-test',
    workload,
    resources: { cpu: 0.5, memoryGb: 0.25, storageGb: 1, gpuCount: 0, spot: false },
    expiresAt,
    tags: deploymentTags({ deploymentId, expiresAt, owner: 'provider-ssh-test' }),
    ...overrides,
  };
}

/** What a promise rejected with (undefined when it resolved). */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Nothing of the deployment is left on any host: no container, no process, no instance directory. */
export async function expectNothingLeft(deploymentId: string): Promise<void> {
  expect(await processesOf(deploymentId), `processes of ${deploymentId}`).toEqual([]);
  expect(instanceDirsOf(deploymentId), `instance directories of ${deploymentId}`).toEqual([]);
  expect(await containersOf(deploymentId), `containers of ${deploymentId}`).toBe(0);
}
