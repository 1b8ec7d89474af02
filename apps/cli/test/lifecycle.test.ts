import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, tempHome, waitUntil } from './helpers.js';

const home = tempHome();

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('bp end to end on this machine', () => {
  it('deploys, lists, shows logs, terminates and shows it terminated', async () => {
    const deployed = await runBp(['deploy', HELLO, '--provider', 'local', '--ttl', '10m', '--json'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    expect(record).toMatchObject({
      name: 'hello',
      target: 'local',
      provider: 'local',
      status: 'running',
      hourlyUsd: 0,
    });
    expect(record.id).toMatch(/^bp-[0-9a-z]{6}$/);
    expect(record.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ttlMs = new Date(record.expiresAt).getTime() - Date.now();
    expect(ttlMs).toBeGreaterThan(9 * 60_000);
    expect(ttlMs).toBeLessThanOrEqual(10 * 60_000);

    expect(await httpGet(`${record.endpoint}/health`)).toBe(200);
    expect(processesOf(record.id).length).toBeGreaterThan(0);

    const status = await runBp(['status', '--json'], home);
    expect(status.code, status.stderr).toBe(0);
    const listed = JSON.parse(status.stdout);
    expect(listed).toEqual([
      expect.objectContaining({ id: record.id, status: 'running', endpoint: record.endpoint, accruedUsd: 0 }),
    ]);
    expect(listed[0].createdAt).toEqual(expect.any(String));
    expect(listed[0].attempts).toEqual([expect.objectContaining({ target: 'local', outcome: 'ok' })]);

    // A unique prefix is enough to name it.
    const one = await runBp(['status', record.id.slice(0, 6), '--json'], home);
    expect(JSON.parse(one.stdout)).toMatchObject({ id: record.id, status: 'running' });

    await httpGet(`${record.endpoint}/from-the-test`);
    const logs = await runBp(['logs', record.id], home);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('hello listening on');
    expect(logs.stdout).toContain('GET /from-the-test');

    const tail = await runBp(['logs', record.id, '--tail', '1', '--json'], home);
    expect(JSON.parse(tail.stdout)).toHaveLength(1);

    const terminated = await runBp(['terminate', record.id], home);
    expect(terminated.code, terminated.stderr).toBe(0);
    expect(await httpGet(`${record.endpoint}/health`)).toBe('ECONNREFUSED');
    expect(processesOf(record.id)).toEqual([]);

    const after = JSON.parse((await runBp(['status', '--json'], home)).stdout);
    expect(after).toEqual([expect.objectContaining({ id: record.id, status: 'terminated' })]);
    // Terminating again changes nothing and succeeds.
    const again = await runBp(['terminate', record.id, '--json'], home);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([
      expect.objectContaining({ id: record.id, status: 'terminated' }),
    ]);
  });

  it('prints a human summary without --json and a table for status', async () => {
    const deployed = await runBp(['deploy', HELLO, '--ttl', '5m'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const id = /^(bp-[0-9a-z]{6}) is running$/m.exec(deployed.stdout)?.[1];
    expect(id).toBeDefined();
    expect(deployed.stderr).toContain('waiting for /health');
    const table = await runBp(['status'], home);
    expect(table.stdout).toMatch(
      new RegExp(`^${id}\\s+hello\\s+local\\s+running\\s+http://127\\.0\\.0\\.1:\\d+`, 'm'),
    );
    expect((await runBp(['terminate', id!], home)).code).toBe(0);
    await waitUntil(() => processesOf(id!).length === 0, 5000, 'no process left');
  });
});
