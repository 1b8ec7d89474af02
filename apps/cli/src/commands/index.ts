import type { CommandSpec } from '../command-spec.js';
import type { GlobalOptions } from '../context.js';
import { alertCommand } from './alert.js';
import { catalogCommand } from './catalog.js';
import { configureCommand } from './configure.js';
import { costsCommand } from './costs.js';
import { deployCommand } from './deploy.js';
import { estimateCommand } from './estimate.js';
import { logsCommand } from './logs.js';
import { monitorCommand } from './monitor.js';
import { providersCommand } from './providers.js';
import { reconcileCommand } from './reconcile.js';
import { statusCommand } from './status.js';
import { terminateCommand } from './terminate.js';

/** Every command, by the name it is invoked with, in the order help lists them. */
export const COMMANDS = {
  deploy: deployCommand,
  estimate: estimateCommand,
  status: statusCommand,
  logs: logsCommand,
  terminate: terminateCommand,
  configure: configureCommand,
  providers: providersCommand,
  costs: costsCommand,
  alert: alertCommand,
  catalog: catalogCommand,
  reconcile: reconcileCommand,
  monitor: monitorCommand,
} as unknown as Record<string, CommandSpec<GlobalOptions>>;
