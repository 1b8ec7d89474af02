// The shared conformance kit against runtime docker on two real SSH hosts; ground truth from each host's engine.
import { describeProviderConformance } from '@bp/conformance';
import type { WorkloadV1 } from '@bp/provider';
import { afterAll } from 'vitest';
import type { SshProvider } from './index.js';
import { HELLO_IMAGE, HELLO_READY_LINE } from './ssh-hosts.global-setup.js';
import { containersOf, providerFor } from './ssh-hosts.test-helpers.js';

const hello = (env: Record<string, string> = {}): WorkloadV1 => ({
  image: HELLO_IMAGE,
  port: 8080,
  healthPath: '/health',
  env,
});
let provider: SshProvider | undefined;
afterAll(() => provider?.close());

describeProviderConformance({
  name: 'ssh-docker',
  createProvider: () => {
    provider = providerFor('docker');
    return provider;
  },
  workloads: {
    healthy: hello(),
    readyLine: HELLO_READY_LINE,
    neverHealthy: hello({ HELLO_FAIL_HEALTH: '1' }),
    exitsAtOnce: hello({ HELLO_EXIT_AT_ONCE: '1' }),
  },
  probes: {
    isRunning: async (deploymentId) => (await containersOf(deploymentId, { running: true })) > 0,
    countInstances: (deploymentId) => containersOf(deploymentId),
  },
});
