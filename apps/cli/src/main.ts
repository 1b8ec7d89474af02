import { COMMANDS } from './commands/index.js';
import { closeManagers } from './context.js';
import { describeError, errorToJson, exitCodeFor } from './errors.js';
import { parseFast } from './fast-args.js';
import { writeStderr, writeStdout } from './stdio.js';

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

/** Runs bp with its arguments; resolves to the exit code. */
export async function main(rawArgs: string[]): Promise<number> {
  const args = joinNegativeValues(rawArgs);
  const debug = args.includes('--debug');
  const json = args.includes('--json');
  try {
    const fast = parseFast(args, COMMANDS);
    if (fast) return await fast.spec.run(fast.argv);
    const { runWithYargs } = await import('./yargs-cli.js');
    return await runWithYargs(args);
  } catch (error) {
    if (json) writeStdout(`${JSON.stringify(errorToJson(error))}\n`);
    writeStderr(`${describeError(error, debug)}\n`);
    return exitCodeFor(error);
  } finally {
    await closeManagers().catch(() => {});
  }
}
