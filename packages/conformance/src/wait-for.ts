import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls until a predicate holds or the time runs out (bounded); exported for provider tests.
 * Resolves with the first value that is neither `undefined` nor `false`; an error thrown by
 * the probe ends the wait at once. A probe that hangs cannot outlive the deadline either.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + options.timeoutMs;
  const timedOut = () => new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
  for (;;) {
    // The last poll still gets a fair chance to answer, so a probe is never cut off at 0 ms.
    const value = await settlesWithin(
      probe(),
      Math.max(deadline - Date.now(), intervalMs),
      options.what,
    ).catch((error: unknown) => {
      throw error instanceof ProbeTimeout ? timedOut() : error;
    });
    if (value !== undefined && value !== false) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw timedOut();
    await delay(Math.min(intervalMs, left));
  }
}

class ProbeTimeout extends Error {}

/** Resolves or rejects like `promise`, or rejects when it has not settled within `ms`. */
export function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
