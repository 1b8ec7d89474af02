import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { HELLO, httpGet, runBp, tempHome } from './helpers.js';

const home = tempHome();
const { socketPath, busybox, tlsHost, tls } = inject('docker');
// The busybox of the deadline script must come from the engine, not the internet.
writeFileSync(
  join(home, 'cloud.toml'),
  `[targets.docker]\ntype = "docker"\nsocket = "${socketPath}"\nttl_image = "${busybox}"\n`,
);

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

/** Ground truth from the engine, bypassing bp: containers labelled with this deployment. */
function containersOf(deploymentId: string, all = true): string[] {
  const output = execFileSync(
    '/usr/bin/docker',
    ['ps', ...(all ? ['-a'] : []), '-q', '--filter', `label=bp-deployment=${deploymentId}`],
    { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, encoding: 'utf8' },
  );
  return output.split('\n').filter(Boolean);
}

describe('bp on the Docker engine', () => {
  it('bp deploy examples/hello --provider docker runs its image, and terminate leaves no container', async () => {
    const deployed = await runBp(['deploy', HELLO, '--provider', 'docker', '--ttl', '10m', '--json'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    expect(record).toMatchObject({ target: 'docker', provider: 'docker', status: 'running' });
    expect(await httpGet(`${record.endpoint}/health`)).toBe(200);
    expect(containersOf(record.id, false).length).toBeGreaterThan(0);
    // One container, named after the deployment (bp's ids already start with bp-).
    const names = execFileSync(
      '/usr/bin/docker',
      ['ps', '--format', '{{.Names}}', '--filter', `label=bp-deployment=${record.id}`],
      { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` }, encoding: 'utf8' },
    );
    expect(names.split('\n').filter(Boolean).sort()).toEqual([record.id]);
    const logs = await runBp(['logs', record.id], home);
    expect(logs.stdout + logs.stderr).toContain('hello listening');
    const terminated = await runBp(['terminate', record.id], home);
    expect(terminated.code, terminated.stderr).toBe(0);
    expect(containersOf(record.id)).toEqual([]);
  });

  it('with no target named, an image-only blueprint goes to this machine’s Docker engine', async () => {
    const dir = mkdtempSync(join(home, 'image-only-'));
    cpSync(join(HELLO, 'Blueprint.toml'), join(dir, 'Blueprint.toml'));
    const toml = execFileSync('sed', ['/^command = /d', join(dir, 'Blueprint.toml')], { encoding: 'utf8' });
    writeFileSync(join(dir, 'Blueprint.toml'), toml);
    const deployed = await runBp(['deploy', dir, '--ttl', '10m', '--json'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    expect(record).toMatchObject({ target: 'docker', status: 'running' });
    expect(
      record.attempts.map((attempt: { target: string; outcome: string }) => [
        attempt.target,
        attempt.outcome,
      ]),
    ).toEqual([
      ['local', 'unsupported'],
      ['docker', 'ok'],
    ]);
    await runBp(['terminate', record.id], home);
    expect(containersOf(record.id)).toEqual([]);
  });

  it('deploys over TLS with a client certificate, and is refused without a trusted one', async () => {
    const tlsHome = tempHome();
    const target = (cert: string, key: string) =>
      [
        '[targets.remote]',
        'type = "docker"',
        `host = "${tlsHost}"`,
        `ttl_image = "${busybox}"`,
        `tls = { ca = "${tls.ca}", cert = "${cert}", key = "${key}" }`,
        '',
      ].join('\n');
    try {
      writeFileSync(join(tlsHome, 'cloud.toml'), target(tls.cert, tls.key));
      const deployed = await runBp(
        ['deploy', HELLO, '--target', 'remote', '--ttl', '10m', '--json'],
        tlsHome,
      );
      expect(deployed.code, deployed.stderr).toBe(0);
      const record = JSON.parse(deployed.stdout);
      expect(record).toMatchObject({ target: 'remote', provider: 'docker', status: 'running' });
      expect(await httpGet(`${record.endpoint}/health`)).toBe(200);
      expect(containersOf(record.id, false).length).toBeGreaterThan(0);
      expect((await runBp(['terminate', record.id], tlsHome)).code).toBe(0);
      expect(containersOf(record.id)).toEqual([]);

      writeFileSync(join(tlsHome, 'cloud.toml'), target(tls.untrustedCert, tls.untrustedKey));
      const refused = await runBp(['deploy', HELLO, '--target', 'remote', '--ttl', '10m', '--json'], tlsHome);
      expect(refused.code).toBe(1);
      expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(JSON.parse(refused.stdout).error).toMatchObject({
        code: 'credentials',
        message: expect.stringContaining('refused the client certificate'),
      });
      // Refused before anything was created: failed at once, not left terminating for a reaper that
      // could never reach the engine with that certificate either.
      const listed = JSON.parse((await runBp(['status', '--json'], tlsHome)).stdout) as {
        id: string;
        status: string;
      }[];
      const failed = listed.find((entry) => entry.id !== record.id);
      expect(failed).toMatchObject({ status: 'failed' });
      expect(containersOf(failed!.id)).toEqual([]);
    } finally {
      await runBp(['terminate', '--all'], tlsHome);
      rmSync(tlsHome, { recursive: true, force: true });
    }
  });
});
