import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { describeRecord, recordToJson, statusTable } from '../output.js';
import { isTerminal, writeStdout } from '../stdio.js';

interface StatusArgs extends GlobalOptions {
  id?: string;
  watch?: boolean;
  refresh?: boolean;
  interval: number;
}

export const statusCommand: CommandSpec<StatusArgs> = {
  command: 'status [id]',
  describe: 'List deployments, or show one, with endpoint, age, cost so far and time left',
  positionals: {
    id: { type: 'string', describe: 'A deployment id or unique prefix' },
  },
  options: {
    watch: {
      alias: 'w',
      type: 'boolean',
      describe: 'Refresh until Ctrl-C (with --json: one document per line)',
    },
    refresh: { type: 'boolean', describe: 'Ask the providers for live state first' },
    interval: { type: 'number', default: 2, describe: 'Seconds between --watch refreshes' },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const manager = await context.manager();
    const render = async (): Promise<void> => {
      // Any bp command reaps what has expired, so TTLs hold even without a monitor.
      await manager.reap({ signal: context.signal });
      if (argv.id) {
        const record = await manager.refresh(argv.id, context.signal);
        const document = recordToJson(record);
        if (argv.watch && argv.json) writeStdout(`${JSON.stringify(document)}\n`);
        else context.print(document, () => describeRecord(record));
        return;
      }
      let records = await manager.list();
      if (argv.refresh) {
        records = await Promise.all(
          records.map((record) =>
            record.status === 'running' ? manager.refresh(record.id, context.signal) : record,
          ),
        );
      }
      const now = new Date();
      if (argv.watch && argv.json) {
        writeStdout(`${JSON.stringify(records.map((record) => recordToJson(record, now)))}\n`);
      } else {
        context.print(
          records.map((record) => recordToJson(record, now)),
          () => statusTable(records, now),
        );
      }
    };
    if (!argv.watch) {
      await render();
      return EXIT.ok;
    }
    const intervalMs = Math.max(0.2, argv.interval) * 1000;
    while (!context.signal.aborted) {
      if (isTerminal(1) && !argv.json) writeStdout('\x1b[H\x1b[2J');
      await render();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        context.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Ctrl-C is how a watch ends: that is success.
    return EXIT.ok;
  },
};
