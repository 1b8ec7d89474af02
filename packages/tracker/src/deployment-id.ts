const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A new deployment id: `bp-` and 6 random characters of [0-9a-z], e.g. `bp-k3x9q2`. Ids need to be
 * unique, not unguessable (the tracker draws again on a clash), so V8's per-process seeded generator
 * serves: loading Web Crypto would cost every deploy about 3 ms.
 */
export function newDeploymentId(): string {
  let suffix = '';
  for (let index = 0; index < 6; index++) suffix += ALPHABET[Math.floor(Math.random() * 36)];
  return `bp-${suffix}`;
}
