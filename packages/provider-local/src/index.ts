import packageJson from '../package.json' with { type: 'json' };

export { createLocalProvider, type LocalProviderSettings } from './local-provider.js';

/** The version of this package. */
export const VERSION: string = packageJson.version;
