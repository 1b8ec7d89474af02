import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, runBp, tempHome } from './helpers.js';

const home = tempHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('configure and providers', () => {
  it('writes a target to cloud.toml (mode 0600) naming where credentials come from, never their values', async () => {
    const result = await runBp(
      [
        'configure',
        '--target',
        'edge',
        '--provider',
        'docker',
        '--credentials-env',
        'EDGE_',
        '--set-default',
      ],
      home,
    );
    expect(result.code, result.stderr).toBe(0);
    const file = join(home, 'cloud.toml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('default_target = "edge"');
    expect(text).toMatch(/\[targets\.edge\]\s+type = "docker"/);
    expect(text).toContain('prefix = "EDGE_"');

    const again = await runBp(
      ['configure', '--target', 'aws', '--provider', 'aws', '--region', 'us-west-2', '--json'],
      home,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      default_target: 'edge',
      targets: { edge: { type: 'docker' }, aws: { type: 'aws', default_region: 'us-west-2' } },
    });
  });

  it('reports each provider, with local reachable and configured ones named', async () => {
    const result = await runBp(['providers', '--json'], home);
    expect(result.code, result.stderr).toBe(0);
    const reports = JSON.parse(result.stdout);
    expect(reports.find((report: { provider: string }) => report.provider === 'local')).toMatchObject({
      installed: true,
      configured: true,
      reachable: true,
    });
    const docker = reports.find((report: { provider: string }) => report.provider === 'docker');
    expect(docker).toMatchObject({ installed: true, configured: true });
    expect(docker.targets).toContain('edge');
    expect(reports.find((report: { provider: string }) => report.provider === 'kubernetes')).toMatchObject({
      installed: false,
    });
  });

  it('refuses to deploy to a target whose provider is not available, creating nothing', async () => {
    expect((await runBp(['configure', '--target', 'cluster', '--provider', 'kubernetes'], home)).code).toBe(
      0,
    );
    const result = await runBp(['deploy', HELLO, '--target', 'cluster'], home);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/cluster.*kubernetes.*not available/);
    expect(JSON.parse((await runBp(['status', '--json'], home)).stdout)).toEqual([]);
  });

  it('refuses a broken cloud.toml with the file, key and reason', async () => {
    const broken = join(home, 'broken');
    writeFileSync(join(home, 'broken.toml'), '');
    const result = await runBp(['status'], broken, {});
    expect(result.code).toBe(0);
    const badHome = tempHome();
    writeFileSync(join(badHome, 'cloud.toml'), '[defaults]\nttl = "1h"\nspot = "yes"\n');
    const bad = await runBp(['deploy', HELLO], badHome);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/cloud\.toml: defaults\.spot: /);
    rmSync(badHome, { recursive: true, force: true });
  });

  it('refuses configure without flags when there is no terminal to ask', async () => {
    const result = await runBp(['configure'], home);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/--provider/);
  });
});
