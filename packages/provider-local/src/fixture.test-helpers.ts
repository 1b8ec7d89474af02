import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeployOptionsV1, RemoteProviderV1, WorkloadV1 } from '@bp/provider';
import { processesMatching } from './ground-truth.test-helpers.js';
import { createLocalProvider } from './index.js';

export const HELLO_SERVER = fileURLToPath(new URL('../../../examples/hello/server.js', import.meta.url));

export interface Fixture {
  provider: RemoteProviderV1;
  stateDir: string;
  /** Deploy options for examples/hello (or `workload`), expiring in `ttlMs`. */
  options(
    deploymentId: string,
    changes?: { workload?: Partial<WorkloadV1>; ttlMs?: number },
  ): DeployOptionsV1;
  /** Terminates whatever the test left and deletes the state directory. */
  cleanUp(): Promise<void>;
}

export function createFixture(stopGraceMs = 1000): Fixture {
  const stateDir = mkdtempSync(join(tmpdir(), 'bp-local-'));
  const provider = createLocalProvider({ stateDir, stopGraceMs });
  return {
    provider,
    stateDir,
    options: (deploymentId, changes = {}) => ({
      deploymentId,
      name: 'hello',
      workload: {
        command: [process.execPath, HELLO_SERVER],
        port: 8080,
        healthPath: '/health',
        env: {},
        ...changes.workload,
      },
      resources: { cpu: 1, memoryGb: 0.5, storageGb: 1, gpuCount: 0, spot: false },
      expiresAt: new Date(Date.now() + (changes.ttlMs ?? 60_000)),
      tags: { 'bp:deployment': deploymentId, 'bp:managed-by': 'bp', 'bp:owner': 'test-owner' },
    }),
    async cleanUp() {
      for (const resource of await provider.listManagedResources()) {
        await provider.terminateInstance({ deploymentId: resource.deploymentId });
      }
      // Ground truth: supervisors name their instance directory in their arguments.
      const left = processesMatching(stateDir);
      rmSync(stateDir, { recursive: true, force: true });
      if (left.length)
        throw new Error(
          `still running after terminate: ${JSON.stringify(left.map((info) => info.commandLine))}`,
        );
    },
  };
}
