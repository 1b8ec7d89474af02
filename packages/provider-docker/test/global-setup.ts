// Starts (or finds) the real servers the tests use: one shared dockerd with a TLS listener, a plain and an
// authenticating registry on 127.0.0.1, and the test images. Teardown releases them: each is stopped only
// if this process started it and no other process still uses it.
import {
  ensureAuthRegistry,
  ensureDockerEngine,
  ensureRegistry,
  ensureTestImages,
  HELLO_READY_LINE,
} from '@bp/test-infra';
import type { TestProject } from 'vitest/node';
import { type DockerTestContext, TEST_OWNER } from './docker-test-context.js';
import { removeTestContainers } from './engine.js';

export default async function setup(project: TestProject) {
  const engine = await ensureDockerEngine();
  const registry = await ensureRegistry();
  const authRegistry = await ensureAuthRegistry();
  const images = await ensureTestImages({ engine, registry, authRegistry });
  const context: DockerTestContext = {
    socketPath: engine.socketPath,
    tlsHost: engine.tlsHost,
    tls: engine.tls,
    tlsTerminator: engine.tlsTerminator,
    images: { busybox: images.busybox, hello: images.hello, helloAuth: images.helloAuth! },
    readyLine: HELLO_READY_LINE,
    authRegistry: { address: authRegistry.address, credentials: authRegistry.credentials! },
  };
  // What an interrupted earlier run left behind.
  await removeTestContainers(engine.socketPath, TEST_OWNER);
  project.provide('docker', context);
  return async () => {
    await removeTestContainers(engine.socketPath, TEST_OWNER).catch(() => {});
    await authRegistry.stop();
    await registry.stop();
    await engine.stop();
  };
}
