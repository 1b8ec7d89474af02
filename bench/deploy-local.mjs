// `bp deploy` to this machine vs starting the same command by hand and polling
// its health endpoint until it answers 200. Target <= 1.2x. Both are timed as whole processes:
// bp's, and the peer's (bench/peers/start-and-poll.mjs, a Node script that starts `node server.js`
// and polls /health every 10 ms), so each pays one Node start of its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alternate, BP, HELLO, ROOT, report, timeBpDeploy } from './lib.mjs';

const PEER = `${ROOT}bench/peers/start-and-poll.mjs`;

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
  const result = spawnSync(process.execPath, [PEER, String(port)], { encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`the peer failed: ${result.stderr}`);
  process.kill(Number(result.stdout), 'SIGTERM');
  return elapsed;
}

export async function run({ runs = 15 } = {}) {
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
