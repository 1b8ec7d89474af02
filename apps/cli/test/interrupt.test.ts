import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, startBp, tempHome, waitUntil } from './helpers.js';

const home = tempHome();
const blueprints = mkdtempSync(join(home, 'blueprints-'));

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

/** A copy of examples/hello whose /health always answers 503. */
function neverHealthy(): string {
  const dir = mkdtempSync(join(blueprints, 'sick-'));
  cpSync(join(HELLO, 'server.js'), join(dir, 'server.js'));
  writeFileSync(
    join(dir, 'Blueprint.toml'),
    `[package]\nname = "sick"\n[blueprint]\ncommand = ["node", "server.js"]\nport = 8080\nhealth = "/health"\nenv = { HELLO_FAIL_HEALTH = "1" }\n[blueprint.resources]\nmin_cpu = 0.25\nmin_memory_gb = 0.25\nmin_storage_gb = 1\n`,
  );
  return dir;
}

function collect(child: ReturnType<typeof startBp>) {
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => (output.stdout += chunk));
  child.stderr!.on('data', (chunk) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { output, exited };
}

describe('following and interrupting', () => {
  it('bp logs -f streams new lines until Ctrl-C, then exits 0', async () => {
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '5m', '--json'], home)).stdout);
    const follower = startBp(['logs', record.id, '-f'], home);
    const { output, exited } = collect(follower);
    await waitUntil(() => output.stdout.includes('hello listening'), 10_000, 'the first lines');
    await httpGet(`${record.endpoint}/while-following`);
    await waitUntil(
      () => output.stdout.includes('GET /while-following'),
      10_000,
      'a line written after the follow began',
    );
    follower.kill('SIGINT');
    expect(await exited).toBe(0);
    await runBp(['terminate', record.id], home);
  });

  it('a deploy that never becomes healthy fails within --wait-timeout with the reason and last log lines, leaving nothing', async () => {
    const started = Date.now();
    const result = await runBp(['deploy', neverHealthy(), '--wait-timeout', '2s', '--json'], home);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/never became healthy: not healthy after 2 s: .*503/);
    expect(result.stderr).toContain('hello listening');
    const failure = JSON.parse(result.stdout);
    expect(failure.error).toMatchObject({ code: 'health-timeout' });
    const record = JSON.parse((await runBp(['status', failure.error.deploymentId, '--json'], home)).stdout);
    expect(record).toMatchObject({ status: 'failed' });
    expect(record.lastLogLines.join('\n')).toContain('GET /health');
    expect(processesOf(record.id)).toEqual([]);
  });

  it('Ctrl-C during a deploy undoes what it created, records why, and exits 130', async () => {
    const child = startBp(['deploy', neverHealthy(), '--wait-timeout', '60s'], home);
    const { output, exited } = collect(child);
    await waitUntil(() => output.stderr.includes('waiting for'), 20_000, 'the health wait');
    const id = /creating (bp-[0-9a-z]{6})/.exec(output.stderr)?.[1];
    expect(id).toBeDefined();
    expect(processesOf(id!).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(processesOf(id!)).toEqual([]);
    const record = JSON.parse((await runBp(['status', id!, '--json'], home)).stdout);
    expect(record).toMatchObject({ status: 'failed', reason: 'interrupted' });
  });
});
