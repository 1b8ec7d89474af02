import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { HELLO, httpGet, runBp, tempHome } from './helpers.js';

const home = tempHome();
const ssh = inject('ssh');
const host = ssh.hosts[0]!;
writeFileSync(
  join(home, 'cloud.toml'),
  [
    '[targets.box]',
    'type = "ssh"',
    `hosts = ["${host.address}"]`,
    `port = ${host.port}`,
    `user = "${ssh.user}"`,
    `key = "${ssh.privateKeyPath}"`,
    `known_hosts = "${ssh.knownHostsPath}"`,
    'runtime = "native"',
    '',
  ].join('\n'),
);

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('bp on an SSH host', () => {
  it('bp deploy examples/hello --target box runs it on the host, with logs, and terminate stops it', async () => {
    const deployed = await runBp(['deploy', HELLO, '--target', 'box', '--ttl', '10m', '--json'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    expect(record).toMatchObject({ target: 'box', provider: 'ssh', status: 'running' });
    expect(record.endpoint).toMatch(new RegExp(`^http://${host.address.replaceAll('.', '\\.')}:\\d+$`));
    expect(await httpGet(`${record.endpoint}/health`)).toBe(200);
    const logs = await runBp(['logs', record.id], home);
    expect(logs.stdout).toContain('hello listening');
    const terminated = await runBp(['terminate', record.id], home);
    expect(terminated.code, terminated.stderr).toBe(0);
    expect(await httpGet(`${record.endpoint}/health`)).toBe('ECONNREFUSED');
    const status = JSON.parse((await runBp(['status', record.id, '--json'], home)).stdout);
    expect(status).toMatchObject({ status: 'terminated' });
  });
});
