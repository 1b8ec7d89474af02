import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, tempHome, waitUntil } from './helpers.js';

const home = tempHome();
afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

function forgetRecord(id: string): void {
  // Node's SQLite, as the tracker's own: to lose a record the way a lost or damaged state would.
  const database = new DatabaseSync(join(home, 'state.db'));
  database.prepare('DELETE FROM audit WHERE deployment_id = ?').run(id);
  database.prepare('DELETE FROM deployments WHERE id = ?').run(id);
  database.close();
}

describe('bp reconcile', () => {
  it('finds a running service whose record was lost, lists it on a dry run, and destroys it', async () => {
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout);
    forgetRecord(record.id);
    expect(JSON.parse((await runBp(['status', '--json'], home)).stdout)).toEqual([]);

    const dryRun = await runBp(['reconcile', '--dry-run', '--json'], home);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(JSON.parse(dryRun.stdout).findings).toEqual([
      expect.objectContaining({ target: 'local', deploymentId: record.id, kind: 'orphan', applied: false }),
    ]);
    expect(await httpGet(`${record.endpoint}/health`)).toBe(200);

    const applied = await runBp(['reconcile', '--json'], home);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout).findings).toEqual([
      expect.objectContaining({
        deploymentId: record.id,
        kind: 'orphan',
        action: 'destroyed',
        applied: true,
      }),
    ]);
    expect(await httpGet(`${record.endpoint}/health`)).toBe('ECONNREFUSED');
    expect(processesOf(record.id)).toEqual([]);
    expect(JSON.parse((await runBp(['reconcile', '--json'], home)).stdout).findings).toEqual([]);
  });

  it('marks a live record whose service is gone as failed, after asking the provider', async () => {
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout);
    // The service and its supervisor vanish behind bp's back (a reboot, an operator's kill -9).
    for (const pid of processesOf(record.id)) process.kill(pid, 'SIGKILL');
    rmSync(join(home, 'local', record.id), { recursive: true, force: true });
    await waitUntil(() => processesOf(record.id).length === 0, 5000, 'the service to be gone');

    const result = await runBp(['reconcile', '--json'], home);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).findings).toEqual([
      expect.objectContaining({
        deploymentId: record.id,
        kind: 'missing',
        action: 'marked failed',
        applied: true,
      }),
    ]);
    expect(JSON.parse((await runBp(['status', record.id, '--json'], home)).stdout)).toMatchObject({
      status: 'failed',
      reason: 'its resources are gone (found by reconcile)',
    });
  });
});
