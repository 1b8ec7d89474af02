import packageJson from '../package.json' with { type: 'json' };

export type { DockerTlsSettings } from './docker-connection.js';
export { createDockerProvider, type DockerProvider, type DockerProviderSettings } from './docker-provider.js';
export type { RegistryCredentials } from './registry-auth.js';
export type { DockerInstanceStats } from './workload-container.js';

/** The version of this package. */
export const VERSION: string = packageJson.version;
