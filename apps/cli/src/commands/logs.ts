import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { writeStderr, writeStdout } from '../stdio.js';

interface LogsArgs extends GlobalOptions {
  id: string;
  follow?: boolean;
  since?: string;
  tail?: number;
}

async function parseSince(text: string): Promise<Date> {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) throw new UsageError(`--since: '${text}' is not a valid timestamp`);
    return date;
  }
  const { parseDuration } = await import('@bp/resources');
  return new Date(Date.now() - parseDuration(text, '--since'));
}

export const logsCommand: CommandSpec<LogsArgs> = {
  command: 'logs <id>',
  describe: "Show a deployment's logs",
  positionals: {
    id: {
      type: 'string',
      demandOption: true,
      describe: 'A deployment id or unique prefix',
    },
  },
  options: {
    follow: { alias: 'f', type: 'boolean', describe: 'Keep streaming new lines' },
    since: {
      type: 'string',
      describe: 'Only lines newer than a duration (10m) or an ISO time',
    },
    tail: { type: 'number', describe: 'Only the last N lines' },
  },
  run: async (argv) => {
    if (argv.tail !== undefined && (!Number.isInteger(argv.tail) || argv.tail < 0)) {
      throw new UsageError(`--tail: '${argv.tail}' must be a whole number, 0 or more`);
    }
    const since = argv.since === undefined ? undefined : await parseSince(argv.since);
    const context = createContext(argv);
    const manager = await context.manager();
    const entries = await manager.logs(argv.id, {
      follow: argv.follow,
      since,
      tail: argv.tail,
      signal: context.signal,
    });
    const collected: unknown[] = [];
    try {
      for await (const entry of entries) {
        if (argv.json && !argv.follow) {
          collected.push({ ...entry, timestamp: entry.timestamp.toISOString() });
        } else if (argv.json) {
          writeStdout(`${JSON.stringify({ ...entry, timestamp: entry.timestamp.toISOString() })}\n`);
        } else {
          (entry.stream === 'stderr' ? writeStderr : writeStdout)(`${entry.message}\n`);
        }
      }
    } catch (error) {
      // Ctrl-C ends a follow: that is how it is meant to stop.
      if (!context.signal.aborted) throw error;
    }
    if (argv.json && !argv.follow) writeStdout(`${JSON.stringify(collected, null, 2)}\n`);
    return EXIT.ok;
  },
};
