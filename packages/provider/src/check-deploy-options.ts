import { ValidationError } from './errors.js';
import type { DeployOptionsV1 } from './provider-v1.js';

/**
 * The checks every provider makes before creating anything: a port of 1..65535, a
 * health path starting with `/`, and an expiry in the future. Throws ValidationError
 * with the option's path; provider-specific checks come on top.
 */
export function checkCommonDeployOptionsV1(options: Pick<DeployOptionsV1, 'workload' | 'expiresAt'>): void {
  const { workload } = options;
  if (!Number.isInteger(workload.port) || workload.port < 1 || workload.port > 65535) {
    throw new ValidationError({ path: 'workload.port', reason: 'must be a whole number from 1 to 65535' });
  }
  if (typeof workload.healthPath !== 'string' || !workload.healthPath.startsWith('/')) {
    throw new ValidationError({ path: 'workload.healthPath', reason: 'must start with /' });
  }
  if (!(options.expiresAt instanceof Date) || !(options.expiresAt.getTime() > Date.now())) {
    throw new ValidationError({ path: 'expiresAt', reason: 'must be a time in the future' });
  }
}
