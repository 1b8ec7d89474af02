import { createRequire } from 'node:module';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { alertCommand } from './commands/alert.js';
import { catalogCommand } from './commands/catalog.js';
import { configureCommand } from './commands/configure.js';
import { costsCommand } from './commands/costs.js';
import { deployCommand } from './commands/deploy.js';
import { estimateCommand } from './commands/estimate.js';
import { logsCommand } from './commands/logs.js';
import { monitorCommand } from './commands/monitor.js';
import { providersCommand } from './commands/providers.js';
import { reconcileCommand } from './commands/reconcile.js';
import { statusCommand } from './commands/status.js';
import { terminateCommand } from './commands/terminate.js';
import { closeManagers, type GlobalOptions, type Wrap } from './context.js';
import { describeError, EXIT, errorToJson, exitCodeFor, UsageError } from './errors.js';
import { isTerminal, writeStderr, writeStdout } from './stdio.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

// Options that take a value which may itself start with '-' (a malformed TTL such
// as `-1h` must reach the TTL parser, not be read as the flags -1 and -h).
const VALUE_OPTIONS = new Set([
  '--ttl',
  '--wait-timeout',
  '--since',
  '--name',
  '--target',
  '--provider',
  '--region',
  '--cpu',
  '--memory',
  '--storage',
  '--gpu',
  '--gpu-model',
  '--max-hourly',
  '--tail',
  '--monthly-limit',
  '--duration',
  '--limit',
  '--interval',
  '--metrics-port',
]);

function joinNegativeValues(args: string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const next = args[index + 1];
    if (VALUE_OPTIONS.has(arg) && next !== undefined && /^-[^-]/.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function wantsHelp(args: string[]): boolean {
  return args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help';
}

/** Every command, by the name it is invoked with. */
const COMMANDS = {
  deploy: deployCommand,
  estimate: estimateCommand,
  status: statusCommand,
  logs: logsCommand,
  terminate: terminateCommand,
  configure: configureCommand,
  providers: providersCommand,
  costs: costsCommand,
  alert: alertCommand,
  catalog: catalogCommand,
  reconcile: reconcileCommand,
  monitor: monitorCommand,
};

/**
 * The commands to register: only the one invoked, when it is known and no help is asked for (yargs
 * builds every registered command's usage, which the others do not need); else all of them, so that
 * help lists them and a mistyped command gets its suggestion. Global options are flags without
 * values, so the first argument that is not an option names the command.
 */
function commandsFor(args: string[]): (keyof typeof COMMANDS)[] {
  const invoked = args.find((arg) => !arg.startsWith('-'));
  if (invoked && Object.hasOwn(COMMANDS, invoked) && !wantsHelp(args))
    return [invoked as keyof typeof COMMANDS];
  return Object.keys(COMMANDS) as (keyof typeof COMMANDS)[];
}

function build(args: string[], run: (handler: () => Promise<number>) => void): Argv<GlobalOptions> {
  const wrap: Wrap =
    <T>(handler: (argv: T) => Promise<number>) =>
    (argv: T) => {
      run(() => handler(argv));
    };
  let parser = yargs(args)
    .scriptName('bp')
    .usage(
      'bp: deploy a service to the cheapest place that fits it, and keep it healthy.\n\nUsage: bp <command> [options]',
    )
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces' })
    .option('yes', {
      alias: 'y',
      type: 'boolean',
      default: false,
      describe: 'Answer yes to prompts (implied without a TTY)',
    }) as unknown as Argv<GlobalOptions>;
  for (const name of commandsFor(args)) {
    parser = parser.command(COMMANDS[name](wrap) as CommandModule<GlobalOptions, GlobalOptions>);
  }
  parser = parser
    .demandCommand(1, 'name a command: bp --help lists them')
    .strict()
    .recommendCommands()
    .version(version)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    // Rendering help text is costly (yargs renders it even when not shown): lay it out only when asked for.
    .wrap(wantsHelp(args) ? Math.min(110, terminalColumns() || 100) : null)
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
  skipHelpCache(parser);
  return parser;
}

/**
 * Before it runs a command's handler, yargs lays out the whole help text and keeps it, to show it
 * should the handler fail. bp's handlers report their own failures (see `fail` above), so the
 * layout is wasted; it costs a few milliseconds on every command.
 */
function skipHelpCache(parser: Argv<GlobalOptions>): void {
  const internal = parser as unknown as {
    getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
  };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** The terminal's width, when stdout is one (asked only for help, as it builds process.stdout). */
function terminalColumns(): number | undefined {
  return isTerminal(1) ? process.stdout.columns : undefined;
}

/** Runs bp with its arguments; resolves to the exit code. */
export async function main(rawArgs: string[]): Promise<number> {
  const args = joinNegativeValues(rawArgs);
  const debug = args.includes('--debug');
  const json = args.includes('--json');
  let pending: Promise<number> | undefined;
  try {
    await build(args, (handler) => {
      pending = handler();
    }).parseAsync();
    return pending ? await pending : EXIT.ok;
  } catch (error) {
    if (json) writeStdout(`${JSON.stringify(errorToJson(error))}\n`);
    writeStderr(`${describeError(error, debug)}\n`);
    return exitCodeFor(error);
  } finally {
    await closeManagers().catch(() => {});
  }
}
