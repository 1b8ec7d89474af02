// The yargs side of bp's argument parsing: help, suggestions, every error message, and every form of
// arguments the fast path (fast-args.ts) leaves to it. Loaded only when needed.
import { createRequire } from 'node:module';
import yargs, { type Argv, type CommandModule, type Options, type PositionalOptions } from 'yargs';
import { type CommandSpec, GLOBAL_OPTIONS } from './command-spec.js';
import { COMMANDS } from './commands/index.js';
import type { GlobalOptions } from './context.js';
import { EXIT, UsageError } from './errors.js';
import { isTerminal } from './stdio.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** True when the arguments ask for help (or name no command, which shows it too). */
function wantsHelp(args: string[]): boolean {
  return args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help';
}

/**
 * The commands to register: only the one invoked, when it is known and no help is asked for (yargs
 * builds every registered command's usage, which the others do not need); else all of them, so that
 * help lists them and a mistyped command gets its suggestion. Global options are flags without
 * values, so the first argument that is not an option names the command.
 */
function commandsFor(args: string[]): string[] {
  const invoked = args.find((arg) => !arg.startsWith('-'));
  if (invoked && Object.hasOwn(COMMANDS, invoked) && !wantsHelp(args)) return [invoked];
  return Object.keys(COMMANDS);
}

/** A command's spec as a yargs command module whose handler hands `run` the parsed arguments. */
function toModule(
  spec: CommandSpec,
  run: (spec: CommandSpec, argv: GlobalOptions) => void,
): CommandModule<GlobalOptions, GlobalOptions> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (parser) => {
      // The specs are yargs' own option settings; the chain's types do not follow a loop.
      let built = parser as unknown as Argv;
      for (const [name, options] of Object.entries(spec.positionals ?? {})) {
        built = built.positional(name, options as PositionalOptions);
      }
      for (const [name, options] of Object.entries(spec.options ?? {})) {
        built = built.option(name, options as Options);
      }
      for (const [name, others] of spec.conflicts ?? []) built = built.conflicts(name, others);
      return built as unknown as Argv<GlobalOptions>;
    },
    handler: (argv) => run(spec, argv),
  };
}

/**
 * bp's yargs parser for `args`. A command's handler calls `run` with its spec and arguments; yargs'
 * failures throw a UsageError.
 */
export function buildParser(
  args: string[],
  run: (spec: CommandSpec, argv: GlobalOptions) => void,
): Argv<GlobalOptions> {
  let parser = yargs(args)
    .scriptName('bp')
    .usage(
      'bp: deploy a service to the cheapest place that fits it, and keep it healthy.\n\nUsage: bp <command> [options]',
    )
    .options(GLOBAL_OPTIONS as Record<string, Options>) as unknown as Argv<GlobalOptions>;
  for (const name of commandsFor(args)) parser = parser.command(toModule(COMMANDS[name]!, run));
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

/** Parses `args` with yargs and runs the command they name; resolves to its exit code. */
export async function runWithYargs(args: string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  await buildParser(args, (spec, argv) => {
    pending = spec.run(argv);
  }).parseAsync();
  // Help and --version print and run no command.
  return pending ? await pending : EXIT.ok;
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
