// Behaviour beyond the conformance kit, on the shared hosts: the deadline holds on the host with bp gone,
// failed deploys leave nothing, jump hosts, uploads of the working directory, and host selection.

import { existsSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitFor } from '@bp/conformance';
import { CapacityError, ProviderCallError, ValidationError, type WorkloadV1 } from '@bp/provider';
import { sshHostKeyLine } from '@bp/test-infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshProvider, type SshProvider } from './index.js';
import { HELLO_IMAGE, HELLO_READY_LINE } from './ssh-hosts.global-setup.js';
import {
  containersOf,
  deployOptions,
  expectNothingLeft,
  HELLO_SERVER,
  hostDocker,
  instanceDirsOf,
  processesOf,
  providerFor,
  rejectionOf,
  sshExec,
  sshHosts,
} from './ssh-hosts.test-helpers.js';

const WORKLOADS: Record<'docker' | 'native', WorkloadV1> = {
  docker: { image: HELLO_IMAGE, port: 8080, healthPath: '/health', env: {} },
  native: { command: [process.execPath, HELLO_SERVER], port: 8080, healthPath: '/health', env: {} },
};
const providers: SshProvider[] = [];
const tracked = (provider: SshProvider) => {
  providers.push(provider);
  return provider;
};
let workDir = '';
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'bp-ssh-provider-'));
});
afterAll(async () => {
  await Promise.all(providers.map((provider) => provider.close()));
  await rm(workDir, { recursive: true, force: true });
});

/** The host whose home holds the deployment's instance directory. */
function hostOf(deploymentId: string) {
  const [dir] = instanceDirsOf(deploymentId);
  const host = sshHosts().hosts.find((candidate) => dir?.startsWith(`${candidate.home}/`));
  if (!host) throw new Error(`no host holds ${deploymentId}`);
  return host;
}

describe('the deadline holds on the host with bp gone', () => {
  for (const runtime of ['docker', 'native'] as const) {
    it(`runtime ${runtime}: stops at its expiry with no provider and no connection`, async () => {
      const provider = tracked(providerFor(runtime));
      const expiresAt = new Date(Date.now() + 4000);
      const { deploymentId } = await provider.deployInstance(
        deployOptions(WORKLOADS[runtime], { expiresAt }),
      );
      const host = hostOf(deploymentId);
      // Ground truth through OpenSSH's own client: what runs on the host for this id.
      const probe =
        runtime === 'docker'
          ? `docker inspect --format '{{.State.Status}}' ${deploymentId}`
          : `grep -lzxF BP_DEPLOYMENT_ID=${deploymentId} /proc/[0-9]*/environ | wc -l`;
      const running = (output: string) =>
        runtime === 'docker' ? output.trim() === 'running' : Number(output) > 0;
      expect(running(await sshExec(host, probe)), 'running before the deadline').toBe(true);
      await provider.close();

      await waitFor(async () => !running(await sshExec(host, probe)), {
        timeoutMs: expiresAt.getTime() - Date.now() + 20_000,
        intervalMs: 500,
        what: `${deploymentId} stopped on ${host.address}`,
      });
      expect(Date.now(), 'not before its deadline').toBeGreaterThanOrEqual(expiresAt.getTime() - 1000);
      // The watchdog or supervisor has gone too: nothing of the id runs on the host.
      await waitFor(async () => (await processesOf(deploymentId)).length === 0, {
        timeoutMs: 10_000,
        what: `no process of ${deploymentId}`,
      });

      // The same provider reconnects after close(), reads the end, and removes what is left.
      const status = await provider.getInstanceStatus({ deploymentId });
      expect(status.state).toBe('exited');
      expect(status.message).toContain('deadline');
      await provider.terminateInstance({ deploymentId });
      expect((await provider.getInstanceStatus({ deploymentId })).state).toBe('gone');
      await expectNothingLeft(deploymentId);
    });
  }
});

