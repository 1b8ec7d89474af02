// Small helpers for bp's benchmarks: whole-process timings, medians, ratios.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BP = `${ROOT}apps/cli/bin/bp.js`;
export const HELLO = `${ROOT}examples/hello`;

/**
 * Median wall times in ms of several commands (`[command, args]` each), their runs interleaved
 * (after one warm-up each) so that a slower or faster stretch of the machine affects all alike.
 */
export function timeProcesses(commands, { runs = 21, env = process.env, cwd = ROOT } = {}) {
  const times = commands.map(() => []);
  for (let run = -1; run < runs; run++) {
    commands.forEach(([command, args], index) => {
      const started = performance.now();
      const result = spawnSync(command, args, {
        env,
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 30,
      });
      const elapsed = performance.now() - started;
      if (result.status !== 0)
        throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
      if (run >= 0) times[index].push(elapsed);
    });
  }
  return times.map(median);
}

/** Median wall time in ms of `command args` over `runs` runs (after one warm-up). */
export function timeProcess(command, args, options = {}) {
  return timeProcesses([[command, args]], { runs: 15, ...options })[0];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function healthStatus(url) {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Prints one benchmark line: name, both times, the ratio and the target. */
export function report(name, bpMs, peerName, peerMs, target) {
  const ratio = bpMs / peerMs;
  const verdict = ratio <= target ? 'meets' : 'MISSES';
  console.log(
    `${name}: bp ${bpMs.toFixed(1)} ms vs ${peerName} ${peerMs.toFixed(1)} ms = ${ratio.toFixed(2)}x (target <= ${target}x: ${verdict})`,
  );
  return { name, bpMs, peerName, peerMs, ratio, target, meets: ratio <= target };
}

/** Polls `url` every 10 ms (at most 1,000 times) until it answers 200. */
export async function waitHealthy(url) {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if ((await healthStatus(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url} never answered 200`);
}

/** Times `bp deploy ARGS` as a whole process (the deployment is terminated afterwards, untimed). */
export function timeBpDeploy(args, env) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BP, 'deploy', ...args, '--json'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`bp deploy failed: ${result.stderr}`);
  spawnSync(process.execPath, [BP, 'terminate', JSON.parse(result.stdout).id], { env, stdio: 'ignore' });
  return elapsed;
}

/** One warm-up each, then `runs` alternating runs of both; the medians. */
export async function alternate(peer, bp, runs) {
  await peer();
  await bp();
  const peerTimes = [];
  const bpTimes = [];
  for (let index = 0; index < runs; index++) {
    peerTimes.push(await peer());
    bpTimes.push(await bp());
  }
  return { peerMs: median(peerTimes), bpMs: median(bpTimes) };
}
