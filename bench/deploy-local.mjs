// `bp deploy` to this machine vs starting the same command by hand and polling
// its health endpoint until it answers 200. Target <= 1.2x.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alternate, BP, HELLO, report, timeBpDeploy, waitHealthy } from './lib.mjs';

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
  await waitHealthy(`http://127.0.0.1:${port}/health`);
  const elapsed = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return elapsed;
}

export async function run({ runs = 7 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  const env = { ...process.env, BP_HOME: home };
  try {
    const { peerMs, bpMs } = await alternate(byHand, () => timeBpDeploy([HELLO, '--ttl', '5m'], env), runs);
    return [report('bp deploy (local)', bpMs, 'by hand + health polling', peerMs, 1.2)];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  }
}
