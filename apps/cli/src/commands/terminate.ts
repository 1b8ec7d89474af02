import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { describeError, EXIT, exitCodeFor, UsageError } from '../errors.js';
import { recordToJson } from '../output.js';
import { writeStderr } from '../stdio.js';

interface TerminateArgs extends GlobalOptions {
  ids: string[];
  all?: boolean;
  expired?: boolean;
}

export const terminateCommand: CommandSpec<TerminateArgs> = {
  command: 'terminate [ids..]',
  describe: 'Destroy deployments, confirm the provider no longer has them, then mark them terminated',
  positionals: {
    ids: {
      type: 'string',
      array: true,
      default: [],
      describe: 'Deployment ids or unique prefixes',
    },
  },
  options: {
    all: { type: 'boolean', describe: 'Every active deployment' },
    expired: { type: 'boolean', describe: 'Every deployment past its TTL' },
  },
  run: async (argv) => {
    const ids = argv.ids.map(String);
    if (ids.length === 0 && !argv.all && !argv.expired) {
      throw new UsageError('terminate: name deployment ids, or pass --all or --expired');
    }
    if (ids.length > 0 && (argv.all || argv.expired)) {
      throw new UsageError('terminate: ids cannot be combined with --all or --expired');
    }
    const context = createContext(argv);
    const manager = await context.manager();
    if (argv.expired) {
      const reaped = await manager.reap({ signal: context.signal });
      context.progress.done();
      context.print(
        reaped.map((record) => recordToJson(record)),
        () =>
          reaped.length
            ? reaped.map((record) => `${record.id} ${record.status}`).join('\n')
            : 'nothing expired',
      );
      return EXIT.ok;
    }
    let targets = ids;
    if (argv.all) {
      const active = await manager.list({ status: ['pending', 'provisioning', 'running', 'terminating'] });
      targets = active.map((record) => record.id);
    } else {
      // Resolve every id first, so a typo refuses the whole command before anything is destroyed.
      targets = await Promise.all(ids.map(async (id) => (await manager.get(id)).id));
    }
    const results = await Promise.allSettled(
      targets.map((id) => manager.terminate(id, { reason: 'terminated by user', signal: context.signal })),
    );
    context.progress.done();
    const failures = results.filter(
      (result): result is PromiseRejectedResult => result.status === 'rejected',
    );
    const done = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    for (const failure of failures) writeStderr(`${describeError(failure.reason, argv.debug)}\n`);
    context.print(
      done.map((record) => recordToJson(record)),
      () =>
        done.length
          ? done.map((record) => `${record.id} ${record.status}`).join('\n')
          : 'nothing to terminate',
    );
    return failures.length ? exitCodeFor(failures[0]!.reason) : EXIT.ok;
  },
};
