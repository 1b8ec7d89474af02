import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { table } from '../output.js';
import { type ResourceFlags, resourceOverrides } from './overrides.js';

interface EstimateArgs extends GlobalOptions, ResourceFlags {
  dir?: string;
  duration?: string;
  provider?: string;
  region?: string;
  compare?: boolean;
  limit: number;
}

const usd = (value: number | null) =>
  value === null ? '-' : `$${value < 0.01 ? value.toFixed(5) : value.toFixed(4)}`;

export const estimateCommand: CommandSpec<EstimateArgs> = {
  command: 'estimate [dir]',
  describe: 'Price a blueprint or a resource request from the offline catalog; creates nothing',
  positionals: {
    dir: { type: 'string', describe: 'Blueprint directory (default: . when it has one)' },
  },
  options: {
    cpu: { type: 'number', describe: 'vCPUs' },
    memory: { type: 'number', describe: 'Memory in GB' },
    storage: { type: 'number', describe: 'Disk in GB' },
    gpu: { type: 'number', describe: 'Number of GPUs' },
    'gpu-model': {
      type: 'string',
      describe: 'GPU model, e.g. A100 (A100-80GB for the 80 GB part)',
    },
    spot: {
      type: 'boolean',
      describe: 'Price spot capacity where the catalog knows its price',
    },
    duration: { type: 'string', describe: 'How long it would run (default 24h)' },
    provider: { type: 'string', describe: 'Only this cloud: aws, gcp or azure' },
    region: { type: 'string', describe: 'Only this region' },
    compare: { type: 'boolean', describe: 'Rank every provider × region × instance that fits' },
    limit: {
      type: 'number',
      default: 10,
      describe: 'Rows shown (all of them in --json with --compare)',
    },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const manager = await context.manager();
    const result = await manager.estimate({
      blueprintDir: argv.dir,
      ...resourceOverrides(argv),
      duration: argv.duration,
      provider: argv.provider,
      region: argv.region,
      compare: argv.compare,
      // The table shows --limit rows; only --json --compare needs every option.
      limit: argv.json && argv.compare ? undefined : argv.limit,
    });
    const { spec } = result;
    context.print(
      {
        spec: result.spec,
        cheapest: result.cheapest,
        options: result.options,
        catalogVersion: result.catalogVersion,
      },
      () => {
        const want = `${spec.cpu} vCPU, ${spec.memoryGb} GB${spec.gpuCount ? `, ${spec.gpuCount}× ${spec.gpuModel ?? 'GPU'}` : ''}${spec.spot ? ', spot' : ''}`;
        if (!result.cheapest) return `nothing in the catalog fits ${want}`;
        const shown = result.options.slice(0, argv.limit);
        const lines = [
          table(
            [
              'PROVIDER',
              'REGION',
              'INSTANCE',
              'VCPU',
              'MEM GB',
              'GPU',
              'PER HOUR',
              `FOR ${argv.duration ?? '24h'}`,
              'NOTE',
            ],
            shown.map((option) => [
              option.provider,
              option.region,
              option.instanceType,
              String(option.vcpus),
              String(option.memoryGb),
              option.gpuCount ? `${option.gpuCount}× ${option.gpuModel ?? '?'}` : '-',
              usd(option.hourlyUsd),
              usd(option.totalUsd),
              [
                option.spot ? 'spot' : spec.spot && !option.spotPriceKnown ? 'no spot price known' : '',
                option.sharedCore ? 'shared core' : option.burstable ? 'burstable' : '',
                option.suspect ? 'price suspect' : '',
              ]
                .filter(Boolean)
                .join(', '),
            ]),
          ),
        ];
        if (shown.length === argv.limit) {
          lines.push(`(the ${argv.limit} cheapest: --limit N for more, --json --compare for all)`);
        }
        const best = result.cheapest;
        lines.push(
          `cheapest for ${want}: ${best.provider} ${best.region} ${best.instanceType} at ${usd(best.hourlyUsd)}/h, ${usd(best.totalUsd)} for ${argv.duration ?? '24h'}, ${usd(best.monthlyUsd)}/month` +
            (best.storageUsd === null || spec.storageGb === 0
              ? ''
              : ` (+ ${usd(best.storageUsd)} for ${spec.storageGb} GB disk)`),
          ...best.notes.map((note) => `note: ${note}`),
          `prices from catalog ${result.catalogVersion} (bp catalog info)`,
        );
        return lines.join('\n');
      },
    );
    return EXIT.ok;
  },
};
