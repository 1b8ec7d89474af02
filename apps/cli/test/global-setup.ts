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
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const engine = await ensureDockerEngine();
    stops.push(() => engine.stop());
    const registry = await ensureRegistry();
    stops.push(() => registry.stop());
    const images = await ensureTestImages({ engine, registry });
    const { stdout } = await promisify(execFile)('bash', [BUILD_IMAGE], {
      env: { ...process.env, DOCKER: '/usr/bin/docker', DOCKER_HOST: `unix://${engine.socketPath}` },
    });
    project.provide('docker', {
      socketPath: engine.socketPath,
      tlsHost: engine.tlsHost,
      tls: engine.tls,
      helloImage: stdout.trim(),
      busybox: images.busybox,
    });
    // One SSH host in its own network namespace, for `--target` an ssh host (native runtime).
    const ssh = await startSshHosts({ count: 1 });
    const { stop: stopSsh, ...sshInfo } = ssh;
    stops.push(stopSsh);
    project.provide('ssh', sshInfo);
  } catch (error) {
    // A setup that fails half way must not leave servers running.
    await stopAll();
    throw error;
  }
  return stopAll;
}

declare module 'vitest' {
  export interface ProvidedContext {
    docker: {
      socketPath: string;
      tlsHost: string;
      tls: { ca: string; cert: string; key: string; untrustedCert: string; untrustedKey: string };
      helloImage: string;
      busybox: string;
    };
    ssh: SshHostsInfo;
  }
}
