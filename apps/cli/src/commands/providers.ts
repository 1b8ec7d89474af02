import type { CommandSpec } from '../command-spec.js';
import { createContext, type GlobalOptions } from '../context.js';
import { EXIT } from '../errors.js';
import { table } from '../output.js';

interface ProviderReport {
  provider: string;
  installed: boolean;
  configured: boolean;
  targets: string[];
  credentials: 'found' | 'missing' | 'not needed' | 'unknown';
  reachable: boolean | null;
  detail?: string;
}

export const providersCommand: CommandSpec<GlobalOptions> = {
  command: 'providers',
  describe: 'Each provider: installed, configured, credentials found, reachable',
  run: async (argv) => {
    const context = createContext(argv);
    const { PROVIDER_TYPES, isProviderInstalled } = await import('@bp/manager');
    const manager = await context.manager();
    const targets = await manager.targets();
    const reports: ProviderReport[] = await Promise.all(
      PROVIDER_TYPES.map(async (type) => {
        const names = targets.filter((target) => target.type === type).map((target) => target.name);
        const installed = isProviderInstalled(type);
        const report: ProviderReport = {
          provider: type,
          installed,
          configured: names.length > 0,
          targets: names,
          credentials: type === 'local' ? 'not needed' : 'unknown',
          reachable: null,
        };
        if (!installed || names.length === 0) return report;
        try {
          const provider = await manager.providerFor(names[0]!);
          await provider.getAvailableResources({ signal: AbortSignal.timeout(5000) });
          report.reachable = true;
        } catch (error) {
          report.reachable = false;
          report.detail = error instanceof Error ? error.message : String(error);
        }
        return report;
      }),
    );
    const yesNo = (value: boolean | null) => (value === null ? '-' : value ? 'yes' : 'no');
    context.print(reports, () =>
      table(
        ['PROVIDER', 'INSTALLED', 'CONFIGURED', 'CREDENTIALS', 'REACHABLE', 'TARGETS'],
        reports.map((report) => [
          report.provider,
          yesNo(report.installed),
          yesNo(report.configured),
          report.credentials,
          yesNo(report.reachable),
          report.targets.join(', ') || '-',
        ]),
      ),
    );
    return EXIT.ok;
  },
};
