// `bp deploy` to this machine vs starting the same command by hand and polling
// its health endpoint until it answers 200. Target <= 1.2x.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BP, HELLO, healthStatus, median, report } from './lib.mjs';

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function byHand() {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('node', ['server.js'], {
    cwd: HELLO,
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  for (let attempt = 0; attempt < 400; attempt++) {
    if ((await healthStatus(`http://127.0.0.1:${port}/health`)) === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const elapsed = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return elapsed;
}

function withBp(env) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BP, 'deploy', HELLO, '--ttl', '5m', '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`bp deploy failed: ${result.stderr}`);
  const { id } = JSON.parse(result.stdout);
  spawnSync(process.execPath, [BP, 'terminate', id], { env, stdio: 'ignore' });
  return elapsed;
}

export async function run({ runs = 7 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  const env = { ...process.env, BP_HOME: home };
  try {
    await byHand();
    withBp(env);
    const hand = [];
    const bp = [];
    for (let index = 0; index < runs; index++) {
      hand.push(await byHand());
      bp.push(withBp(env));
    }
    return [report('bp deploy (local)', median(bp), 'by hand + health polling', median(hand), 1.2)];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  }
}
