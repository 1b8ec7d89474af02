import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT, UsageError } from '../errors.js';

interface ConfigureArgs extends GlobalOptions {
  target?: string;
  provider?: string;
  region?: string;
  'credentials-file'?: string;
  'credentials-env'?: string;
  'credentials-command'?: string;
  'set-default'?: boolean;
}

type Answers = Pick<ConfigureArgs, 'target' | 'provider' | 'region' | 'credentials-env' | 'set-default'>;

async function ask(providerTypes: readonly string[]): Promise<Answers> {
  const { createInterface } = await import('node:readline/promises');
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const provider = (await readline.question(`provider (${providerTypes.join(', ')}): `)).trim();
    const target = (await readline.question(`target name [${provider}]: `)).trim() || provider;
    const region = (await readline.question('region (empty for none): ')).trim() || undefined;
    const prefix = (
      await readline.question('credentials from environment variables with prefix (empty for none): ')
    ).trim();
    const setDefault = /^y/i.test((await readline.question('make it the default target? [y/N] ')).trim());
    return { provider, target, region, 'credentials-env': prefix || undefined, 'set-default': setDefault };
  } finally {
    readline.close();
  }
}

export const configureCommand: CommandSpec<ConfigureArgs> = {
  command: 'configure',
  describe: 'Add or change a target in cloud.toml (asks when run without flags)',
  options: {
    target: { type: 'string', describe: 'Target name (default: the provider name)' },
    provider: { type: 'string', describe: 'Provider type of the target' },
    region: { type: 'string', describe: 'Default region' },
    'credentials-file': { type: 'string', describe: 'Read credentials from this file' },
    'credentials-env': {
      type: 'string',
      describe: 'Read credentials from variables with this prefix',
    },
    'credentials-command': { type: 'string', describe: 'Run this command to get credentials' },
    'set-default': { type: 'boolean', describe: 'Make this the default target' },
  },
  conflicts: [
    ['credentials-file', ['credentials-env', 'credentials-command']],
    ['credentials-env', 'credentials-command'],
  ],
  run: async (argv) => {
    const context = createContext(argv);
    const { PROVIDER_TYPES, resolvePaths, writeTarget } = await import('@bp/manager');
    let answers: ConfigureArgs | Answers = argv;
    if (!argv.provider && !argv.target) {
      if (!context.interactive) {
        throw new UsageError(
          'configure: pass --provider (and --target NAME), or run it in a terminal to be asked',
        );
      }
      answers = await ask(PROVIDER_TYPES);
    }
    const paths = resolvePaths();
    const { loadCloudConfig } = await import('@bp/manager');
    const existing = answers.target
      ? (await loadCloudConfig(paths.cloudConfig)).targets?.[answers.target]
      : undefined;
    const provider = answers.provider ?? existing?.type;
    if (!provider) throw new UsageError('configure: --provider is required for a new target');
    if (!(PROVIDER_TYPES as readonly string[]).includes(provider)) {
      throw new UsageError(
        `configure: --provider: unknown provider '${provider}' (known: ${PROVIDER_TYPES.join(', ')})`,
      );
    }
    const credentials = argv['credentials-file']
      ? ({ type: 'file', path: argv['credentials-file'] } as const)
      : answers['credentials-env']
        ? ({ type: 'env', prefix: answers['credentials-env'] } as const)
        : argv['credentials-command']
          ? ({ type: 'command', cmd: argv['credentials-command'] } as const)
          : undefined;
    const name = answers.target ?? provider;
    const config = await writeTarget(paths.cloudConfig, {
      name,
      type: provider as (typeof PROVIDER_TYPES)[number],
      region: answers.region,
      credentials,
      setDefault: answers['set-default'],
    });
    context.print(
      { file: paths.cloudConfig, target: name, ...config },
      () => `wrote target '${name}' to ${paths.cloudConfig}`,
    );
    return EXIT.ok;
  },
};
