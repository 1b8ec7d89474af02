import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { table } from '../output.js';

interface CatalogArgs extends GlobalOptions {
  action: string;
  from?: string;
  force?: boolean;
  provider?: string;
  region?: string[];
  endpoint?: string;
  'api-key-env'?: string;
}

export const catalogCommand: CommandSpec<CatalogArgs> = {
  command: 'catalog [action]',
  describe: "The price catalog: 'info', 'update --from FILE', or 'refresh --provider P' from the cloud's API",
  positionals: {
    action: { type: 'string', default: 'info', choices: ['info', 'update', 'refresh'] },
  },
  options: {
    provider: { type: 'string', describe: 'refresh: aws, azure or gcp' },
    region: {
      type: 'string',
      array: true,
      describe: 'refresh: regions to price (AWS default us-east-1)',
    },
    endpoint: { type: 'string', describe: "refresh: the pricing API's URL, e.g. a mirror" },
    'api-key-env': {
      type: 'string',
      describe: 'refresh gcp: variable holding the API key (GOOGLE_API_KEY)',
    },
    from: {
      type: 'string',
      describe: 'A catalog file (as built by bp) to validate and install',
    },
    force: { type: 'boolean', describe: 'Install even if it is older than the one in use' },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const manager = await context.manager();
    if (argv.action === 'refresh') {
      if (!argv.provider) throw new UsageError('catalog refresh: --provider aws|azure|gcp is required');
      context.progress.step(`reading ${argv.provider}'s pricing API`);
      const refreshed = await manager.refreshCatalog({
        provider: argv.provider,
        regions: argv.region?.map(String),
        endpoint: argv.endpoint,
        apiKeyVariable: argv['api-key-env'],
        signal: context.signal,
      });
      context.progress.done();
      context.print(
        refreshed,
        () =>
          `installed catalog ${refreshed.version} at ${refreshed.path}: ${refreshed.rows} ${refreshed.provider} rows from ${refreshed.requests} requests`,
      );
      return EXIT.ok;
    }
    if (argv.action === 'update') {
      if (!argv.from) throw new UsageError('catalog update: --from FILE is required');
      const installed = await manager.installCatalog(argv.from, { force: argv.force });
      context.print(
        installed,
        () =>
          `installed catalog ${installed.version} at ${installed.path}${installed.active ? '' : ` (not used: the shipped ${installed.shippedVersion} is newer)`}`,
      );
      return EXIT.ok;
    }
    const info = await manager.catalogInfo();
    context.print(info, () =>
      [
        `catalog ${info.version} (${info.origin}, ${info.path}, ${Math.round(info.bytes / 1024)} KiB)`,
        `data from ${info.oldestDataDate} to ${info.newestDataDate} (${info.ageDays} days old), ${info.rows} rows`,
        table(
          [
            'PROVIDER',
            'DATA DATE',
            'ROWS',
            'TYPES',
            'REGIONS',
            'PRICED',
            'NO PRICE',
            'NO SPECS',
            'SPOT',
            'SUSPECT',
          ],
          Object.entries(info.providers).map(([name, provider]) => [
            name,
            provider.dataDate,
            String(provider.rows),
            String(provider.instanceTypes),
            String(provider.regions),
            String(provider.priced),
            String(provider.noPrice),
            String(provider.noSpecs),
            String(provider.withSpot),
            String(provider.suspect),
          ]),
        ),
        ...info.warnings.map((warning) => `warning: ${warning}`),
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
