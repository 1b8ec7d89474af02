// `bp deploy` to this machine's Docker engine vs `docker run -d` plus polling the same
// health endpoint until it answers 200. Target <= 1.10x. Starts (or reuses) the test
// engine and registry through @bp/test-infra and builds examples/hello's image offline.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDockerEngine, ensureRegistry, ensureTestImages } from '../packages/test-infra/dist/index.js';
import { BP, HELLO, healthStatus, median, ROOT, report } from './lib.mjs';

const DOCKER = '/usr/bin/docker';

async function waitHealthy(url) {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if ((await healthStatus(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url} never answered 200`);
}

export async function run({ runs = 5 } = {}) {
  const engine = await ensureDockerEngine();
  const registry = await ensureRegistry();
  const images = await ensureTestImages({ engine, registry });
  const dockerEnv = { ...process.env, DOCKER_HOST: `unix://${engine.socketPath}` };
  const image = execFileSync('bash', [`${ROOT}examples/hello/build-image.sh`], {
    env: { ...dockerEnv, DOCKER },
    encoding: 'utf8',
  }).trim();
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  writeFileSync(
    join(home, 'cloud.toml'),
    `[targets.docker]\ntype = "docker"\nsocket = "${engine.socketPath}"\nttl_image = "${images.busybox}"\n`,
  );
  const env = { ...process.env, BP_HOME: home };
  const docker = (...args) => execFileSync(DOCKER, args, { env: dockerEnv, encoding: 'utf8' }).trim();

  const byHand = async () => {
    const started = performance.now();
    const id = docker('run', '-d', '-p', '127.0.0.1::8080', '-e', 'PORT=8080', image);
    const port = docker('port', id, '8080/tcp').split('\n')[0].split(':').pop();
    await waitHealthy(`http://127.0.0.1:${port}/health`);
    const elapsed = performance.now() - started;
    docker('rm', '-f', id);
    return elapsed;
  };
  const withBp = () => {
    const started = performance.now();
    const result = spawnSync(
      process.execPath,
      [BP, 'deploy', HELLO, '--provider', 'docker', '--ttl', '5m', '--json'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const elapsed = performance.now() - started;
    if (result.status !== 0) throw new Error(`bp deploy failed: ${result.stderr}`);
    spawnSync(process.execPath, [BP, 'terminate', JSON.parse(result.stdout).id], { env, stdio: 'ignore' });
    return elapsed;
  };
  try {
    await byHand();
    withBp();
    const hand = [];
    const bp = [];
    for (let index = 0; index < runs; index++) {
      hand.push(await byHand());
      bp.push(withBp());
    }
    return [report('bp deploy (docker)', median(bp), 'docker run -d + health polling', median(hand), 1.1)];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
    await registry.stop();
    await engine.stop();
  }
}
