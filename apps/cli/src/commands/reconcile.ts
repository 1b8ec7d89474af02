import type { ReconcileFinding } from '@bp/manager';
import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { table } from '../output.js';
import { writeStderr } from '../stdio.js';

interface ReconcileArgs extends GlobalOptions {
  provider?: string;
  region?: string;
  'dry-run'?: boolean;
  'any-owner'?: boolean;
}

export const reconcileCommand: CommandSpec<ReconcileArgs> = {
  command: 'reconcile',
  describe:
    "Find resources with bp's tags but no live record (and records whose resources are gone); destroy or mark them",
  options: {
    provider: { type: 'string', describe: 'Only targets of this provider type' },
    region: { type: 'string', describe: 'Only this region' },
    'dry-run': { type: 'boolean', describe: 'List what would be done; change nothing' },
    'any-owner': {
      type: 'boolean',
      describe:
        "Also other installations' resources (e.g. after losing the state); this one's only by default",
    },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const manager = await context.manager();
    const scan = (apply: boolean) =>
      manager.reconcile({
        provider: argv.provider,
        region: argv.region,
        anyOwner: argv['any-owner'],
        apply,
        signal: context.signal,
      });
    let apply = !argv['dry-run'];
    if (apply && context.interactive) {
      // Show first, then ask: destroying is not undone.
      const preview = await scan(false);
      if (preview.findings.length > 0) {
        writeStderr(`${describe(preview.findings)}\n`);
        const { createInterface } = await import('node:readline/promises');
        const readline = createInterface({ input: process.stdin, output: process.stderr });
        apply = /^y(es)?$/i.test((await readline.question('apply these? [y/N] ')).trim());
        readline.close();
      }
    }
    const result = await scan(apply);
    context.progress.done();
    for (const error of result.errors) writeStderr(`bp: could not check ${error}\n`);
    context.print(result, () =>
      result.findings.length ? describe(result.findings) : 'nothing to reconcile',
    );
    return result.errors.length || result.findings.some((finding) => finding.error) ? EXIT.failed : EXIT.ok;
  },
};

function describe(findings: ReconcileFinding[]): string {
  return table(
    ['TARGET', 'DEPLOYMENT', 'RESOURCE', 'FOUND', 'ACTION'],
    findings.map((finding) => [
      finding.target,
      finding.deploymentId,
      finding.resourceId ?? '-',
      finding.kind,
      finding.error
        ? `${finding.action} failed: ${finding.error}`
        : finding.applied
          ? finding.action
          : `would be ${finding.action}`,
    ]),
  );
}
