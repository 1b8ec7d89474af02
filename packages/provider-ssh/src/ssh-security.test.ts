// Security on real servers: host keys (changed, unknown, trusted), credentials, unreachable hosts, and
// hostile names, arguments, environment values and secrets that must reach the service literally, run
// nothing on the host (a canary file would prove it) and never show in a process list, file or log.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@bp/conformance';
import { CredentialsError, ProviderCallError, type WorkloadV1 } from '@bp/provider';
import { restartSshHost, type SshHosts, sshHostKeyLine, startSshHosts } from '@bp/test-infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshProvider, type SshProvider, type SshProviderSettings } from './index.js';
import { HELLO_IMAGE } from './ssh-hosts.global-setup.js';
import {
  deployOptions,
  expectNothingLeft,
  hostDocker,
  processesOf,
  providerFor,
  rejectionOf,
  sshHosts,
} from './ssh-hosts.test-helpers.js';

const workDir = mkdtempSync(join(tmpdir(), 'bp-ssh-security-'));
const canary = join(workDir, 'canary');
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A command that would leave the canary behind if it ever ran. */
const canaryWorkload: WorkloadV1 = {
  command: ['/bin/sh', '-c', `touch ${canary}`],
  port: 8080,
  healthPath: '/health',
  env: {},
};

function fingerprintOf(publicKeyPath: string): string {
  return execFileSync('ssh-keygen', ['-l', '-f', publicKeyPath], { encoding: 'utf8' }).split(' ')[1]!;
}

