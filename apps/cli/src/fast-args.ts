// The fast path of bp's argument parsing. Plain invocations (`bp deploy DIR --ttl 5m --json`) are
// parsed here from the commands' specs, without loading yargs (about 15-20 ms of start-up); anything
// else — help, --version, an unknown or repeated option, a missing or doubtful value, combined short
// flags, `--` — returns undefined and goes to yargs, which gives the answer or the error message.
// A test checks that every result here equals yargs' own for the same arguments.
import { type CommandSpec, GLOBAL_OPTIONS, type OptionSpec } from './command-spec.js';
import type { GlobalOptions } from './context.js';

/** A decimal number as yargs would read it, and nothing it might read differently (hex, exponents). */
const PLAIN_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** The command and its parsed arguments, when `args` are plain enough; else undefined. */
export function parseFast(
  args: string[],
  commands: Record<string, CommandSpec>,
): { spec: CommandSpec; argv: GlobalOptions } | undefined {
  const name = args.find((arg) => !arg.startsWith('-'));
  if (name === undefined || !Object.hasOwn(commands, name)) return undefined;
  const spec = commands[name]!;
  const options = { ...GLOBAL_OPTIONS, ...spec.options };
  const byFlag = new Map<string, string>();
  for (const [option, settings] of Object.entries(options)) {
    byFlag.set(`--${option}`, option);
    if (settings.alias !== undefined) byFlag.set(`-${settings.alias}`, option);
  }

  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let seenCommand = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (!arg.startsWith('-')) {
      if (seenCommand) positionals.push(arg);
      // An option's value before the command (`bp --ttl 5m deploy`) is left to yargs.
      else if (arg !== name) return undefined;
      seenCommand = true;
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals > 0 ? arg.slice(0, equals) : arg;
    let option = byFlag.get(flag);
    let value: unknown;
    if (option === undefined) {
      // --no-X sets a boolean X to false.
      const negated = flag.startsWith('--no-') ? byFlag.get(`--${flag.slice(5)}`) : undefined;
      if (negated === undefined || options[negated]!.type !== 'boolean' || equals > 0) return undefined;
      option = negated;
      value = false;
    } else {
      const settings = options[option]!;
      if (settings.array) return undefined;
      if (settings.type === 'boolean') {
        // yargs reads `--flag true` and `--flag=false` as values: left to it.
        const next = args[index + 1];
        if (equals > 0 || next === 'true' || next === 'false') return undefined;
        value = true;
      } else {
        let raw: string | undefined;
        if (equals > 0) raw = arg.slice(equals + 1);
        else {
          raw = args[index + 1];
          if (raw === undefined || raw.startsWith('-')) return undefined;
          index++;
        }
        value = readValue(settings, raw);
        if (value === undefined) return undefined;
      }
    }
    if (Object.hasOwn(values, option)) return undefined;
    values[option] = value;
  }

  const positionalSpecs = Object.entries(spec.positionals ?? {});
  for (const [positional, settings] of positionalSpecs) {
    if (settings.array) {
      values[positional] = positionals.splice(0);
      continue;
    }
    const raw = positionals.shift();
    if (raw === undefined) continue;
    const value = readValue(settings, raw);
    if (value === undefined) return undefined;
    values[positional] = value;
  }
  if (positionals.length > 0) return undefined;

  const everything = { ...options, ...spec.positionals };
  for (const [option, settings] of Object.entries(everything)) {
    if (Object.hasOwn(values, option)) continue;
    if (settings.demandOption) return undefined;
    if (settings.default !== undefined) values[option] = settings.default;
  }
  for (const [option, others] of spec.conflicts ?? []) {
    const present = (key: string) => Object.hasOwn(values, key) && values[key] !== undefined;
    if (present(option) && [others].flat().some(present)) return undefined;
  }
  return { spec, argv: values as unknown as GlobalOptions };
}

/** A string or number value, when it is one yargs would read the same way; else undefined. */
function readValue(settings: OptionSpec, raw: string): string | number | undefined {
  // yargs strips quotes around a value: left to it.
  if (raw.startsWith('"') || raw.startsWith("'")) return undefined;
  if (settings.choices && !settings.choices.includes(raw)) return undefined;
  if (settings.type === 'number') return PLAIN_NUMBER.test(raw) ? Number(raw) : undefined;
  return settings.type === 'string' || settings.choices ? raw : undefined;
}
