// The shared conformance kit against runtime native on two real SSH hosts (examples/hello run by this
// machine's node, which the hosts share); ground truth from the process table.
import { describeProviderConformance } from '@bp/conformance';
import type { WorkloadV1 } from '@bp/provider';
import { afterAll } from 'vitest';
import type { SshProvider } from './index.js';
import { HELLO_SERVER, processesOf, providerFor } from './ssh-hosts.test-helpers.js';

const hello = (env: Record<string, string> = {}): WorkloadV1 => ({
  command: [process.execPath, HELLO_SERVER],
  port: 8080,
  healthPath: '/health',
  env,
});
let provider: SshProvider | undefined;
afterAll(() => provider?.close());

describeProviderConformance({
  name: 'ssh-native',
  createProvider: () => {
    provider = providerFor('native');
    return provider;
  },
  workloads: {
    healthy: hello(),
    readyLine: 'hello listening',
    neverHealthy: hello({ HELLO_FAIL_HEALTH: '1' }),
    exitsAtOnce: hello({ HELLO_EXIT_AT_ONCE: '1' }),
  },
  probes: {
    isRunning: async (deploymentId) => (await processesOf(deploymentId)).length > 0,
    countInstances: async (deploymentId) =>
      (await processesOf(deploymentId)).filter((process) => process.argv[1] === HELLO_SERVER).length,
  },
});
