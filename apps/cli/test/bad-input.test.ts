import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, runBp, tempHome } from './helpers.js';

const home = tempHome();
const blueprints = tempHome();

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(blueprints, { recursive: true, force: true });
});

function blueprint(name: string, toml: string): string {
  const dir = join(blueprints, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Blueprint.toml'), toml);
  return dir;
}

const valid = (resources: string) => `[package]
name = "svc"
[blueprint]
command = ["node", "server.js"]
port = 8080
health = "/health"
[blueprint.resources]
${resources}
`;

/** One clear line on stderr, no stack trace, and no state written. */
async function expectRefused(args: string[], code: number, pattern: RegExp) {
  const result = await runBp(args, home);
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines.slice(-1)[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout).toBe('');
  return result;
}

describe('bad input', () => {
  it('refuses a manifest with a negative CPU, naming file, key and reason', async () => {
    const dir = blueprint('negative', valid('min_cpu = -1\nmin_memory_gb = 1\nmin_storage_gb = 1'));
    await expectRefused(['deploy', dir], 2, /Blueprint\.toml.*blueprint\.resources\.min_cpu/);
  });

  it('refuses min above recommended', async () => {
    const dir = blueprint(
      'minmax',
      valid('min_cpu = 4\nrecommended_cpu = 2\nmin_memory_gb = 1\nmin_storage_gb = 1'),
    );
    await expectRefused(['deploy', dir], 2, /Blueprint\.toml.*recommended_cpu|min_cpu/);
  });

  it('refuses an unknown key', async () => {
    const dir = blueprint(
      'unknown',
      valid('min_cpu = 1\nmin_memory_gb = 1\nmin_storage_gb = 1\ncolour = "red"'),
    );
    await expectRefused(['deploy', dir], 2, /Blueprint\.toml.*colour/);
  });

  it('refuses a directory without a manifest', async () => {
    await expectRefused(['deploy', join(blueprints, 'nothing-here')], 2, /nothing-here/);
  });

  it('refuses an unknown flag', async () => {
    await expectRefused(['deploy', HELLO, '--frobnicate'], 2, /frobnicate/);
  });

  it('refuses an unknown command', async () => {
    await expectRefused(['frobnicate'], 2, /frobnicate/);
  });

  for (const ttl of ['-1h', 'forever', '0s', '10x']) {
    it(`refuses --ttl ${ttl}`, async () => {
      await expectRefused(['deploy', HELLO, '--ttl', ttl], 2, /ttl/);
    });
  }

  it('answers 3 for an unknown id in status, logs and terminate', async () => {
    await expectRefused(['status', 'bp-zzzzzz'], 3, /bp-zzzzzz.*not found/);
    await expectRefused(['logs', 'bp-zzzzzz'], 3, /bp-zzzzzz.*not found/);
    await expectRefused(['terminate', 'bp-zzzzzz'], 3, /bp-zzzzzz.*not found/);
  });

  it('refuses terminate without ids or --all', async () => {
    await expectRefused(['terminate'], 2, /--all/);
  });

  it('prints the error as JSON on stdout under --json', async () => {
    const result = await runBp(['deploy', HELLO, '--ttl', 'forever', '--json'], home);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'validation' } });
  });

  it('shows the stack trace only with --debug', async () => {
    const result = await runBp(['deploy', HELLO, '--ttl', 'forever', '--debug'], home);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\s+at /m);
  });

  it('left no state behind after all of that', async () => {
    const status = await runBp(['status', '--json'], home);
    expect(JSON.parse(status.stdout)).toEqual([]);
    const localDir = join(home, 'local');
    const instances = (() => {
      try {
        return readdirSync(localDir).filter((entry) => entry.startsWith('bp-'));
      } catch {
        return [];
      }
    })();
    expect(instances).toEqual([]);
  });
});
