import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@bp/provider';
import { afterEach, expect } from 'vitest';

/** Where a refusal must point and why. */
export interface ExpectedRefusal {
  file?: string;
  path?: string;
  reason: string | RegExp;
}

/** Asserts a ValidationError whose fields and one-line message name the file, the key path and the reason. */
export function expectValidationError(error: unknown, expected: ExpectedRefusal): ValidationError {
  expect(ValidationError.isInstance(error), `expected a ValidationError, got ${String(error)}`).toBe(true);
  const validation = error as ValidationError;
  expect(validation.file).toBe(expected.file);
  expect(validation.path).toBe(expected.path);
  if (typeof expected.reason === 'string') expect(validation.reason).toBe(expected.reason);
  else expect(validation.reason).toMatch(expected.reason);
  for (const part of [expected.file, expected.path, validation.reason]) {
    if (part) expect(validation.message).toContain(part);
  }
  expect(validation.message).not.toContain('\n');
  return validation;
}

/** Runs `action` and returns what it threw; fails when it does not throw. */
export function caught(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal, but nothing was thrown');
}

/** Awaits `promise` and returns why it rejected; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a refusal, but the promise resolved');
    },
    (error: unknown) => error,
  );
}

const temporaryDirectories: string[] = [];
afterEach(async () => {
  await Promise.all(temporaryDirectories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temporary directory, removed after the test. */
export async function temporaryDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bp-resources-'));
  temporaryDirectories.push(dir);
  return dir;
}
