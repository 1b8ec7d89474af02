// Ground truth: a Docker client of the tests' own, on the engine's socket, never the provider under test.
import Docker from 'dockerode';

export function engineClient(socketPath: string): Docker {
  return new Docker({ socketPath, host: undefined, port: undefined, protocol: undefined });
}

/** Containers of a deployment by its label; `role` narrows to one role (bp-role). */
export async function containersOf(
  docker: Docker,
  deploymentId: string,
  role?: 'workload',
): Promise<Docker.ContainerInfo[]> {
  const label = [`bp-deployment=${deploymentId}`, ...(role ? [`bp-role=${role}`] : [])];
  return docker.listContainers({ all: true, filters: { label } });
}

export const isLive = (container: Docker.ContainerInfo) =>
  ['running', 'restarting', 'paused'].includes(container.State);

export async function removeTestContainers(socketPath: string, owner: string): Promise<void> {
  const docker = engineClient(socketPath);
  const found = await docker.listContainers({ all: true, filters: { label: [`bp-owner=${owner}`] } });
  await Promise.allSettled(
    found.map((container) => docker.getContainer(container.Id).remove({ force: true })),
  );
}
