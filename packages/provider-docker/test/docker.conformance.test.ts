// The shared conformance kit against the real engine over TLS (client certificates), with ground truth
// asked of the engine through the tests' own client on its socket.
import { describeProviderConformance } from '@bp/conformance';
import type { WorkloadV1 } from '@bp/provider';
import { inject } from 'vitest';
import { createDockerProvider } from '../src/index.js';
import { TEST_OWNER } from './docker-test-context.js';
import { containersOf, engineClient, isLive } from './engine.js';

const context = inject('docker');
const engine = engineClient(context.socketPath);
const hello = (env: Record<string, string> = {}): WorkloadV1 => ({
  image: context.images.hello,
  port: 8080,
  healthPath: '/health',
  env,
});

describeProviderConformance({
  name: 'docker',
  owner: TEST_OWNER,
  createProvider: () =>
    createDockerProvider({
      host: context.tlsHost,
      tls: { ca: context.tls.ca, cert: context.tls.cert, key: context.tls.key },
      ttlSidecarImage: context.images.busybox,
    }),
  workloads: {
    healthy: hello(),
    readyLine: context.readyLine,
    neverHealthy: hello({ HELLO_FAIL_HEALTH: '1' }),
    exitsAtOnce: hello({ HELLO_EXIT_AT_ONCE: '1' }),
  },
  probes: {
    // Every container carrying the deployment's label: a deployment is one container.
    isRunning: async (id) => (await containersOf(engine, id)).some(isLive),
    countInstances: async (id) => (await containersOf(engine, id)).length,
  },
});
