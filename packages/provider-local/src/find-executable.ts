// Imports builtins only (the supervisor runs it straight from source in tests).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

/**
 * Resolves a command name the way execvp does: a name holding a slash relative to `cwd`, else the
 * first entry of `pathVariable` holding an executable file.
 */
export function findExecutable(
  name: string,
  pathVariable: string | undefined,
  cwd: string,
): string | undefined {
  const candidates = name.includes('/')
    ? [resolve(cwd, name)]
    : (pathVariable ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((directory) => resolve(cwd, directory, name));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
