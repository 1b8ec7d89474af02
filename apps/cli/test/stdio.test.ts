// bp's own stdout/stderr writer and terminal check (src/stdio.ts), in child processes with real pipes,
// /dev/null and a pseudo-terminal (util-linux `script`).
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const STDIO = fileURLToPath(new URL('../src/stdio.ts', import.meta.url));

/** Node running `code` as a module that has imported stdio.ts's exports. */
function nodeArgs(code: string): string[] {
  return [
    '--input-type=module',
    '-e',
    `import { writeStdout, writeStderr, isTerminal } from ${JSON.stringify(STDIO)};\n${code}`,
  ];
}

describe('stdout and stderr without streams', () => {
  it('writes everything, in order, to a non-blocking pipe whose reader is slower than the writer', async () => {
    const lines = "Array.from({ length: 40_000 }, (_, index) => `line ${index}\\n`).join('')";
    const text = Array.from({ length: 40_000 }, (_, index) => `line ${index}\n`).join('');
    const child = spawn(
      process.execPath,
      nodeArgs(
        // Building process.stdout makes the pipe non-blocking (libuv does): a full pipe then refuses with EAGAIN.
        `process.stdout; writeStdout(${lines}); writeStderr('done\\n');`,
      ),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const chunks: Buffer[] = [];
    // Read in small bites with pauses, so the pipe fills and the writer must wait.
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 2);
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(text);
    expect(stderr).toBe('done\n');
  });

  it('ends quietly when the reader has gone (a closed pipe)', () => {
    // `head -c 1` reads one byte and exits: the rest meets a closed pipe.
    const result = spawnSync(
      '/bin/sh',
      [
        '-c',
        `"$0" "$@" | head -c 1 >/dev/null`,
        process.execPath,
        ...nodeArgs(`writeStdout('x'.repeat(1 << 20)); writeStderr('after\\n');`),
      ],
      { encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('after\n');
  });

  it('tells a terminal from a pipe and from /dev/null', () => {
    const check = nodeArgs(`writeStderr(JSON.stringify([isTerminal(0), isTerminal(1)]) + '\\n');`);
    const piped = spawnSync(process.execPath, check, { stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
    expect(JSON.parse(piped.stderr)).toEqual([false, false]);
    const devNull = spawnSync(process.execPath, check, {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    expect(JSON.parse(devNull.stderr)).toEqual([false, false]);
    // Under `script`, the command's stdin, stdout and stderr are a pseudo-terminal, which `script` copies to its stdout.
    const quoted = [process.execPath, ...check].map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ');
    const terminal = spawnSync('script', ['-qec', quoted, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    expect(terminal.status, terminal.stderr).toBe(0);
    expect(JSON.parse(terminal.stdout.trim().split('\n').at(-1)!)).toEqual([true, true]);
  });
});
