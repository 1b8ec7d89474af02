import type { GlobalOptions } from './context.js';

/** One option or positional of a command, in yargs' own terms (the yargs path passes it on as is). */
export interface OptionSpec {
  type?: 'string' | 'number' | 'boolean';
  describe?: string;
  alias?: string;
  default?: string | number | boolean | string[];
  choices?: readonly string[];
  array?: boolean;
  demandOption?: boolean;
}

/**
 * A command as data: its usage (`deploy [dir]`), its positionals and options, the options that
 * exclude each other, and what it does. Both argument parsers read it: yargs (help, errors, every
 * unusual form) and the fast path in fast-args.ts (plain invocations).
 */
export interface CommandSpec<Args extends GlobalOptions = GlobalOptions> {
  command: string;
  describe: string;
  positionals?: Record<string, OptionSpec>;
  options?: Record<string, OptionSpec>;
  /** Each option named first conflicts with the ones named after it. */
  conflicts?: [string, string | string[]][];
  /** Runs the command; resolves to its exit code. */
  run(argv: Args): Promise<number>;
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' },
  debug: { type: 'boolean', default: false, describe: 'Show stack traces' },
  yes: {
    alias: 'y',
    type: 'boolean',
    default: false,
    describe: 'Answer yes to prompts (implied without a TTY)',
  },
};
