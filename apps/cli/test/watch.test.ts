import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, runBp, startBp, tempHome, waitUntil } from './helpers.js';

const home = tempHome();
afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('bp status --watch', () => {
  it('prints one JSON document per refresh, follows changes, and ends with 0 on Ctrl-C', async () => {
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout);
    const watcher = startBp(['status', '--watch', '--interval', '0.3', '--json'], home);
    let stdout = '';
    watcher.stdout!.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => watcher.on('close', resolve));
    const documents = () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { id: string; status: string }[]);
    await waitUntil(() => documents().length >= 2, 10_000, 'two refreshes');
    expect(documents()[0]).toEqual([expect.objectContaining({ id: record.id, status: 'running' })]);
    await runBp(['terminate', record.id], home);
    await waitUntil(
      () => documents().at(-1)?.[0]?.status === 'terminated',
      10_000,
      'the watch to show the termination',
    );
    watcher.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
