// yargs imports node:assert for two checks; loading that module costs ~4 ms on every start.
// These two functions are all it uses, with the same meaning.

export function strictEqual(actual: unknown, expected: unknown, message?: string): void {
  if (!Object.is(actual, expected))
    throw new Error(message ?? `expected ${String(expected)}, got ${String(actual)}`);
}

export function notStrictEqual(actual: unknown, expected: unknown, message?: string): void {
  if (Object.is(actual, expected)) throw new Error(message ?? `expected anything but ${String(expected)}`);
}
