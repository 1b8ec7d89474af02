import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where bp keeps its configuration and state. */
export interface BpPaths {
  /** `$BP_HOME`: cloud.toml lives here. */
  home: string;
  /** Directory of the tracker database and local instances: `$BP_STATE`, else `$BP_HOME`. */
  stateDir: string;
  /** The tracker database file. */
  database: string;
  /** cloud.toml. */
  cloudConfig: string;
}

/** Resolves bp's paths from the environment: BP_HOME, else `$XDG_CONFIG_HOME/bp`, else `~/.config/bp`. */
export function resolvePaths(environment: NodeJS.ProcessEnv = process.env): BpPaths {
  const home = resolve(
    environment.BP_HOME || join(environment.XDG_CONFIG_HOME || join(homedir(), '.config'), 'bp'),
  );
  const stateDir = resolve(environment.BP_STATE || home);
  return { home, stateDir, database: join(stateDir, 'state.db'), cloudConfig: join(home, 'cloud.toml') };
}

/** Expands a leading `~/` to the user's home directory. */
export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}
