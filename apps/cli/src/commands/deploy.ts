import type { CommandSpec } from '../command-spec.js';
import { type CommandContext, createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { formatDuration, recordToJson } from '../output.js';
import { writeStderr } from '../stdio.js';
import { type ResourceFlags, resourceOverrides } from './overrides.js';

interface DeployArgs extends GlobalOptions, ResourceFlags {
  dir: string;
  target?: string;
  provider?: string;
  region?: string;
  ttl?: string;
  'auto-select'?: boolean;
  'max-hourly'?: number;
  name?: string;
  'wait-timeout'?: string;
  'dry-run'?: boolean;
  interactive?: boolean;
  replace?: boolean;
}

async function confirm(context: CommandContext, question: string): Promise<boolean> {
  if (!context.interactive) return true;
  const { createInterface } = await import('node:readline/promises');
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await readline.question(`${question} [y/N] `)).trim());
  } finally {
    readline.close();
  }
}

export const deployCommand: CommandSpec<DeployArgs> = {
  command: 'deploy [dir]',
  describe: 'Deploy a blueprint, wait until it is healthy, and record it',
  positionals: {
    dir: {
      type: 'string',
      default: '.',
      describe: 'Directory with Blueprint.toml or package.json',
    },
  },
  options: {
    target: { type: 'string', describe: 'A target from cloud.toml (or "local")' },
    provider: { type: 'string', describe: 'Use the first target of this provider type' },
    region: { type: 'string', describe: 'Region, for providers with regions' },
    cpu: { type: 'number', describe: 'vCPUs (overrides the blueprint, not below its minimum)' },
    memory: { type: 'number', describe: 'Memory in GB' },
    storage: { type: 'number', describe: 'Disk in GB' },
    gpu: { type: 'number', describe: 'Number of GPUs' },
    'gpu-model': { type: 'string', describe: 'GPU model, e.g. A100' },
    spot: { type: 'boolean', describe: 'Allow spot / preemptible capacity' },
    ttl: {
      type: 'string',
      describe: 'Time to live, e.g. 30m, 24h (default from cloud.toml, else 24h)',
    },
    'auto-select': { type: 'boolean', describe: 'Pick the cheapest configured target that fits' },
    'max-hourly': {
      type: 'number',
      describe: 'Refuse if the price per hour is above this, in USD',
    },
    name: { type: 'string', describe: 'Deployment name (default: package.name)' },
    'wait-timeout': {
      type: 'string',
      describe: 'How long to wait for health before undoing (default 5m)',
    },
    'dry-run': { type: 'boolean', describe: 'Resolve, choose and price; create nothing' },
    interactive: {
      alias: 'i',
      type: 'boolean',
      describe: 'Show the plan and ask before creating',
    },
    replace: {
      type: 'boolean',
      describe: 'Zero-downtime redeploy: stop running deployments of the same name once this one is healthy',
    },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const manager = await context.manager();
    const request = {
      blueprintDir: argv.dir,
      target: argv.target,
      provider: argv.provider,
      region: argv.region,
      ...resourceOverrides(argv),
      ttl: argv.ttl,
      name: argv.name,
      waitTimeout: argv['wait-timeout'],
      maxHourlyUsd: argv['max-hourly'],
      replace: argv.replace,
      autoSelect: argv['auto-select'],
      signal: context.signal,
    };
    if (argv['dry-run'] || argv.interactive) {
      const plan = await manager.deploy({ ...request, dryRun: true });
      context.progress.done();
      const summary = `${plan.name} → ${plan.target} (${plan.provider}${plan.region ? `, ${plan.region}` : ''}${plan.instanceType ? `, ${plan.instanceType}` : ''}): ${plan.resources.cpu} vCPU, ${plan.resources.memoryGb} GB, $${plan.hourlyUsd.toFixed(4)}/h, expires in ${formatDuration(plan.expiresAt.getTime() - Date.now())}`;
      if (argv['dry-run']) {
        context.print(
          { ...plan, expiresAt: plan.expiresAt.toISOString(), dryRun: true },
          () => `would deploy ${summary}`,
        );
        return EXIT.ok;
      }
      if (!(await confirm(context, `deploy ${summary}?`))) {
        writeStderr('bp: nothing deployed\n');
        return EXIT.ok;
      }
    }
    const record = await manager.deploy(request);
    context.progress.done();
    context.print(recordToJson(record), () =>
      [
        `${record.id} is running`,
        `  endpoint: ${record.endpoint ?? '-'}`,
        `  target:   ${record.target} (${record.provider})`,
        `  cost:     $${record.hourlyUsd.toFixed(4)}/h`,
        `  expires:  ${record.expiresAt.toISOString()} (in ${formatDuration(record.expiresAt.getTime() - Date.now())})`,
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
