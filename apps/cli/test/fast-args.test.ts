import { describe, expect, it } from 'vitest';
import { GLOBAL_OPTIONS } from '../src/command-spec.js';
import { COMMANDS } from '../src/commands/index.js';
import { parseFast } from '../src/fast-args.js';
import { buildParser } from '../src/yargs-cli.js';

/** What yargs makes of `args`: the command's name and its arguments, or its error. */
async function parseWithYargs(args: string[]) {
  let parsed: { command: string; argv: Record<string, unknown> } | undefined;
  try {
    await buildParser(args, (spec, argv) => {
      parsed = { command: spec.command, argv: argv as unknown as Record<string, unknown> };
    }).parseAsync();
  } catch (error) {
    return { error: (error as Error).message };
  }
  return parsed;
}

/** Only the keys the command's spec declares: what its handler reads. */
function declared(command: string, argv: Record<string, unknown>) {
  const spec = Object.values(COMMANDS).find((candidate) => candidate.command === command)!;
  const keys = [
    ...Object.keys(GLOBAL_OPTIONS),
    ...Object.keys(spec.options ?? {}),
    ...Object.keys(spec.positionals ?? {}),
  ];
  return Object.fromEntries(keys.map((key) => [key, argv[key]]));
}

// Plain invocations: the fast path takes each of these, and must agree with yargs on every one.
const PLAIN: string[][] = [
  ['deploy'],
  ['deploy', 'examples/hello', '--ttl', '5m', '--json'],
  ['deploy', '--json', 'examples/hello', '--provider', 'docker', '--ttl=10m'],
  ['--json', 'deploy', '.', '--cpu', '2', '--memory', '0.5', '--storage=10', '--gpu', '0'],
  ['deploy', 'x', '--spot', '--no-replace', '--dry-run', '-i', '-y', '--debug'],
  ['deploy', 'x', '--no-spot', '--max-hourly', '1.25', '--name', 'web', '--wait-timeout', '30s'],
  ['deploy', 'x', '--ttl=-1h'],
  ['deploy', 'x', '--ttl', 'forever', '--gpu-model', 'A100', '--auto-select', '--target', 'local'],
  ['deploy', 'x', '--name', '123', '--region', 'us-east-1', '--cpu=-1'],
  ['deploy', 'x', '--name='],
  ['status'],
  ['status', 'bp-abc', '--json'],
  ['status', '-w', '--interval', '5', '--refresh'],
  ['logs', 'bp-abc', '-f', '--tail', '10', '--since', '10m'],
  ['terminate'],
  ['terminate', 'bp-a', 'bp-b', '--json'],
  ['terminate', '--all', '--yes'],
  ['terminate', '--expired'],
  ['estimate', '--compare', '--cpu', '4', '--memory', '16', '--limit', '3', '--duration', '30d'],
  ['estimate', 'examples/hello', '--provider', 'aws', '--region', 'us-east-1', '--spot'],
  ['configure', '--provider', 'docker', '--target', 'box', '--set-default'],
  ['configure', '--provider', 'aws', '--credentials-env', 'AWS'],
  ['providers', '--json'],
  ['costs', '--since', '7d'],
  ['alert', '--monthly-limit', '100', '--action', 'terminate'],
  ['catalog'],
  ['catalog', 'update'],
  ['catalog', 'refresh', '--provider', 'gcp', '--api-key-env', 'KEY', '--force'],
  ['reconcile', '--dry-run', '--any-owner', '--provider', 'docker'],
  ['monitor', '--once', '--metrics-port', '0', '--interval', '1', '--failures-before-recovery', '2'],
];

// Forms the fast path leaves to yargs (help, version, doubtful values, errors, repeats).
const LEFT_TO_YARGS: string[][] = [
  [],
  ['help'],
  ['--help'],
  ['deploy', '--help'],
  ['deploy', '-h'],
  ['deploy', '--version'],
  ['deploy', '--bogus'],
  ['deploy', 'a', 'b'],
  ['deploy', '--ttl'],
  ['deploy', '--ttl', '--json'],
  ['deploy', '--ttl', '5m', '--ttl', '6m'],
  ['deploy', '--cpu', 'two'],
  ['deploy', '--cpu', '0x10'],
  ['deploy', '--cpu', '1e3'],
  ['deploy', '--name', '"quoted"'],
  ['deploy', '--spot', 'true'],
  ['deploy', '--json=false'],
  ['deploy', '--no-ttl'],
  ['deploy', '-iy'],
  ['deploy', '--', 'x'],
  ['deploy', '--maxHourly', '2'],
  ['--ttl', '5m', 'deploy'],
  ['deplyo'],
  ['logs'],
  ['alert', '--action', 'notify'],
  ['alert', '--monthly-limit', '5', '--action', 'explode'],
  ['catalog', 'destroy'],
  ['catalog', 'refresh', '--region', 'us-east-1'],
  ['configure', '--credentials-file', 'f', '--credentials-env', 'E'],
];

describe('the fast argument path', () => {
  const cases = (list: string[][]) => list.map((args) => [args.join(' '), args] as const);

  it.each(cases(PLAIN))('parses `bp %s` exactly as yargs does', async (_, args) => {
    const fast = parseFast(args, COMMANDS);
    expect(fast, 'the fast path takes it').toBeDefined();
    const slow = await parseWithYargs(args);
    expect(slow && 'command' in slow, JSON.stringify(slow)).toBe(true);
    const { command, argv } = slow as { command: string; argv: Record<string, unknown> };
    expect(fast!.spec.command).toBe(command);
    expect(declared(command, fast!.argv as unknown as Record<string, unknown>)).toEqual(
      declared(command, argv),
    );
  });

  it.each(cases(LEFT_TO_YARGS))('leaves `bp %s` to yargs', (_, args) => {
    expect(parseFast(args, COMMANDS)).toBeUndefined();
  });
});
