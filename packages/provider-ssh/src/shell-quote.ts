import { ValidationError } from '@bp/provider';

/**
 * Quotes one word for a POSIX shell (sh, dash, bash, zsh, busybox ash): the shell reads it back as exactly
 * `value` and expands nothing in it. Single quotes keep every byte literal (`$`, backticks, `\`, `;`, `"`,
 * newlines); a single quote itself is written as `'\''`. NUL cannot be in an argument at all, so it is refused.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new ValidationError({ reason: 'a value sent to a remote shell cannot hold a NUL byte' });
  }
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** A command line of quoted words: `shellCommand(['printf', '%s', x])`. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
