import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, tempHome } from './helpers.js';

const home = tempHome();

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('several bp processes at once', () => {
  it('ten deploys at the same moment give ten records and ten services; ten terminates leave none', async () => {
    const deploys = await Promise.all(
      Array.from({ length: 10 }, () =>
        runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home, { timeoutMs: 90_000 }),
      ),
    );
    for (const result of deploys) expect(result.code, result.stderr).toBe(0);
    const records = deploys.map((result) => JSON.parse(result.stdout));
    const ids = new Set(records.map((record) => record.id));
    const endpoints = new Set(records.map((record) => record.endpoint));
    expect(ids.size).toBe(10);
    expect(endpoints.size).toBe(10);
    for (const record of records) expect(await httpGet(`${record.endpoint}/health`)).toBe(200);

    const status = JSON.parse((await runBp(['status', '--json'], home)).stdout);
    expect(status).toHaveLength(10);
    expect(status.every((record: { status: string }) => record.status === 'running')).toBe(true);

    const terminates = await Promise.all(records.map((record) => runBp(['terminate', record.id], home)));
    for (const result of terminates) expect(result.code, result.stderr).toBe(0);
    for (const record of records) {
      expect(await httpGet(`${record.endpoint}/health`)).toBe('ECONNREFUSED');
      expect(processesOf(record.id)).toEqual([]);
    }
    const after = JSON.parse((await runBp(['status', '--json'], home)).stdout);
    expect(after.map((record: { status: string }) => record.status)).toEqual(Array(10).fill('terminated'));
  });
});
