import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type RemoteProviderV1, UnsupportedCapabilityError, ValidationError } from '@bp/provider';
import type { CloudConfig, ProviderType, TargetConfig } from './cloud-config.js';
import { expandHome } from './paths.js';

/** A named place to deploy to: a cloud.toml target or a built-in one. */
export interface ResolvedTarget {
  name: string;
  type: ProviderType;
  settings: TargetConfig;
  /** Built in (this machine, its Docker engine) rather than from cloud.toml. */
  builtIn?: boolean;
}

/** The built-in target: this machine. Always available, needs no configuration. */
export const LOCAL_TARGET: ResolvedTarget = {
  name: 'local',
  type: 'local',
  settings: { type: 'local' },
  builtIn: true,
};

/** The built-in target for this machine's Docker engine, present when one is reachable by socket or DOCKER_HOST. */
export const LOCAL_DOCKER_TARGET: ResolvedTarget = {
  name: 'docker',
  type: 'docker',
  settings: { type: 'docker' },
  builtIn: true,
};

function localDockerEngine(environment: NodeJS.ProcessEnv): boolean {
  return Boolean(environment.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

/**
 * Every target: cloud.toml's, then the built-in ones cloud.toml does not shadow:
 * `local` (this machine) and, when a Docker engine is here, `docker`.
 */
export function listTargets(
  config: CloudConfig,
  environment: NodeJS.ProcessEnv = process.env,
): ResolvedTarget[] {
  const targets: ResolvedTarget[] = Object.entries(config.targets ?? {}).map(([name, settings]) => ({
    name,
    type: settings.type,
    settings,
  }));
  const builtIns = localDockerEngine(environment) ? [LOCAL_TARGET, LOCAL_DOCKER_TARGET] : [LOCAL_TARGET];
  for (const builtIn of builtIns) {
    if (!targets.some((target) => target.name === builtIn.name)) targets.push(builtIn);
  }
  return targets;
}

/** Context a provider factory gets from the manager. */
export interface ProviderContext {
  /** bp's state directory; providers with local state keep it under here. */
  stateDir: string;
}

function optionalString(target: ResolvedTarget, key: string): string | undefined {
  const value = target.settings[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new ValidationError({
      path: `targets.${target.name}.${key}`,
      reason: 'expected a non-empty string',
    });
  }
  return value;
}

/** cloud.toml's docker target keys → @bp/provider-docker settings. */
function dockerSettings(target: ResolvedTarget) {
  const tls = target.settings.tls as Record<string, unknown> | undefined;
  if (tls !== undefined && (typeof tls !== 'object' || tls === null)) {
    throw new ValidationError({ path: `targets.${target.name}.tls`, reason: 'expected { ca, cert, key }' });
  }
  const path = (key: string) => {
    const value = tls?.[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string')
      throw new ValidationError({
        path: `targets.${target.name}.tls.${key}`,
        reason: 'expected a file path',
      });
    return expandHome(value);
  };
  const ttlImage = target.settings.ttl_image;
  if (ttlImage !== undefined && typeof ttlImage !== 'string' && ttlImage !== false) {
    throw new ValidationError({
      path: `targets.${target.name}.ttl_image`,
      reason: 'expected an image reference, or false',
    });
  }
  return {
    host: optionalString(target, 'host'),
    socketPath: optionalString(target, 'socket'),
    publishHost: optionalString(target, 'publish_host'),
    tls: tls ? { ca: path('ca')!, cert: path('cert'), key: path('key') } : undefined,
    ttlSidecarImage: ttlImage as string | false | undefined,
  };
}

/** cloud.toml's ssh target keys → @bp/provider-ssh settings. Secrets are named, never written: `passphrase_env`. */
function sshSettings(target: ResolvedTarget, environment: NodeJS.ProcessEnv) {
  const where = (key: string) => `targets.${target.name}.${key}`;
  const hosts = target.settings.hosts;
  if (
    !Array.isArray(hosts) ||
    hosts.length === 0 ||
    !hosts.every((host) => typeof host === 'string' && host)
  ) {
    throw new ValidationError({
      path: where('hosts'),
      reason: 'expected a list of one or more host names or addresses',
    });
  }
  const runtime = target.settings.runtime;
  if (runtime !== undefined && runtime !== 'docker' && runtime !== 'native') {
    throw new ValidationError({
      path: where('runtime'),
      reason: `expected "docker" or "native", got ${JSON.stringify(runtime)}`,
    });
  }
  const port = target.settings.port;
  if (port !== undefined && !(Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536)) {
    throw new ValidationError({ path: where('port'), reason: 'expected a port number' });
  }
  const trust = target.settings.trust_unknown_host_keys;
  if (trust !== undefined && typeof trust !== 'boolean') {
    throw new ValidationError({ path: where('trust_unknown_host_keys'), reason: 'expected true or false' });
  }
  const passphraseVariable = optionalString(target, 'passphrase_env');
  if (passphraseVariable && environment[passphraseVariable] === undefined) {
    throw new ValidationError({
      path: where('passphrase_env'),
      reason: `names ${passphraseVariable}, which is not set`,
    });
  }
  const key = optionalString(target, 'key');
  const knownHosts = optionalString(target, 'known_hosts');
  return {
    hosts: hosts as string[],
    user: optionalString(target, 'user'),
    key: key && expandHome(key),
    knownHosts: knownHosts && expandHome(knownHosts),
    port: port as number | undefined,
    jumpHost: optionalString(target, 'jump_host'),
    runtime: runtime as 'docker' | 'native' | undefined,
    trustUnknownHostKeys: trust as boolean | undefined,
    passphrase: passphraseVariable ? environment[passphraseVariable] : undefined,
  };
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
  if (target.type === 'docker') {
    const { createDockerProvider } = await import('@bp/provider-docker');
    // What a deploy learns of the engine's info, for the deploys of the next hour (see its cacheDir).
    return createDockerProvider({ ...dockerSettings(target), cacheDir: join(context.stateDir, 'cache') });
  }
  if (target.type === 'ssh') {
    const { createSshProvider } = await import('@bp/provider-ssh');
    return createSshProvider(sshSettings(target, process.env));
  }
  throw new UnsupportedCapabilityError({
    provider: target.type,
    capability: 'deploy',
    message: `target '${target.name}' has type ${target.type}, whose provider package @bp/provider-${target.type} is not available in this version of bp`,
  });
}

/** Whether a provider type's package can be loaded here. */
export function isProviderInstalled(type: ProviderType): boolean {
  return type === 'local' || type === 'docker' || type === 'ssh';
}
