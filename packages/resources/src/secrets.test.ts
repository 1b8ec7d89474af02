import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Blueprint, SecretRef } from './blueprint.js';
import { resolveSecrets } from './secrets.js';
import { expectValidationError, rejection, temporaryDirectory } from './test-helpers.js';

const SECRET = 'pa55-w0rd-never-shown';

function blueprintWith(dir: string, secrets: Record<string, SecretRef>): Blueprint {
  return {
    name: 'api',
    dir,
    file: join(dir, 'Blueprint.toml'),
    image: 'api:1',
    port: 8080,
    healthPath: '/health',
    env: {},
    secrets,
    resources: { minCpu: 1, minMemoryGb: 1, minStorageGb: 1, gpuCount: 0, allowSpot: false },
  };
}

describe('resolveSecrets', () => {
  it('reads secrets from environment variables and files, with ~ as the home directory', async () => {
    const home = await temporaryDirectory();
    const dir = await temporaryDirectory();
    await mkdir(join(home, '.secrets'));
    await writeFile(join(home, '.secrets', 'token'), `${SECRET}-token\n`);
    await writeFile(join(dir, 'local.key'), 'local\r\n');
    const blueprint = blueprintWith(dir, {
      DB_PASSWORD: { env: 'API_DB_PASSWORD' },
      TOKEN: { file: '~/.secrets/token' },
      LOCAL: { file: 'local.key' },
      ABSOLUTE: { file: join(home, '.secrets', 'token') },
    });
    expect(await resolveSecrets(blueprint, { HOME: home, API_DB_PASSWORD: SECRET })).toEqual({
      DB_PASSWORD: SECRET,
      TOKEN: `${SECRET}-token`,
      LOCAL: 'local',
      ABSOLUTE: `${SECRET}-token`,
    });
  });

  it('uses an injected file reader', async () => {
    const read: string[] = [];
    const blueprint = blueprintWith('/srv/api', { TOKEN: { file: '~/token' } });
    const values = await resolveSecrets(blueprint, { HOME: '/home/me' }, async (path) => {
      read.push(path);
      return 'from-reader';
    });
    expect(values).toEqual({ TOKEN: 'from-reader' });
    expect(read).toEqual(['/home/me/token']);
  });

  it('has nothing to do without secrets', async () => {
    expect(await resolveSecrets(blueprintWith('/srv/api', {}), {})).toEqual({});
  });

  it('refuses a missing or empty variable, naming the secret and the variable', async () => {
    const blueprint = blueprintWith('/srv/api', { DB_PASSWORD: { env: 'API_DB_PASSWORD' } });
    for (const environment of [{}, { API_DB_PASSWORD: '' }]) {
      expectValidationError(await rejection(resolveSecrets(blueprint, environment)), {
        file: '/srv/api/Blueprint.toml',
        path: 'blueprint.secrets.DB_PASSWORD',
        reason: 'environment variable API_DB_PASSWORD is not set or empty',
      });
    }
  });

  it('refuses an unreadable or empty file, naming the secret and the file', async () => {
    const home = await temporaryDirectory();
    const blueprint = blueprintWith(home, { TOKEN: { file: '~/missing' } });
    expectValidationError(await rejection(resolveSecrets(blueprint, { HOME: home })), {
      file: join(home, 'Blueprint.toml'),
      path: 'blueprint.secrets.TOKEN',
      reason: 'cannot read file ~/missing (ENOENT)',
    });
    await writeFile(join(home, 'empty'), '\n');
    const empty = blueprintWith(home, { TOKEN: { file: 'empty' } });
    expectValidationError(await rejection(resolveSecrets(empty, {})), {
      file: join(home, 'Blueprint.toml'),
      path: 'blueprint.secrets.TOKEN',
      reason: 'file empty is empty',
    });
  });

  it('never puts a secret value in an error message', async () => {
    const dir = await temporaryDirectory();
    await writeFile(join(dir, 'token'), SECRET);
    const blueprint = blueprintWith(dir, {
      A_FROM_ENV: { env: 'A_SOURCE' },
      B_FROM_FILE: { file: 'token' },
      C_MISSING: { env: 'C_SOURCE' },
    });
    const error = await rejection(resolveSecrets(blueprint, { A_SOURCE: SECRET }));
    expectValidationError(error, {
      file: join(dir, 'Blueprint.toml'),
      path: 'blueprint.secrets.C_MISSING',
      reason: 'environment variable C_SOURCE is not set or empty',
    });
    const leaking = async () => {
      throw new Error(`reader failed on content ${SECRET}`);
    };
    const fromReader = await rejection(
      resolveSecrets(blueprintWith(dir, { B: { file: 'token' } }), {}, leaking),
    );
    for (const candidate of [error, fromReader]) {
      const validation = candidate as Error;
      expect(validation.message).not.toContain(SECRET);
      expect(JSON.stringify(validation)).not.toContain(SECRET);
      expect(validation.cause).toBeUndefined();
    }
  });
});
