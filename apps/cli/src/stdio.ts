import { fstatSync, statSync, writeSync } from 'node:fs';

/**
 * Writes to stdout or stderr with write(2), without building `process.stdout`/`process.stderr`: those
 * streams load Node's whole stream stack (about 5 ms), which most commands need for nothing else.
 * Like Node's own pipes and files on Linux, the write is synchronous. A descriptor that something made
 * non-blocking may refuse with EAGAIN while the reader catches up: then it waits and tries again, for at
 * most a minute.
 */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  let waitedMs = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The reader went away (a closed pipe): nothing more can be said there.
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN' || waitedMs >= 60_000) throw error;
      Atomics.wait(PAUSE, 0, 0, 5);
      waitedMs += 5;
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export function writeStdout(text: string): void {
  writeAll(1, text);
}

export function writeStderr(text: string): void {
  writeAll(2, text);
}

/**
 * Whether `fd` is a terminal, without loading node:tty (which loads node:net and the stream stack, about
 * 3 ms, for commands that need neither): a character device other than /dev/null. Other character devices
 * (/dev/zero, a serial line) count as terminals, which only changes how progress is drawn.
 */
export function isTerminal(fd: number): boolean {
  try {
    const stats = fstatSync(fd);
    if (!stats.isCharacterDevice()) return false;
    const devNull = statSync('/dev/null', { throwIfNoEntry: false });
    return !(devNull && devNull.rdev === stats.rdev);
  } catch {
    return false;
  }
}
