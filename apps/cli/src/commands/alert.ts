import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';

interface AlertArgs extends GlobalOptions {
  'monthly-limit': number;
  action?: 'notify' | 'terminate';
}

export const alertCommand: CommandSpec<AlertArgs> = {
  command: 'alert',
  describe: 'Set a monthly budget, enforced before deploy and while running',
  options: {
    'monthly-limit': {
      type: 'number',
      demandOption: true,
      describe: 'USD per calendar month (UTC)',
    },
    action: {
      choices: ['notify', 'terminate'] as const,
      describe: 'At 100 %: only warn, or terminate billing deployments newest first (default notify)',
    },
  },
  run: async (argv) => {
    const context = createContext(argv);
    const { resolvePaths, writeBudget } = await import('@bp/manager');
    const paths = resolvePaths();
    const config = await writeBudget(paths.cloudConfig, {
      monthlyLimitUsd: argv['monthly-limit'],
      action: argv.action,
    });
    context.print(
      { file: paths.cloudConfig, budget: config.budget },
      () =>
        `budget: $${config.budget!.monthly_limit_usd} a month, action ${config.budget!.action}; warnings at 50, 80 and 100 % (in ${paths.cloudConfig})`,
    );
    return EXIT.ok;
  },
};
