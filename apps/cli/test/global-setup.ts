// The CLI's docker tests need a real engine and registry, and examples/hello's image in it;
// its ssh tests a real sshd on a host of its own (a network namespace).
// Shared with the provider packages' setups through @bp/test-infra; each server is stopped
// only by the process that started it, once nobody uses it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ensureDockerEngine,
  ensureRegistry,
  ensureTestImages,
  type SshHostsInfo,
  startSshHosts,
} from '@bp/test-infra';
import type { TestProject } from 'vitest/node';

const BUILD_IMAGE = fileURLToPath(new URL('../../../examples/hello/build-image.sh', import.meta.url));

export default async function setup(project: TestProject) {
  const engine = await ensureDockerEngine();
  const registry = await ensureRegistry();
  const images = await ensureTestImages({ engine, registry });
  const { stdout } = await promisify(execFile)('bash', [BUILD_IMAGE], {
    env: { ...process.env, DOCKER: '/usr/bin/docker', DOCKER_HOST: `unix://${engine.socketPath}` },
  });
  project.provide('docker', {
    socketPath: engine.socketPath,
    helloImage: stdout.trim(),
    busybox: images.busybox,
  });
  // One SSH host in its own network namespace, for `--target` an ssh host (native runtime).
  const ssh = await startSshHosts({ count: 1 });
  const { stop: stopSsh, ...sshInfo } = ssh;
  project.provide('ssh', sshInfo);
  return async () => {
    await stopSsh();
    await registry.stop();
    await engine.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    docker: { socketPath: string; helloImage: string; busybox: string };
    ssh: SshHostsInfo;
  }
}
