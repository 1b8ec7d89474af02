import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { registryOf } from './map-docker-error.js';

/** Credentials for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** What dockerode sends as X-Registry-Auth. */
export interface AuthConfig extends RegistryCredentials {
  serveraddress: string;
}

const DOCKER_HUB_ALIASES = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'https://index.docker.io/v1/',
];

/**
 * Credentials for the registry of `image`: from the settings (keyed by registry host), else from the
 * `auths` of $DOCKER_CONFIG/config.json (~/.docker/config.json), as written by `docker login`. Credential
 * helpers (`credsStore`) are not run. Undefined when none is known: the pull goes anonymous.
 */
export async function registryAuthFor(
  image: string,
  configured: Record<string, RegistryCredentials> | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AuthConfig | undefined> {
  const registry = registryOf(image);
  const keys =
    registry === 'docker.io' ? DOCKER_HUB_ALIASES : [registry, `https://${registry}`, `http://${registry}`];
  for (const key of keys) {
    const found = configured?.[key];
    if (found) return { username: found.username, password: found.password, serveraddress: registry };
  }
  const configPath = join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
  let auths: Record<string, { auth?: string; username?: string; password?: string }> = {};
  try {
    auths = (JSON.parse(await readFile(configPath, 'utf8')) as { auths?: typeof auths }).auths ?? {};
  } catch {
    return undefined;
  }
  for (const key of keys) {
    const entry = auths[key];
    if (!entry) continue;
    if (entry.username && entry.password) {
      return { username: entry.username, password: entry.password, serveraddress: registry };
    }
    const decoded = entry.auth ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      return {
        username: decoded.slice(0, colon),
        password: decoded.slice(colon + 1),
        serveraddress: registry,
      };
    }
  }
  return undefined;
}
