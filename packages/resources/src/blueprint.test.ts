import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBlueprint, parseBlueprint, toWorkload } from './blueprint.js';
import { caught, expectValidationError, rejection, temporaryDirectory } from './test-helpers.js';

const HELLO_DIR = resolve(import.meta.dirname, '../../../examples/hello');
const FILE = '/blueprints/api/Blueprint.toml';
const DIR = '/blueprints/api';

const VALID = `
[package]
name = "api"
version = "1.2.3"

[blueprint]
image = "127.0.0.1:5000/api:1"
command = ["node", "server.js"]
port = 8080
health = "/health"
env = { GREETING = "hi", WORKERS = 4, DEBUG = false }

[blueprint.secrets]
DB_PASSWORD = { env = "API_DB_PASSWORD" }
TOKEN = { file = "~/.secrets/token" }

[blueprint.resources]
min_cpu = 1
min_memory_gb = 1
min_storage_gb = 10
recommended_cpu = 2
recommended_memory_gb = 4
recommended_storage_gb = 20
gpu_count = 1
gpu_model = "A100"
allow_spot = true
`;

/** VALID with one line replaced (or, when `from` is absent from it, `to` appended to the resources table). */
function variant(from: string, to: string): string {
  return VALID.includes(from) ? VALID.replace(from, to) : `${VALID}${to}\n`;
}

