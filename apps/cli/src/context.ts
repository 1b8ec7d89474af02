import type { Manager } from '@bp/manager';
import { createProgress, type Progress } from './output.js';
import { isTerminal, writeStderr, writeStdout } from './stdio.js';

/** Options every command takes. */
export interface GlobalOptions {
  json: boolean;
  debug: boolean;
  yes: boolean;
}

/** What a command handler works with. */
export interface CommandContext {
  json: boolean;
  progress: Progress;
  /** Aborted on the first Ctrl-C; a second one exits at once. */
  signal: AbortSignal;
  /** True when prompts may be shown: a TTY on stdin and no --yes. */
  interactive: boolean;
  /** Prints the command's result: JSON on stdout under --json, else text. */
  print(document: unknown, text: () => string): void;
  /** The manager, created on first use (loads the tracker and providers lazily). */
  manager(): Promise<Manager>;
}

const managers: Promise<Manager>[] = [];

/** Closes every manager a command opened (its store, its providers' connections). */
export async function closeManagers(): Promise<void> {
  for (const manager of managers.splice(0)) await (await manager).close();
}

export function createContext(options: GlobalOptions): CommandContext {
  const progress = createProgress({ timings: options.debug });
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    writeStderr('\nbp: interrupted, cleaning up (Ctrl-C again to quit at once)\n');
    controller.abort();
  });
  let manager: Promise<Manager> | undefined;
  return {
    json: options.json,
    progress,
    signal: controller.signal,
    // Not process.stdin.isTTY: building the stdin stream costs a few ms, and most commands never read it.
    get interactive() {
      return !options.yes && isTerminal(0);
    },
    print(document, text) {
      writeStdout(options.json ? `${JSON.stringify(document, null, 2)}\n` : `${text()}\n`);
    },
    manager() {
      if (manager) return manager;
      manager = import('@bp/manager').then(({ createManager }) =>
        createManager({
          onEvent: (event) =>
            event.step === 'warning' ? progress.warn(event.message) : progress.step(event.message),
        }),
      );
      managers.push(manager);
      return manager;
    },
  };
}
