import { join } from 'node:path';
import { type RemoteProviderV1, UnsupportedCapabilityError } from '@bp/provider';
import type { CloudConfig, ProviderType, TargetConfig } from './cloud-config.js';

/** A named place to deploy to: a cloud.toml target or the built-in `local`. */
export interface ResolvedTarget {
  name: string;
  type: ProviderType;
  settings: TargetConfig;
}

/** The built-in target: this machine. Always available, needs no configuration. */
export const LOCAL_TARGET: ResolvedTarget = { name: 'local', type: 'local', settings: { type: 'local' } };

/** Every target: cloud.toml's plus `local` (unless cloud.toml defines its own `local`). */
export function listTargets(config: CloudConfig): ResolvedTarget[] {
  const targets = Object.entries(config.targets ?? {}).map(([name, settings]) => ({
    name,
    type: settings.type,
    settings,
  }));
  if (!targets.some((target) => target.name === 'local')) targets.push(LOCAL_TARGET);
  return targets;
}

/** Context a provider factory gets from the manager. */
export interface ProviderContext {
  /** bp's state directory; providers with local state keep it under here. */
  stateDir: string;
}

/**
 * Creates the provider for a target. Provider packages load lazily, so a
 * command that never touches a cloud never loads its SDK.
 */
export async function createProviderForTarget(
  target: ResolvedTarget,
  context: ProviderContext,
): Promise<RemoteProviderV1> {
  if (target.type === 'local') {
    const { createLocalProvider } = await import('@bp/provider-local');
    return createLocalProvider({ stateDir: join(context.stateDir, 'local') });
  }
  throw new UnsupportedCapabilityError({
    provider: target.type,
    capability: 'deploy',
    message: `target '${target.name}' has type ${target.type}, whose provider package @bp/provider-${target.type} is not available in this version of bp`,
  });
}

/** Whether a provider type's package can be loaded here. */
export function isProviderInstalled(type: ProviderType): boolean {
  return type === 'local';
}
