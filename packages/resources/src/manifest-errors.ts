import { ValidationError } from '@bp/provider';
import type { z } from 'zod';

/** How the manifest file spells a table, so the reason reads in the file's own words. */
export type ManifestSyntax = 'toml' | 'json';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  array: 'an array',
  object: 'a table',
  record: 'a table',
};

function describeValue(value: unknown, syntax: ManifestSyntax): string {
  // Numbers and booleans help the reader find the line; strings are never echoed
  // because a user may have pasted a secret where a reference belongs.
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value === null) return 'null';
  if (typeof value === 'object') return syntax === 'toml' ? 'a table' : 'an object';
  return typeof value;
}

/**
 * A zod error map for manifests: wrong types read as "expected an integer, got 1.5",
 * absent keys as "required". Schema-level messages take precedence over it.
 */
export function manifestErrorMap(syntax: ManifestSyntax): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code !== 'invalid_type') return undefined;
    // Non-finite numbers reach the map with no input, only a `received` label.
    const received = (issue as { received?: string }).received;
    if (issue.input === undefined && received === undefined) return 'required';
    // z.int() reports a non-number as expecting a `number`; its format says it wants an integer.
    const isInteger = (issue.inst as { format?: string } | undefined)?.format?.includes('int');
    let expected = EXPECTED[isInteger ? 'int' : issue.expected] ?? issue.expected;
    if (syntax === 'json') expected = expected.replace('a table', 'an object');
    return `expected ${expected}, got ${received ?? describeValue(issue.input, syntax)}`;
  };
}

/** Writes a key path as it appears in the file: `blueprint.env."my.key"`, `blueprint.command[0]`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else {
      const key = String(segment);
      text += (text ? '.' : '') + (/^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key));
    }
  }
  return text;
}

/**
 * Turns the first zod issue into a ValidationError. Unknown keys come first because
 * a misspelt key usually also causes a "required" issue, and the typo is the cause.
 * `mapPath` lets package.json point at the key inside its `"blueprint"` field.
 */
export function manifestError(
  issues: readonly z.core.$ZodIssue[],
  file: string,
  mapPath: (path: PropertyKey[]) => PropertyKey[] = (path) => path,
): ValidationError {
  const issue = issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? issues[0];
  if (!issue) return new ValidationError({ reason: 'invalid manifest', file });
  let path: PropertyKey[] = [...issue.path];
  let reason = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    reason = 'unknown key';
  } else if (issue.code === 'invalid_key') {
    reason = issue.issues[0]?.message ?? reason;
  }
  const keyPath = formatKeyPath(mapPath(path));
  return new ValidationError({ reason, path: keyPath || undefined, file });
}
