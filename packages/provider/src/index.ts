export { checkCommonDeployOptionsV1 } from './check-deploy-options.js';
export * from './errors.js';
export { checkHttpHealth } from './http-health.js';
export * from './provider-v1.js';

/** The version of the provider specification this package describes. */
export const SPECIFICATION_VERSION = 'v1' as const;
