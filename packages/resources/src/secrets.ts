import { readFile as readFileFromDisk } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { ValidationError } from '@bp/provider';
import type { Blueprint } from './blueprint.js';

/** Reads a secret file as UTF-8 text; injectable for tests. */
export type ReadSecretFile = (path: string) => Promise<string>;

/**
 * Reads every secret of `[blueprint.secrets]` from where it is named: an
 * environment variable of `environment`, or a file (`~` is the home directory;
 * relative paths are relative to the blueprint's directory; one trailing newline
 * is dropped, as `echo value > file` writes one). An unset or empty variable and
 * an unreadable or empty file are refused with a ValidationError naming the
 * secret and its source, never a value.
 */
export async function resolveSecrets(
  blueprint: Blueprint,
  environment: Record<string, string | undefined> = process.env,
  readFile: ReadSecretFile = (path) => readFileFromDisk(path, 'utf8'),
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const [name, ref] of Object.entries(blueprint.secrets)) {
    const refuse = (reason: string, cause?: unknown) =>
      new ValidationError({ file: blueprint.file, path: `blueprint.secrets.${name}`, reason, cause });
    if ('env' in ref) {
      const value = environment[ref.env];
      if (!value) throw refuse(`environment variable ${ref.env} is not set or empty`);
      values[name] = value;
      continue;
    }
    const home = environment.HOME || homedir();
    const path =
      ref.file === '~' || ref.file.startsWith('~/')
        ? home + ref.file.slice(1)
        : resolve(blueprint.dir, ref.file);
    let value: string;
    try {
      value = (await readFile(path)).replace(/\r?\n$/, '');
    } catch (error) {
      // Only the code, not the cause or its message: an injected reader may put anything there.
      const code = (error as NodeJS.ErrnoException).code ?? 'read failed';
      throw refuse(`cannot read file ${ref.file} (${code})`);
    }
    if (!value) throw refuse(`file ${ref.file} is empty`);
    values[name] = value;
  }
  return values;
}
