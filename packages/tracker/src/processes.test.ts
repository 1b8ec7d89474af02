// Several operating-system processes on one database file: what transactions and WAL are for.
// The child processes run the built package (dist), which is rebuilt first when older than src.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTracker } from './index.js';

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => join(packageDirectory, 'test', 'fixtures', name);

let directory: string;
let path: string;

beforeAll(() => {
  const built = join(packageDirectory, 'dist', 'index.js');
  const sourceDirectory = join(packageDirectory, 'src');
  const newestSource = Math.max(
    ...readdirSync(sourceDirectory).map((name) => statSync(join(sourceDirectory, name)).mtimeMs),
  );
  let builtAt = 0;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    // Not built yet.
  }
  if (builtAt < newestSource) {
    const build = spawnSync('pnpm', ['build'], { cwd: packageDirectory, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`pnpm build failed:\n${build.stdout}${build.stderr}`);
  }
});

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'bp-tracker-processes-'));
  path = join(directory, 'tracker.db');
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

/** Runs a fixture to completion; resolves with its stdout, rejects on a non-zero exit. */
async function run(script: string, ...parameters: string[]): Promise<string> {
  const child = spawn(process.execPath, [fixture(script), ...parameters], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (errors += chunk));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${errors}`);
  return output;
}

describe('across processes', () => {
  it('8 processes creating and moving records at once: exact counts, one compare-and-set winner, no lost update', async () => {
    const workers = 8;
    // Far enough ahead that every process has started; they then open a fresh database together.
    const startAt = String(Date.now() + 1500);
    const outputs = await Promise.all(
      Array.from({ length: workers }, (_, worker) =>
        run('concurrent-writer.mjs', path, startAt, String(worker)),
      ),
    );
    const results = outputs.map(
      (output) => JSON.parse(output) as { worker: string; won: boolean; created: string[] },
    );

    const winners = results.filter((result) => result.won);
    expect(winners).toHaveLength(1);
    const created = results.flatMap((result) => result.created);
    expect(new Set(created).size).toBe(workers * 25);

    const store = openTracker({ path });
    try {
      expect(await store.list()).toHaveLength(workers * 25 + 1);
      for (let worker = 0; worker < workers; worker++) {
        const records = await store.list({ name: `worker-${worker}` });
        expect(records).toHaveLength(25);
        expect(records.every((record) => record.status === 'provisioning' && record.version === 2)).toBe(
          true,
        );
      }
      const shared = await store.resolve('bp-shared');
      // Created (1), claimed once (1), then 10 updates from each worker: none lost.
      expect(shared).toMatchObject({ status: 'provisioning', version: 2 + workers * 10 });
      const audit = await store.audit('bp-shared');
      expect(audit.map((entry) => entry.to)).toEqual(['pending', 'provisioning']);
      expect(audit[1]?.actor).toBe(`worker ${winners[0]?.worker}`);
    } finally {
      await store.close();
    }
    const database = new DatabaseSync(path, { readOnly: true });
    // One creation row per record, one claim and one move per worker record.
    expect(database.prepare('SELECT count(*) AS n FROM audit').get()).toEqual({ n: workers * 25 * 2 + 2 });
    database.close();
  });

  it('a writer killed with SIGKILL mid-write leaves a consistent database, three times over', async () => {
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, [fixture('crash-writer.mjs'), path], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          output += chunk;
          if (output.includes('ready')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`crash-writer exited early with ${code}`)));
      });
      await sleep(50 + Math.random() * 200);
      child.kill('SIGKILL');
      await once(child, 'exit');
    }

    const database = new DatabaseSync(path);
    expect(database.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    expect(database.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    const records = (database.prepare('SELECT count(*) AS n FROM deployments').get() as { n: number }).n;
    expect(records).toBeGreaterThan(60);
    const mismatched = database
      .prepare(
        `SELECT id, status FROM deployments d
         WHERE status IS NOT (SELECT to_status FROM audit WHERE deployment_id = d.id ORDER BY seq DESC LIMIT 1)`,
      )
      .all();
    expect(mismatched).toEqual([]);
    // Each audit row starts where the previous one ended: no move was half written.
    const broken = database
      .prepare(
        `SELECT seq FROM audit a
         WHERE from_status IS NOT (SELECT to_status FROM audit WHERE deployment_id = a.deployment_id AND seq < a.seq ORDER BY seq DESC LIMIT 1)`,
      )
      .all();
    expect(broken).toEqual([]);
    database.close();

    const store = openTracker({ path });
    const record = await store.create({
      name: 'after',
      target: 'local',
      provider: 'local',
      spec: {},
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect((await store.transition(record.id, 'failed')).status).toBe('failed');
    console.log(`${records} records written before the kills; all consistent`);
    await store.close();
  });
});
