// shellQuote is checked against real shells: each must read every quoted word back byte for byte and run
// nothing (a canary file that an injection would create stays absent).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@bp/provider';
import { afterAll, describe, expect, it } from 'vitest';
import { shellCommand, shellQuote } from './shell-quote.js';

const SHELLS = [['/bin/sh'], ['/usr/bin/dash'], ['/usr/bin/bash'], ['/usr/bin/busybox', 'sh']].filter(
  ([path]) => existsSync(path!),
);
const workDir = mkdtempSync(join(tmpdir(), 'bp-shell-quote-'));
const canary = join(workDir, 'canary');
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const NASTY = [
  '',
  ' ',
  'plain',
  "'",
  "''",
  "'\\''",
  '"',
  '\\',
  '\\\\',
  '\\n',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's syntax, on purpose.
  '${HOME}',
  '$(touch CANARY)',
  '`touch CANARY`',
  '; touch CANARY',
  '&& touch CANARY',
  '| touch CANARY',
  '\ntouch CANARY\n',
  "'; touch CANARY; '",
  '"; touch CANARY; "',
  'it\'s a "test" of `quotes` and $(subshells)',
  '*',
  '?',
  '[a-z]*',
  '~',
  '~root',
  '-n',
  '-e',
  '--',
  '#comment',
  '!',
  '!!',
  '{a,b}',
  '<(touch CANARY)',
  '>(touch CANARY)',
  '> CANARY',
  '\t\r\v\f',
  'é ü ✓ 😀 日本',
  '\u0001\u0002\u001b[31m',
  'a\nb\n\n',
  "'\n'\n'",
  '%s %d %%',
].map((value) => value.replaceAll('CANARY', canary));

function printedBy(shell: string[], values: string[]): string[] {
  const script = `printf '%s\\0' ${values.map(shellQuote).join(' ')}`;
  const output = execFileSync(shell[0]!, [...shell.slice(1), '-c', script], {
    cwd: workDir,
    encoding: 'utf8',
  });
  return output.split('\0').slice(0, -1);
}

/** Bounded fuzz input: strings over an alphabet of shell metacharacters (fixed seed, reproducible). */
function fuzzValues(count: number): string[] {
  const alphabet = [...'\'"\\`$(){}[];&|<>*?!#~ \n\t=%-_aZ9é'];
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: next() % 24 }, () => alphabet[next() % alphabet.length]).join(''),
  );
}

describe('shellQuote', () => {
  it("always single-quotes, escaping single quotes as '\\''", () => {
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('abc')).toBe("'abc'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(x)')).toBe("'$(x)'");
  });

  it('refuses NUL, which no argument can hold', () => {
    expect(() => shellQuote('a\0b')).toThrow(ValidationError);
  });

  for (const shell of SHELLS) {
    it(`reads every nasty value back literally and runs nothing: ${shell.join(' ')}`, () => {
      expect(printedBy(shell, NASTY)).toEqual(NASTY);
      expect(existsSync(canary), 'canary created by an injection').toBe(false);
    });

    it(`survives 500 fuzzed values: ${shell.join(' ')}`, () => {
      const values = fuzzValues(500);
      expect(printedBy(shell, values)).toEqual(values);
    });
  }

  it('builds command lines of quoted words', () => {
    const words = ['printf', '%s|', 'a b', "c'd", '$(e)'];
    expect(printedBy(['/bin/sh'], words.slice(1))).toEqual(words.slice(1));
    const output = execFileSync('/bin/sh', ['-c', shellCommand(words)], { encoding: 'utf8' });
    expect(output).toBe("a b|c'd|$(e)|");
  });
});
