// `bp deploy` over SSH (docker runtime) vs `ssh host docker run ...` plus polling the same
// health endpoint. Target <= 1.10x. The host is a network namespace with its own sshd and
// dockerd, started through @bp/test-infra (needs root); traffic stays on that namespace.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshHosts } from '../packages/test-infra/dist/index.js';
import { BP, HELLO, healthStatus, median, ROOT, report } from './lib.mjs';

const IMAGE = '127.0.0.1:5000/bp-examples/hello:1';

async function waitHealthy(url) {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if ((await healthStatus(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url} never answered 200`);
}

export async function run({ runs = 5 } = {}) {
  const hello = readFileSync(`${ROOT}examples/hello/image/hello.sh`, 'utf8');
  const hosts = await startSshHosts({
    count: 1,
    docker: true,
    images: [
      { tag: 'local/busybox' },
      { tag: IMAGE, files: { '/bin/hello': { content: hello, mode: 0o755 } }, cmd: ['/bin/hello'] },
    ],
  });
  const host = hosts.hosts[0];
  const home = mkdtempSync(join(tmpdir(), 'bp-bench-'));
  writeFileSync(
    join(home, 'cloud.toml'),
    [
      '[targets.box]',
      'type = "ssh"',
      `hosts = ["${host.address}"]`,
      `port = ${host.port}`,
      `user = "${hosts.user}"`,
      `key = "${hosts.privateKeyPath}"`,
      `known_hosts = "${hosts.knownHostsPath}"`,
      'runtime = "docker"',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, BP_HOME: home };
  const ssh = (...command) =>
    execFileSync(
      'ssh',
      [
        '-i',
        hosts.privateKeyPath,
        '-o',
        `UserKnownHostsFile=${hosts.knownHostsPath}`,
        '-o',
        'BatchMode=yes',
        '-p',
        String(host.port),
        `${hosts.user}@${host.address}`,
        ...command,
      ],
      { encoding: 'utf8' },
    ).trim();

  let port = 18080;
  const byHand = async () => {
    port++;
    const started = performance.now();
    const id = ssh('docker', 'run', '-d', '-p', `${host.address}:${port}:8080`, '-e', 'PORT=8080', IMAGE);
    await waitHealthy(`http://${host.address}:${port}/health`);
    const elapsed = performance.now() - started;
    ssh('docker', 'rm', '-f', id);
    return elapsed;
  };
  const withBp = () => {
    const started = performance.now();
    const result = spawnSync(
      process.execPath,
      [BP, 'deploy', HELLO, '--target', 'box', '--ttl', '5m', '--json'],
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
    return [
      report(
        'bp deploy (ssh, docker runtime)',
        median(bp),
        'ssh host docker run -d + health polling',
        median(hand),
        1.1,
      ),
    ];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
    await hosts.stop();
  }
}
