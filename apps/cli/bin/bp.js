#!/usr/bin/env node
// bp's entry point. Kept tiny: `--version` answers without loading anything,
// and the compile cache makes every later start cheaper.
import module from 'node:module';

module.enableCompileCache?.();
const args = process.argv.slice(2);
// Deprecation warnings are about bp's dependencies (docker-modem's url.parse on TCP engines), not
// about anything a user of the CLI can change; --debug shows them.
if (!args.includes('--debug')) process.noDeprecation = true;
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs');
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  const { main } = await import('../dist/main.js');
  // Everything bp writes is written synchronously by then (see src/stdio.ts), and every command has
  // closed what it opened: exiting at once spares the teardown of the whole heap (several ms).
  process.exit(await main(args));
}