describe('parseBlueprint', () => {
  it('reads every field of a valid Blueprint.toml', () => {
    expect(parseBlueprint(VALID, FILE, DIR)).toEqual({
      name: 'api',
      version: '1.2.3',
      dir: DIR,
      file: FILE,
      image: '127.0.0.1:5000/api:1',
      command: ['node', 'server.js'],
      port: 8080,
      healthPath: '/health',
      env: { GREETING: 'hi', WORKERS: '4', DEBUG: 'false' },
      secrets: { DB_PASSWORD: { env: 'API_DB_PASSWORD' }, TOKEN: { file: '~/.secrets/token' } },
      resources: {
        minCpu: 1,
        minMemoryGb: 1,
        minStorageGb: 10,
        recommendedCpu: 2,
        recommendedMemoryGb: 4,
        recommendedStorageGb: 20,
        gpuCount: 1,
        gpuModel: 'A100',
        allowSpot: true,
      },
    });
  });

  it('applies defaults: gpu_count 0, allow_spot false, empty env and secrets', () => {
    const blueprint = parseBlueprint(
      '[package]\nname = "x"\n[blueprint]\nimage = "x:1"\nport = 80\nhealth = "/"\n' +
        '[blueprint.resources]\nmin_cpu = 0.5\nmin_memory_gb = 0.5\nmin_storage_gb = 1\n',
      'Blueprint.toml',
      '.',
    );
    expect(blueprint.resources).toMatchObject({ gpuCount: 0, allowSpot: false, minCpu: 0.5 });
    expect(blueprint).toMatchObject({
      env: {},
      secrets: {},
      dir: process.cwd(),
      file: resolve('Blueprint.toml'),
    });
    expect(blueprint.command).toBeUndefined();
  });

  it('reports a TOML syntax error with its line and column', () => {
    const error = expectValidationError(
      caught(() => parseBlueprint('[package]\nname = "x"\nport = = 3\n', FILE, DIR)),
      { file: FILE, reason: /^invalid TOML at line 3, column \d+: / },
    );
    expect(error.message).toMatch(/line 3, column \d+/);
  });

  const refusals: [string, string, string, string][] = [
    // [case, replace this, with this, expected path: expected reason]
    ['unknown top-level key', '[package]', 'owner = "me"\n[package]', 'owner: unknown key'],
    ['unknown package key', 'version = "1.2.3"', 'license = "MIT"', 'package.license: unknown key'],
    ['unknown blueprint key', 'port = 8080', 'port = 8080\nreplicas = 2', 'blueprint.replicas: unknown key'],
    ['misspelt resources key', 'min_cpu = 1', 'min_cpus = 1', 'blueprint.resources.min_cpus: unknown key'],
    [
      'unknown secret key',
      '{ env = "API_DB_PASSWORD" }',
      '{ env = "API_DB_PASSWORD", default = "x" }',
      'blueprint.secrets.DB_PASSWORD.default: unknown key',
    ],
    ['missing [package]', '[package]\nname = "api"\nversion = "1.2.3"', '', 'package: required'],
    ['missing package.name', 'name = "api"', '', 'package.name: required'],
    [
      'package.name with capitals',
      'name = "api"',
      'name = "Api"',
      'package.name: must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    ],
    [
      'package.name starting with -',
      'name = "api"',
      'name = "-api"',
      'package.name: must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    ],
    [
      'package.name ending with -',
      'name = "api"',
      'name = "api-"',
      'package.name: must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    ],
    [
      'package.name of 64 characters',
      'name = "api"',
      `name = "${'a'.repeat(64)}"`,
      'package.name: must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    ],
    [
      'package.name empty',
      'name = "api"',
      'name = ""',
      'package.name: must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    ],
    ['version not a string', 'version = "1.2.3"', 'version = 1', 'package.version: expected a string, got 1'],
    ['port 0', 'port = 8080', 'port = 0', 'blueprint.port: must be 1 to 65535'],
    ['port 65536', 'port = 8080', 'port = 65536', 'blueprint.port: must be 1 to 65535'],
    ['port as a string', 'port = 8080', 'port = "8080"', 'blueprint.port: expected an integer, got a string'],
    ['port fractional', 'port = 8080', 'port = 80.5', 'blueprint.port: expected an integer, got 80.5'],
    ['missing port', 'port = 8080', '', 'blueprint.port: required'],
    [
      'health without /',
      'health = "/health"',
      'health = "health"',
      'blueprint.health: must be an HTTP path starting with /',
    ],
    [
      'neither image nor command',
      'image = "127.0.0.1:5000/api:1"\ncommand = ["node", "server.js"]',
      '',
      'blueprint: needs image or command (at least one)',
    ],
    [
      'empty image',
      'image = "127.0.0.1:5000/api:1"',
      'image = ""',
      'blueprint.image: must be a non-empty image reference without spaces',
    ],
    [
      'command as a string',
      'command = ["node", "server.js"]',
      'command = "node server.js"',
      'blueprint.command: expected an array of strings, e.g. ["node", "server.js"]',
    ],
    [
      'command empty',
      'command = ["node", "server.js"]',
      'command = []',
      'blueprint.command: must name a program: ["program", "argument", ...]',
    ],
    [
      'command with a number',
      'command = ["node", "server.js"]',
      'command = ["node", 3]',
      'blueprint.command[1]: expected a string, got 3',
    ],
    [
      'command with an empty program',
      'command = ["node", "server.js"]',
      'command = ["", "x"]',
      'blueprint.command: the program (first element) must not be empty',
    ],
    [
      'env as an array',
      'env = { GREETING = "hi", WORKERS = 4, DEBUG = false }',
      'env = ["A=1"]',
      'blueprint.env: expected a table, got an array',
    ],
    [
      'env value fractional',
      'WORKERS = 4',
      'WORKERS = 1.10',
      'blueprint.env.WORKERS: expected a string (quote numbers that are not whole, e.g. "1.10", so they keep their written form)',
    ],
    [
      'env value a table',
      'WORKERS = 4',
      'WORKERS = { a = 1 }',
      'blueprint.env.WORKERS: expected a string (quote numbers that are not whole, e.g. "1.10", so they keep their written form)',
    ],
    [
      'env name with a dot',
      'WORKERS = 4',
      '"A.B" = "x"',
      'blueprint.env."A.B": not a valid environment variable name',
    ],
    [
      'env sets PORT',
      'WORKERS = 4',
      'PORT = 3000',
      'blueprint.env.PORT: PORT is set by bp from blueprint.port',
    ],
    [
      'secret as a plain value',
      '{ env = "API_DB_PASSWORD" }',
      '"hunter2"',
      'blueprint.secrets.DB_PASSWORD: expected { env = "VARIABLE" } or { file = "path" }: name where the secret comes from, never its value',
    ],
    [
      'secret with no source',
      '{ env = "API_DB_PASSWORD" }',
      '{}',
      'blueprint.secrets.DB_PASSWORD: needs exactly one of env and file',
    ],
    [
      'secret with two sources',
      '{ env = "API_DB_PASSWORD" }',
      '{ env = "A", file = "b" }',
      'blueprint.secrets.DB_PASSWORD: needs exactly one of env and file',
    ],
    [
      'secret env not a variable name',
      '{ env = "API_DB_PASSWORD" }',
      '{ env = "API-DB" }',
      'blueprint.secrets.DB_PASSWORD.env: not a valid environment variable name',
    ],
    [
      'secret file empty',
      '{ file = "~/.secrets/token" }',
      '{ file = "" }',
      'blueprint.secrets.TOKEN.file: must not be empty',
    ],
    [
      'secret also in env',
      'TOKEN = { file',
      'GREETING = { file',
      'blueprint.secrets.GREETING: GREETING is also set in blueprint.env',
    ],
    ['resources misnamed', '[blueprint.resources]', '[blueprint.limits]', 'blueprint.limits: unknown key'],
    ['missing min_cpu', 'min_cpu = 1', '', 'blueprint.resources.min_cpu: required'],
    ['negative min_cpu', 'min_cpu = 1', 'min_cpu = -1', 'blueprint.resources.min_cpu: must be above 0'],
    [
      'zero min_memory_gb',
      'min_memory_gb = 1',
      'min_memory_gb = 0',
      'blueprint.resources.min_memory_gb: must be above 0',
    ],
    [
      'zero min_storage_gb',
      'min_storage_gb = 10',
      'min_storage_gb = 0',
      'blueprint.resources.min_storage_gb: must be above 0',
    ],
    [
      'negative recommended_cpu',
      'recommended_cpu = 2',
      'recommended_cpu = -2',
      'blueprint.resources.recommended_cpu: must be above 0',
    ],
    [
      'min_cpu as a string',
      'min_cpu = 1',
      'min_cpu = "1"',
      'blueprint.resources.min_cpu: expected a number, got a string',
    ],
    [
      'min_cpu infinite',
      'min_cpu = 1',
      'min_cpu = inf',
      'blueprint.resources.min_cpu: expected a number, got Infinity',
    ],
    [
      'min_cpu a date',
      'min_cpu = 1',
      'min_cpu = 2024-01-01',
      'blueprint.resources.min_cpu: expected a number, got a date',
    ],
    [
      'min_cpu above recommended',
      'min_cpu = 1',
      'min_cpu = 4',
      'blueprint.resources.min_cpu: 4 is above recommended_cpu 2',
    ],
    [
      'min_memory_gb above recommended',
      'min_memory_gb = 1',
      'min_memory_gb = 8',
      'blueprint.resources.min_memory_gb: 8 is above recommended_memory_gb 4',
    ],
    [
      'min_storage_gb above recommended',
      'min_storage_gb = 10',
      'min_storage_gb = 30',
      'blueprint.resources.min_storage_gb: 30 is above recommended_storage_gb 20',
    ],
    [
      'fractional gpu_count',
      'gpu_count = 1',
      'gpu_count = 1.5',
      'blueprint.resources.gpu_count: expected an integer, got 1.5',
    ],
    [
      'negative gpu_count',
      'gpu_count = 1',
      'gpu_count = -1',
      'blueprint.resources.gpu_count: must be 0 or more',
    ],
    [
      'gpu_model without gpu_count',
      'gpu_count = 1',
      '',
      'blueprint.resources.gpu_model: needs gpu_count of 1 or more',
    ],
    [
      'gpu_model with gpu_count 0',
      'gpu_count = 1',
      'gpu_count = 0',
      'blueprint.resources.gpu_model: needs gpu_count of 1 or more',
    ],
    [
      'allow_spot as a string',
      'allow_spot = true',
      'allow_spot = "yes"',
      'blueprint.resources.allow_spot: expected a boolean (true or false), got a string',
    ],
  ];

  it.each(refusals)('refuses %s', (_case, from, to, expected) => {
    const [path, reason] = expected.split(/: (.*)/s) as [string, string];
    expectValidationError(
      caught(() => parseBlueprint(variant(from, to), FILE, DIR)),
      { file: FILE, path, reason },
    );
  });

  it('refuses a blueprint without [blueprint.resources]', () => {
    expectValidationError(
      caught(() => parseBlueprint(VALID.split('[blueprint.resources]')[0]!, FILE, DIR)),
      { file: FILE, path: 'blueprint.resources', reason: 'required' },
    );
  });

  it('never echoes a string value, which might be a pasted secret', () => {
    const error = caught(() =>
      parseBlueprint(variant('{ env = "API_DB_PASSWORD" }', '"s3cr3t-value"'), FILE, DIR),
    );
    expect(String((error as Error).message)).not.toContain('s3cr3t-value');
  });
});

describe('loadBlueprint', () => {
  it('loads examples/hello', async () => {
    const blueprint = await loadBlueprint(HELLO_DIR);
    expect(blueprint).toMatchObject({
      name: 'hello',
      version: '0.1.0',
      dir: HELLO_DIR,
      file: join(HELLO_DIR, 'Blueprint.toml'),
      command: ['node', 'server.js'],
      port: 8080,
      healthPath: '/health',
      env: { GREETING: 'hi' },
      resources: { minCpu: 0.25, recommendedCpu: 1, recommendedMemoryGb: 0.5, allowSpot: true, gpuCount: 0 },
    });
  });

  it('prefers Blueprint.toml over package.json', async () => {
    const dir = await temporaryDirectory();
    await writeFile(join(dir, 'Blueprint.toml'), VALID);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'other', blueprint: {} }));
    expect((await loadBlueprint(dir)).name).toBe('api');
  });

  const blueprintField = {
    image: 'web:1',
    port: 3000,
    health: '/up',
    env: { MODE: 'production' },
    resources: { min_cpu: 1, min_memory_gb: 2, min_storage_gb: 5 },
  };

  it('reads the "blueprint" field of package.json, taking name and version from package.json', async () => {
    const dir = await temporaryDirectory();
    const file = join(dir, 'package.json');
    await writeFile(
      file,
      JSON.stringify({ name: '@acme/web', version: '2.0.0', blueprint: { blueprint: blueprintField } }),
    );
    expect(await loadBlueprint(dir)).toMatchObject({
      name: 'web',
      version: '2.0.0',
      dir,
      file,
      image: 'web:1',
      port: 3000,
      healthPath: '/up',
      env: { MODE: 'production' },
      resources: { minCpu: 1, minMemoryGb: 2, minStorageGb: 5, gpuCount: 0, allowSpot: false },
    });
  });

  it('uses the package section of the "blueprint" field when it has one', async () => {
    const dir = await temporaryDirectory();
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'ignored',
        version: '9.9.9',
        blueprint: { package: { name: 'web' }, blueprint: blueprintField },
      }),
    );
    const blueprint = await loadBlueprint(dir);
    expect(blueprint.name).toBe('web');
    expect(blueprint.version).toBeUndefined();
  });

  it('points package.json errors at the key inside package.json', async () => {
    const dir = await temporaryDirectory();
    const file = join(dir, 'package.json');
    const resources = { ...blueprintField.resources, min_cpu: 0 };
    await writeFile(
      file,
      JSON.stringify({ name: 'web', blueprint: { blueprint: { ...blueprintField, resources } } }),
    );
    expectValidationError(await rejection(loadBlueprint(dir)), {
      file,
      path: 'blueprint.blueprint.resources.min_cpu',
      reason: 'must be above 0',
    });

    await writeFile(file, JSON.stringify({ name: 'Web App', blueprint: { blueprint: blueprintField } }));
    expectValidationError(await rejection(loadBlueprint(dir)), {
      file,
      path: 'name',
      reason: 'must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
    });

    await writeFile(
      file,
      JSON.stringify({ name: 'web', blueprint: { blueprint: { ...blueprintField, env: [] } } }),
    );
    expectValidationError(await rejection(loadBlueprint(dir)), {
      file,
      path: 'blueprint.blueprint.env',
      reason: 'expected an object, got an array',
    });

    await writeFile(file, '{ "name": ');
    expectValidationError(await rejection(loadBlueprint(dir)), { file, reason: /^invalid JSON: / });
  });

  it('refuses a missing directory, a file, and a directory without a manifest, naming the directory', async () => {
    const dir = await temporaryDirectory();
    const missing = join(dir, 'missing');
    expectValidationError(await rejection(loadBlueprint(missing)), {
      file: missing,
      reason: 'directory not found',
    });

    await writeFile(join(dir, 'file.txt'), '');
    expectValidationError(await rejection(loadBlueprint(join(dir, 'file.txt'))), {
      file: join(dir, 'file.txt'),
      reason: 'not a directory',
    });

    const noManifest = 'no Blueprint.toml, and no "blueprint" field in package.json';
    expectValidationError(await rejection(loadBlueprint(dir)), { file: dir, reason: noManifest });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'web' }));
    expectValidationError(await rejection(loadBlueprint(dir)), { file: dir, reason: noManifest });
  });

  it('reports TOML syntax errors and schema errors with the absolute file', async () => {
    const dir = await temporaryDirectory();
    const file = join(dir, 'Blueprint.toml');
    await writeFile(file, '[package]\nname = "x"\n[blueprint\n');
    expectValidationError(await rejection(loadBlueprint(dir)), {
      file,
      reason: /^invalid TOML at line 3, column \d+: /,
    });
    await writeFile(file, variant('port = 8080', 'port = -1'));
    expectValidationError(await rejection(loadBlueprint(dir)), {
      file,
      path: 'blueprint.port',
      reason: 'must be 1 to 65535',
    });
  });

  it('resolves a relative directory', async () => {
    const dir = await temporaryDirectory();
    await mkdir(join(dir, 'svc'));
    await writeFile(join(dir, 'svc', 'Blueprint.toml'), VALID);
    const relative = join(dir, 'svc', '..', 'svc');
    expect((await loadBlueprint(relative)).dir).toBe(join(dir, 'svc'));
  });
});

