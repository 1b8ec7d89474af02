// `bp status --json` with 10,000 records in the tracker, whole process. Target < 0.5 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTracker } from '../packages/tracker/dist/index.js';
import { BP, median, timeProcess } from './lib.mjs';

export async function run({ records = 10_000 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  const env = { ...process.env, BP_HOME: home };
  try {
    const store = openTracker({ path: join(home, 'state.db') });
    const expiresAt = new Date(Date.now() + 24 * 3_600_000);
    for (let index = 0; index < records; index++) {
      const record = await store.create({
        name: `svc-${index}`,
        target: 'local',
        provider: 'local',
        spec: { workload: { command: ['node', 'server.js'], port: 8080, healthPath: '/health', env: {} } },
        expiresAt,
      });
      if (index % 2 === 0) await store.transition(record.id, 'failed', { reason: 'bench' });
    }
    await store.close();
    const node = timeProcess(process.execPath, ['-e', '0'], { env, runs: 5 });
    const status = timeProcess(process.execPath, [BP, 'status', '--json'], { env, runs: 5 });
    const count = JSON.parse(
      spawnSync(process.execPath, [BP, 'status', '--json'], { env, maxBuffer: 1 << 30 }).stdout,
    ).length;
    const meets = status < 500;
    console.log(
      `bp status --json with ${count} records: ${status.toFixed(1)} ms (node -e 0: ${node.toFixed(1)} ms; target < 500 ms: ${meets ? 'meets' : 'MISSES'})`,
    );
    return [
      {
        name: 'bp status --json 10k',
        bpMs: status,
        peerName: 'node -e 0',
        peerMs: node,
        ratio: status / node,
        target: 500,
        meets,
      },
    ];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
export { median };
