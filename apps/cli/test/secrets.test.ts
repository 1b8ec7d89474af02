import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, runBp, tempHome } from './helpers.js';

const home = tempHome();
// The blueprint (which holds the expected value to compare with) lives outside BP_HOME.
const blueprints = tempHome();
afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
  rmSync(blueprints, { recursive: true, force: true });
});

const SECRET = 'sk-live-7a1b9c2d-never-print-me';

/** Every file under a directory, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('secrets', () => {
  it('reach the service but no state file, log, status, error or --json output', async () => {
    const dir = mkdtempSync(join(blueprints, 'secret-blueprint-'));
    cpSync(join(HELLO, 'server.js'), join(dir, 'server.js'));
    // The service answers / with whether it got the secret, never the secret itself.
    writeFileSync(
      join(dir, 'check.js'),
      `import './server.js';\nconsole.log(process.env.API_TOKEN === ${JSON.stringify(SECRET)} ? 'secret received' : 'secret missing');\n`,
    );
    writeFileSync(
      join(dir, 'Blueprint.toml'),
      `[package]\nname = "secretive"\n[blueprint]\ncommand = ["node", "check.js"]\nport = 8080\nhealth = "/health"\n[blueprint.secrets]\nAPI_TOKEN = { env = "SECRETIVE_TOKEN" }\n[blueprint.resources]\nmin_cpu = 0.25\nmin_memory_gb = 0.25\nmin_storage_gb = 1\n`,
    );
    const env = { SECRETIVE_TOKEN: SECRET };
    const deployed = await runBp(['deploy', dir, '--ttl', '5m', '--json', '--debug'], home, { env });
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    expect(await httpGet(`${record.endpoint}/health`)).toBe(200);
    const logs = await runBp(['logs', record.id, '--json'], home);
    expect(logs.stdout).toContain('secret received');
    const status = await runBp(['status', record.id, '--json'], home);
    const costs = await runBp(['costs', '--json'], home);
    for (const output of [deployed, logs, status, costs]) {
      expect(output.stdout + output.stderr).not.toContain(SECRET);
    }
    await runBp(['terminate', record.id], home);
    // Everything bp wrote: cloud.toml, the tracker (and its WAL), the local instances' logs and state.
    for (const file of filesUnder(home)) expect(readFileSync(file, 'latin1'), file).not.toContain(SECRET);

    // A missing secret is refused by name and source, before anything is created.
    const missing = await runBp(['deploy', dir, '--ttl', '5m'], home);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/API_TOKEN.*SECRETIVE_TOKEN/);
  });
});