describe('toWorkload', () => {
  it('describes what runs, for a provider', () => {
    const blueprint = parseBlueprint(VALID, FILE, DIR);
    const workload = toWorkload(blueprint);
    expect(workload).toEqual({
      image: '127.0.0.1:5000/api:1',
      command: ['node', 'server.js'],
      workingDirectory: DIR,
      port: 8080,
      healthPath: '/health',
      env: { GREETING: 'hi', WORKERS: '4', DEBUG: 'false' },
    });
    workload.env.EXTRA = 'x';
    expect(blueprint.env.EXTRA).toBeUndefined();
  });

  it('omits image when the blueprint has only a command', async () => {
    const dir = await temporaryDirectory();
    await writeFile(
      join(dir, 'Blueprint.toml'),
      '[package]\nname = "native"\n[blueprint]\ncommand = ["node", "server.js"]\nport = 8080\nhealth = "/health"\n[blueprint.resources]\nmin_cpu = 1\nmin_memory_gb = 1\nmin_storage_gb = 1\n',
    );
    const workload = toWorkload(await loadBlueprint(dir));
    expect('image' in workload).toBe(false);
    expect(workload.command).toEqual(['node', 'server.js']);
  });

  it('keeps both image and command when the blueprint has both (examples/hello)', async () => {
    const workload = toWorkload(await loadBlueprint(HELLO_DIR));
    expect(workload.image).toBe('127.0.0.1:5000/bp-examples/hello:1');
    expect(workload.command).toEqual(['node', 'server.js']);
  });
});
