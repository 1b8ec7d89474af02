import packageJson from '../package.json' with { type: 'json' };

export { createSshProvider, type SshProvider, type SshProviderSettings } from './ssh-provider.js';

/** The version of this package. */
export const VERSION: string = packageJson.version;
