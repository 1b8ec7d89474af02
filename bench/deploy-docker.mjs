// `bp deploy` to this machine's Docker engine vs `docker run -d` plus polling the same
// health endpoint until it answers 200. Target <= 1.10x. Starts (or reuses) the test
// engine and registry through @bp/test-infra and builds examples/hello's image offline.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDockerEngine, ensureRegistry, ensureTestImages } from '../packages/test-infra/dist/index.js';
import { alternate, BP, HELLO, ROOT, report, timeBpDeploy, waitHealthy } from './lib.mjs';

const DOCKER = '/usr/bin/docker';

export async function run({ runs = 15 } = {}) {
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
  const withBp = () => timeBpDeploy([HELLO, '--provider', 'docker', '--ttl', '5m'], env);
  try {
    const { peerMs, bpMs } = await alternate(byHand, withBp, runs);
    return [report('bp deploy (docker)', bpMs, 'docker run -d + health polling', peerMs, 1.1)];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
    await registry.stop();
    await engine.stop();
  }
}
