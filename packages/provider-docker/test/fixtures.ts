import { randomBytes } from 'node:crypto';
import { type DeployOptionsV1, deploymentTags, type WorkloadV1 } from '@bp/provider';
import { inject } from 'vitest';
import { createDockerProvider, type DockerProviderSettings } from '../src/index.js';
import { TEST_OWNER } from './docker-test-context.js';
import { containersOf, engineClient } from './engine.js';

export const context = inject('docker');
/** The tests' own client on the engine's socket: ground truth. */
export const engine = engineClient(context.socketPath);

/** The provider under test, over the engine's TLS listener with the test client certificate. */
export function tlsProvider(settings: DockerProviderSettings = {}) {
  return createDockerProvider({
    host: context.tlsHost,
    tls: { ca: context.tls.ca, cert: context.tls.cert, key: context.tls.key },
    ttlSidecarImage: context.images.busybox,
    ...settings,
  });
}

export function hello(env: Record<string, string> = {}): WorkloadV1 {
  return { image: context.images.hello, port: 8080, healthPath: '/health', env };
}

export function newId(): string {
  return `dt-${randomBytes(5).toString('hex')}`;
}

export function deployOptions(
  workload: WorkloadV1,
  overrides: Partial<DeployOptionsV1> & { expiresInMs?: number } = {},
): DeployOptionsV1 {
  const { expiresInMs = 30 * 60_000, ...rest } = overrides;
  const deploymentId = rest.deploymentId ?? newId();
  const expiresAt = rest.expiresAt ?? new Date(Date.now() + expiresInMs);
  return {
    deploymentId,
    name: 'provider-docker-test',
    workload,
    resources: { cpu: 0.5, memoryGb: 0.25, storageGb: 1, gpuCount: 0, spot: false },
    expiresAt,
    tags: deploymentTags({ deploymentId, expiresAt, owner: TEST_OWNER }),
    ...rest,
  };
}

/** Nothing of the deployment is left on the engine: no container carries its label. */
export async function expectNothingLeft(deploymentId: string): Promise<void> {
  const left = await containersOf(engine, deploymentId);
  if (left.length) {
    throw new Error(`left on the engine: ${left.map((c) => `${c.Names.join(',')} (${c.State})`).join('; ')}`);
  }
}