describe('failed deploys are reported and leave nothing', () => {
  it('runtime docker: an image that cannot be pulled', async () => {
    const provider = tracked(providerFor('docker'));
    // A registry address in the host's namespace where nothing listens: refused at once, no internet.
    const image = '127.0.0.1:5999/bp-test/missing:1';
    const options = deployOptions({ ...WORKLOADS.docker, image });
    const error = await rejectionOf(provider.deployInstance(options));
    expect(ProviderCallError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toContain(image);
    expect((error as Error).message).toMatch(/connection refused/i);
    expect((await provider.getInstanceStatus({ deploymentId: options.deploymentId })).state).toBe('gone');
    await expectNothingLeft(options.deploymentId);
  });

  it('runtime docker: a command the image does not have', async () => {
    const provider = tracked(providerFor('docker'));
    const options = deployOptions({ ...WORKLOADS.docker, command: ['/no/such/program'] });
    const error = await rejectionOf(provider.deployInstance(options));
    expect(ProviderCallError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toContain('/no/such/program');
    await expectNothingLeft(options.deploymentId);
  });

  it("runtime docker: a container holding the id's name that bp did not make is left alone", async () => {
    const host = sshHosts().hosts[0]!;
    const provider = tracked(providerFor('docker', { hosts: [host.address] }));
    const options = deployOptions(WORKLOADS.docker);
    const stranger = (await hostDocker(host, ['create', '--name', options.deploymentId, HELLO_IMAGE])).trim();
    try {
      const error = await rejectionOf(provider.deployInstance(options));
      expect(ProviderCallError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toContain(`a container named ${options.deploymentId} exists`);
      expect((error as Error).message).toContain('bp did not make');
      const id = await hostDocker(host, [
        'container',
        'inspect',
        '--format',
        '{{.Id}}',
        options.deploymentId,
      ]);
      expect(id.trim(), 'the stranger is still there').toBe(stranger);
      // No watchdog, no instance directory, no container with bp's labels.
      await expectNothingLeft(options.deploymentId);
    } finally {
      await hostDocker(host, ['rm', '--force', options.deploymentId]);
    }
  });

  it('runtime native: a command the host does not have', async () => {
    const provider = tracked(providerFor('native'));
    const options = deployOptions({ ...WORKLOADS.native, command: ['/no/such/program', '--flag'] });
    const error = await rejectionOf(provider.deployInstance(options));
    expect(ValidationError.isInstance(error), String(error)).toBe(true);
    expect((error as ValidationError).path).toBe('workload.command');
    expect((error as Error).message).toContain('/no/such/program');
    await expectNothingLeft(options.deploymentId);
  });
});

describe('a deploy of an id whose instance has ended', () => {
  it('runtime docker: replaces it instead of reusing it', async () => {
    const provider = tracked(providerFor('docker'));
    const options = deployOptions({ ...WORKLOADS.docker, env: { HELLO_EXIT_AT_ONCE: '1' } });
    const { deploymentId } = options;
    await provider.deployInstance(options);
    await waitFor(async () => (await provider.getInstanceStatus({ deploymentId })).state === 'exited', {
      timeoutMs: 20_000,
      what: `${deploymentId} exited`,
    });
    const again = await provider.deployInstance({ ...options, workload: WORKLOADS.docker });
    expect(again.reused).toBe(false);
    await waitFor(async () => (await provider.checkHealth({ deploymentId, path: '/health' })).healthy, {
      timeoutMs: 20_000,
      what: `${deploymentId} healthy`,
    });
    expect(await containersOf(deploymentId)).toBe(1);
    await provider.terminateInstance({ deploymentId });
    await expectNothingLeft(deploymentId);
  });
});

describe('health checks', () => {
  it('runtime docker: an answer at the endpoint the instance had counts only while it runs there', async () => {
    const host = sshHosts().hosts[0]!;
    const provider = tracked(providerFor('docker', { hosts: [host.address] }));
    const options = deployOptions(WORKLOADS.docker);
    const { deploymentId } = options;
    const { endpoint } = await provider.deployInstance(options);
    const stranger = `stranger-${deploymentId}`;
    try {
      await waitFor(async () => (await provider.checkHealth({ deploymentId, path: '/health' })).healthy, {
        timeoutMs: 20_000,
        what: `${deploymentId} healthy`,
      });
      // bp's container stops and another service takes over its port, answering the same health path.
      await hostDocker(host, ['stop', '--time', '0', deploymentId]);
      const { port } = new URL(endpoint!);
      await hostDocker(host, [
        'run',
        '--detach',
        '--name',
        stranger,
        '--publish',
        `${port}:8080`,
        HELLO_IMAGE,
      ]);
      await waitFor(async () => (await fetch(`${endpoint}/health`).catch(() => undefined))?.ok, {
        timeoutMs: 20_000,
        what: `the stranger answering at ${endpoint}`,
      });
      const health = await provider.checkHealth({ deploymentId, path: '/health' });
      expect(health.healthy).toBe(false);
      expect(health.reason).toContain('instance is exited');
    } finally {
      await hostDocker(host, ['rm', '--force', stranger]);
      await provider.terminateInstance({ deploymentId });
    }
    await expectNothingLeft(deploymentId);
  });
});

describe('hosts', () => {
  it('chooses only a host with room, and names each host when none has it', async () => {
    const provider = tracked(providerFor('docker'));
    const available = await provider.getAvailableResources();
    expect(available.cpu).toBeGreaterThan(0);
    expect(available.memoryGb).toBeGreaterThan(0);
    expect(available.storageGb).toBeGreaterThan(0);
    const options = deployOptions(WORKLOADS.docker);
    options.resources = { ...options.resources, memoryGb: Math.ceil(available.memoryGb * 10) + 1 };
    const error = await rejectionOf(provider.deployInstance(options));
    expect(CapacityError.isInstance(error), String(error)).toBe(true);
    for (const host of sshHosts().hosts) expect((error as Error).message).toContain(host.address);
    await expectNothingLeft(options.deploymentId);
  });

  it('reaches a host through a jump host (ssh -J) and nowhere else', async () => {
    const info = sshHosts();
    const bastion = info.hosts[0]!;
    // sshd also listens on 127.0.0.1 inside the bastion's namespace: only the bastion can reach it.
    const knownHosts = join(workDir, 'jump_known_hosts');
    const key = await sshHostKeyLine(bastion);
    writeFileSync(knownHosts, `${bastion.address} ${key}\n127.0.0.1 ${key}\n`, { mode: 0o600 });
    const settings = {
      hosts: ['127.0.0.1'],
      user: info.user,
      key: info.privateKeyPath,
      knownHosts,
      runtime: 'native' as const,
      stopGraceMs: 1000,
    };
    const direct = tracked(createSshProvider(settings));
    expect(await rejectionOf(direct.getAvailableResources()), 'direct connection').toBeInstanceOf(Error);

    const provider = tracked(createSshProvider({ ...settings, jumpHost: bastion.address }));
    const { deploymentId, endpoint } = await provider.deployInstance(deployOptions(WORKLOADS.native));
    expect(instanceDirsOf(deploymentId)[0]).toContain(bastion.home);
    const port = new URL(endpoint!).port;
    // The endpoint names the host as configured (127.0.0.1 behind the bastion); its address serves the same port.
    await waitFor(
      async () => (await fetch(`http://${bastion.address}:${port}/health`).catch(() => undefined))?.ok,
      { timeoutMs: 20_000, what: 'the service behind the jump host' },
    );
    expect((await provider.getInstanceStatus({ deploymentId })).state).toBe('running');
    const lines: string[] = [];
    for await (const entry of provider.logs({ deploymentId })) lines.push(entry.message);
    expect(lines.join('\n')).toContain('hello listening');
    await provider.terminateInstance({ deploymentId });
    expect((await provider.getInstanceStatus({ deploymentId })).state).toBe('gone');
    await expectNothingLeft(deploymentId);
  });

  it('runtime native: uploads the working directory and runs the command in it', async () => {
    const provider = tracked(providerFor('native'));
    const app = join(workDir, 'hello-app');
    await cp(dirname(HELLO_SERVER), app, { recursive: true });
    const options = deployOptions({
      ...WORKLOADS.native,
      command: [process.execPath, 'server.js'],
      workingDirectory: app,
    });
    const { deploymentId } = options;
    const instance = await provider.deployInstance(options);
    expect(instance.warnings.map((warning) => warning.setting)).toContain('resources');
    await waitFor(async () => (await provider.checkHealth({ deploymentId, path: '/health' })).healthy, {
      timeoutMs: 20_000,
      what: `${deploymentId} healthy`,
    });
    const [dir] = instanceDirsOf(deploymentId);
    expect(await readFile(join(dir!, 'app', 'server.js'), 'utf8')).toBe(await readFile(HELLO_SERVER, 'utf8'));
    const collect = async (since?: Date, tail?: number) => {
      const entries = [];
      for await (const entry of provider.logs({ deploymentId, since, tail })) entries.push(entry);
      return entries;
    };
    expect((await collect()).some((entry) => entry.message.includes('hello listening'))).toBe(true);
    expect(await collect(new Date(Date.now() + 60_000))).toEqual([]);
    expect((await collect(undefined, 1)).length).toBe(1);
    await provider.terminateInstance({ deploymentId });
    await expectNothingLeft(deploymentId);
    expect(existsSync(dir!)).toBe(false);
  });

  it('runtime docker: the ready line is in the logs with stream and time', async () => {
    const provider = tracked(providerFor('docker'));
    const { deploymentId } = await provider.deployInstance(deployOptions(WORKLOADS.docker));
    try {
      const entry = await waitFor(
        async () => {
          for await (const found of provider.logs({ deploymentId })) {
            if (found.message.includes(HELLO_READY_LINE)) return found;
          }
          return undefined;
        },
        { timeoutMs: 20_000, what: 'the ready line' },
      );
      expect(entry.stream).toBe('stdout');
      expect(Math.abs(entry.timestamp.getTime() - Date.now())).toBeLessThan(60_000);
    } finally {
      await provider.terminateInstance({ deploymentId });
    }
    await expectNothingLeft(deploymentId);
  });
});