describe('host keys and credentials (a host of its own)', () => {
  let hosts: SshHosts;
  const providers: SshProvider[] = [];
  const provider = (settings: Partial<SshProviderSettings>) => {
    const created = createSshProvider({
      hosts: [hosts.hosts[0]!.address],
      key: hosts.privateKeyPath,
      knownHosts: hosts.knownHostsPath,
      runtime: 'native',
      ...settings,
    });
    providers.push(created);
    return created;
  };
  const instancesDir = () => join(hosts.hosts[0]!.home, '.bp', 'instances');
  const expectNothingRan = () => {
    expect(existsSync(canary), 'canary').toBe(false);
    expect(existsSync(instancesDir()) ? readdirSync(instancesDir()) : []).toEqual([]);
  };

  beforeAll(async () => {
    hosts = await startSshHosts({ count: 1 });
  });
  afterAll(async () => {
    await Promise.all(providers.map((created) => created.close()));
    await hosts?.stop();
  });

  it('refuses an unknown host key unless trusted explicitly, then records it', async () => {
    const knownHosts = join(workDir, 'empty_known_hosts');
    writeFileSync(knownHosts, '', { mode: 0o600 });
    const host = hosts.hosts[0]!;
    const error = await rejectionOf(provider({ knownHosts }).deployInstance(deployOptions(canaryWorkload)));
    expect(CredentialsError.isInstance(error), String(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(host.address);
    expect(message).toContain('not in');
    expect(message).toContain(fingerprintOf(`${host.hostKeyPath}.pub`));
    expectNothingRan();

    const trusting = provider({ knownHosts, trustUnknownHostKeys: true });
    expect((await trusting.getAvailableResources()).cpu).toBeGreaterThan(0);
    // Recorded where OpenSSH finds it, so later connections (ours or ssh's) verify it.
    const found = execFileSync('ssh-keygen', ['-F', host.address, '-f', knownHosts], { encoding: 'utf8' });
    expect(found).toContain(await sshHostKeyLine(host));
    expect((await provider({ knownHosts }).getInstanceStatus({ deploymentId: 'not-there' })).state).toBe(
      'gone',
    );
  });

  it('refuses a changed host key with both fingerprints, even when trusting unknown keys', async () => {
    const host = hosts.hosts[0]!;
    const knownHostsBefore = readFileSync(hosts.knownHostsPath, 'utf8');
    const oldFingerprint = fingerprintOf(`${host.hostKeyPath}.pub`);
    expect((await provider({}).getAvailableResources()).cpu).toBeGreaterThan(0);

    await restartSshHost(host, { newHostKey: true });
    const newFingerprint = fingerprintOf(`${host.hostKeyPath}.pub`);
    expect(newFingerprint).not.toBe(oldFingerprint);
    for (const trustUnknownHostKeys of [false, true]) {
      const error = await rejectionOf(
        provider({ trustUnknownHostKeys }).deployInstance(deployOptions(canaryWorkload)),
      );
      expect(CredentialsError.isInstance(error), String(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain(host.address);
      expect(message).toContain('CHANGED');
      expect(message).toContain(oldFingerprint);
      expect(message).toContain(newFingerprint);
      expect((error as CredentialsError).source).toBe(hosts.knownHostsPath);
    }
    expect(readFileSync(hosts.knownHostsPath, 'utf8'), 'known_hosts untouched').toBe(knownHostsBefore);
    expectNothingRan();
  });

  it('names the key file a host refuses, and a key file that is missing', async () => {
    const otherKey = join(workDir, 'other_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    // The host key was replaced above: trust the new one in a known_hosts of this test.
    const knownHosts = join(workDir, 'current_known_hosts');
    writeFileSync(knownHosts, `${hosts.hosts[0]!.address} ${await sshHostKeyLine(hosts.hosts[0]!)}\n`);
    const refused = await rejectionOf(provider({ key: otherKey, knownHosts }).getAvailableResources());
    expect(CredentialsError.isInstance(refused), String(refused)).toBe(true);
    expect((refused as Error).message).toContain(otherKey);
    expect((refused as CredentialsError).source).toBe(otherKey);

    const missingKey = join(workDir, 'no_such_key');
    const missing = await rejectionOf(provider({ key: missingKey, knownHosts }).getAvailableResources());
    expect(CredentialsError.isInstance(missing), String(missing)).toBe(true);
    expect((missing as Error).message).toContain(missingKey);
    expectNothingRan();
  });

  it('closes the connection it made while reading a key that turns out to be missing', async () => {
    // A listener of this test's own that counts the connections it gets and sees each one close.
    let accepted = 0;
    const open = new Set<Socket>();
    const listener = createServer((socket) => {
      accepted++;
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    try {
      const missingKey = join(workDir, 'no_such_key');
      const error = await rejectionOf(
        provider({ hosts: [`127.0.0.1:${port}`], key: missingKey }).getAvailableResources(),
      );
      expect(CredentialsError.isInstance(error), String(error)).toBe(true);
      await waitFor(async () => accepted === 1 && open.size === 0, {
        timeoutMs: 5000,
        what: 'the connection closed again',
      });
    } finally {
      listener.close();
    }
  });

  it('reports a refused or silent address as a retryable call error naming the host', async () => {
    const host = hosts.hosts[0]!;
    const refused = await rejectionOf(provider({ hosts: [`${host.address}:2222`] }).getAvailableResources());
    expect(ProviderCallError.isInstance(refused), String(refused)).toBe(true);
    expect((refused as ProviderCallError).isRetryable).toBe(true);
    expect((refused as Error).message).toContain(`${host.address}:2222`);
    expect((refused as Error).message).toContain('ECONNREFUSED');

    // Nobody holds .3 on the namespace's link: the connection attempt goes unanswered.
    const silentAddress = host.address.replace(/\.2$/, '.3');
    const started = Date.now();
    const silent = await rejectionOf(
      provider({ hosts: [silentAddress], connectTimeoutMs: 1500 }).getInstanceStatus({ deploymentId: 'x' }),
    );
    expect(ProviderCallError.isInstance(silent), String(silent)).toBe(true);
    expect((silent as ProviderCallError).isRetryable).toBe(true);
    expect((silent as Error).message).toContain(silentAddress);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('hostile values reach the service literally and run nothing (shared hosts)', () => {
  const marker = `s3cr3t-${randomBytes(6).toString('hex')}`;
  const hostile = (tag: string) => [
    `'; touch ${canary}-${tag}-1; '`,
    `$(touch ${canary}-${tag}-2)`,
    `\`touch ${canary}-${tag}-3\``,
    `"; touch ${canary}-${tag}-4; "`,
    `first line\ntouch ${canary}-${tag}-5\nlast line`,
    `\\ $HOME \${HOME} ' " ; | & < > * ? ~ # ! %s`,
    '',
  ];
  const providers: SshProvider[] = [];
  afterAll(() => Promise.all(providers.map((created) => created.close())));

  /** No canary of this runtime exists. */
  const expectNoCanary = (tag: string) =>
    expect(readdirSync(workDir).filter((name) => name.startsWith(`canary-${tag}`))).toEqual([]);

  /** The secret shows in no process's argument list and in no file under the hosts' instance directories. */
  async function expectSecretHidden(): Promise<void> {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      expect(cmdline.includes(marker), `process ${pid} shows the secret: ${cmdline}`).toBe(false);
    }
    for (const host of sshHosts().hosts) {
      const instances = join(host.home, '.bp');
      if (!existsSync(instances)) continue;
      const grep = spawnSync('grep', ['-rl', '--', marker, instances], { encoding: 'utf8' });
      expect(grep.stdout, `files holding the secret under ${instances}`).toBe('');
    }
  }

  async function waitHealthy(provider: SshProvider, deploymentId: string): Promise<string> {
    return waitFor(
      async () => {
        const status = await provider.getInstanceStatus({ deploymentId });
        const health = await provider.checkHealth({ deploymentId, path: '/health' });
        return health.healthy && status.endpoint;
      },
      { timeoutMs: 30_000, what: `${deploymentId} healthy` },
    );
  }

  const fetchText = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();

  it('runtime docker: name, command, env and secret', async () => {
    const provider = providerFor('docker');
    providers.push(provider);
    const args = hostile('docker');
    const env = args.join('|');
    const secret = `${marker}\n${args.join('|')}`;
    const name = `evil ${args[0]} ${args[4]}`;
    const options = deployOptions(
      {
        image: HELLO_IMAGE,
        command: ['/hello.sh', ...args],
        port: 8080,
        healthPath: '/health',
        env: { ECHO_ENV: env },
      },
      { name, secrets: { ECHO_SECRET: secret } },
    );
    const { deploymentId } = options;
    await provider.deployInstance(options);
    try {
      const endpoint = await waitHealthy(provider, deploymentId);
      expect(await fetchText(`${endpoint}/echo/env`)).toBe(env);
      expect(await fetchText(`${endpoint}/echo/secret`)).toBe(secret);
      for (const [index, arg] of args.entries()) {
        if (arg) expect(await fetchText(`${endpoint}/echo/arg${index}`), `argument ${index}`).toBe(arg);
      }
      const host = sshHosts().hosts.find((candidate) => endpoint.includes(candidate.address))!;
      const labels = JSON.parse(
        await hostDocker(host, ['inspect', '--format', '{{json .Config.Labels}}', deploymentId]),
      );
      expect(labels['bp-name']).toBe(name);
      expect(labels['bp-deployment']).toBe(deploymentId);
      const logs: string[] = [];
      for await (const entry of provider.logs({ deploymentId })) logs.push(entry.message);
      expect(logs.join('\n')).not.toContain(marker);
      await expectSecretHidden();
      expectNoCanary('docker');
    } finally {
      await provider.terminateInstance({ deploymentId });
    }
    await expectNothingLeft(deploymentId);
    expectNoCanary('docker');
  });

  it('runtime native: name, command, env and secret', async () => {
    const provider = providerFor('native');
    providers.push(provider);
    const args = hostile('native');
    const env = args.join('|');
    const secret = `${marker}\n${args.join('|')}`;
    const name = `evil ${args[1]} ${args[4]}`;
    // Run by node -e: the program text itself is one more argument full of quotes.
    const program = `
      const { createServer } = require('node:http');
      createServer((request, response) => {
        if (request.url === '/health') return response.end('ok');
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ argv: process.argv.slice(1), env: process.env.ECHO_ENV, secret: process.env.ECHO_SECRET }));
      }).listen(Number(process.env.PORT), process.env.HOST, () => console.log("echo listening on '" + process.env.PORT + "'"));
    `;
    const options = deployOptions(
      {
        command: [process.execPath, '-e', program, ...args],
        port: 8080,
        healthPath: '/health',
        env: { ECHO_ENV: env },
      },
      { name, secrets: { ECHO_SECRET: secret } },
    );
    const { deploymentId } = options;
    await provider.deployInstance(options);
    try {
      const endpoint = await waitHealthy(provider, deploymentId);
      const echoed = JSON.parse(await fetchText(`${endpoint}/echo`));
      expect(echoed).toEqual({ argv: args, env, secret });
      const dir = sshHosts()
        .hosts.map((host) => join(host.home, '.bp', 'instances', deploymentId))
        .find((candidate) => existsSync(candidate))!;
      expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).name).toBe(name);
      const service = (await processesOf(deploymentId)).find((process) => process.argv[1] === '-e');
      expect(service?.argv.slice(2)).toEqual([program, ...args]);
      await expectSecretHidden();
      expectNoCanary('native');
    } finally {
      await provider.terminateInstance({ deploymentId });
    }
    await expectNothingLeft(deploymentId);
    expectNoCanary('native');
  });
});
