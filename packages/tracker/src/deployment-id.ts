const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
// The largest multiple of 36 below 256: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 252;

/** A new deployment id: `bp-` and 6 random characters of [0-9a-z], e.g. `bp-k3x9q2`. */
export function newDeploymentId(): string {
  let suffix = '';
  while (suffix.length < 6) {
    // Web Crypto is loaded on first use, so commands that create nothing do not pay for node:crypto.
    for (const byte of crypto.getRandomValues(new Uint8Array(8))) {
      if (byte < UNBIASED_LIMIT && suffix.length < 6) suffix += ALPHABET[byte % 36];
    }
  }
  return `bp-${suffix}`;
}
