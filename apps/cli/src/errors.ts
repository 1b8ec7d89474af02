import { BpError, HealthTimeoutError } from '@bp/provider';

/** Exit codes of PRODUCT.md. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, refused: 4, interrupted: 130 } as const;

/** A usage mistake found by the CLI itself (unknown flag, missing argument). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The exit code for an error. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (!BpError.isInstance(error)) return EXIT.failed;
  switch (error.code) {
    case 'validation':
      return EXIT.usage;
    case 'not-found':
      return EXIT.notFound;
    case 'budget':
      return EXIT.refused;
    case 'aborted':
      return EXIT.interrupted;
    default:
      return EXIT.failed;
  }
}

/** One line for stderr; the stack only with `--debug`. */
export function describeError(error: unknown, debug: boolean): string {
  if (debug && error instanceof Error && error.stack) return `bp: ${error.stack}`;
  if (HealthTimeoutError.isInstance(error) && error.lastLogLines.length > 0) {
    // A deploy that failed is diagnosed from its output: show the service's last words under the reason.
    return [
      `bp: ${error.message}`,
      '  last log lines:',
      ...error.lastLogLines.map((line) => `    ${line}`),
    ].join('\n');
  }
  if (error instanceof UsageError || BpError.isInstance(error)) return `bp: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `bp: unexpected error: ${message.split('\n')[0]} (run again with --debug for details)`;
}

/** The JSON document printed on stdout for a failed command under `--json`. */
export function errorToJson(error: unknown) {
  if (BpError.isInstance(error)) return { error: error.toJSON() };
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return {
    error: {
      name: error instanceof UsageError ? 'UsageError' : 'Error',
      code: error instanceof UsageError ? 'usage' : 'unexpected',
      message,
    },
  };
}
