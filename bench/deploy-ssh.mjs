// `bp deploy` over SSH (docker runtime) vs `ssh host docker run ...` plus polling the same
// health endpoint. Target <= 1.10x. The host is a network namespace with its own sshd and
// dockerd, started through @bp/test-infra (needs root); traffic stays on that namespace.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshHosts } from '../packages/test-infra/dist/index.js';
import { alternate, BP, HELLO, ROOT, report, timeBpDeploy, waitHealthy } from './lib.mjs';

const IMAGE = '127.0.0.1:5000/bp-examples/hello:1';

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
  const withBp = () => timeBpDeploy([HELLO, '--target', 'box', '--ttl', '5m'], env);
  try {
    const { peerMs, bpMs } = await alternate(byHand, withBp, runs);
    return [
      report('bp deploy (ssh, docker runtime)', bpMs, 'ssh host docker run -d + health polling', peerMs, 1.1),
    ];
  } finally {
    spawnSync(process.execPath, [BP, 'terminate', '--all'], { env, stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
    await hosts.stop();
  }
}
