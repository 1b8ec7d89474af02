import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { table } from '../output.js';

interface CostsArgs extends GlobalOptions {
  since: string;
}

export const costsCommand: CommandSpec<CostsArgs> = {
  command: 'costs',
  describe: 'Accrued cost per deployment from real start and stop times, and the budget',
  options: {
    since: { type: 'string', default: '30d', describe: 'How far back, e.g. 7d, 12h' },
  },
  run: async (argv) => {
    const { parseDuration } = await import('@bp/resources');
    const since = new Date(Date.now() - parseDuration(argv.since, '--since'));
    const context = createContext(argv);
    const manager = await context.manager();
    const report = await manager.costs({ since });
    const iso = (date: Date | undefined) => date?.toISOString() ?? null;
    context.print(
      {
        since: report.since.toISOString(),
        totalUsd: report.totalUsd,
        deployments: report.deployments.map((entry) => ({
          ...entry,
          billedFrom: iso(entry.billedFrom),
          billedTo: iso(entry.billedTo),
        })),
        budget: report.budget ?? null,
      },
      () => {
        const lines = [
          table(
            ['ID', 'NAME', 'TARGET', 'STATUS', 'PRICE/H', 'HOURS', 'ACCRUED', 'IN WINDOW'],
            report.deployments.map((entry) => [
              entry.id,
              entry.name,
              entry.target,
              entry.status,
              `$${entry.hourlyUsd.toFixed(4)}`,
              entry.hours.toFixed(3),
              `$${entry.accruedUsd.toFixed(4)}`,
              `$${entry.sinceUsd.toFixed(4)}`,
            ]),
          ),
          `total since ${report.since.toISOString()}: $${report.totalUsd.toFixed(4)}`,
        ];
        if (report.budget) {
          const budget = report.budget;
          lines.push(
            `budget ${budget.month}: $${budget.monthToDateUsd.toFixed(2)} of $${budget.monthlyLimitUsd.toFixed(2)} (${budget.percentUsed.toFixed(1)} %), projected $${budget.projectedUsd.toFixed(2)}, action ${budget.action}`,
          );
        }
        return lines.join('\n');
      },
    );
    return EXIT.ok;
  },
};
