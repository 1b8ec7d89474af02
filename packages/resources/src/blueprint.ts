import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { ValidationError, type WorkloadV1 } from '@bp/provider';
import type * as SmolToml from 'smol-toml';
import type { z } from 'zod';
import { type ManifestSyntax, manifestError, manifestErrorMap } from './manifest-errors.js';
import { loadZod, type ResourceSpec, resourceSpecSchema } from './resource-spec.js';
import type { ValidatedDocuments } from './validated-documents.js';

/** Where a secret's value comes from: an environment variable or a file (`~` is the home directory). Never the value. */
export type SecretRef = { env: string } | { file: string };

/** A validated blueprint: what to run, how to reach and check it, and what it needs. */
export interface Blueprint {
  /** `package.name`: `[a-z0-9-]`, 1 to 63 characters, not starting or ending with `-`. */
  name: string;
  /** `package.version`, when given. */
  version?: string;
  /** Absolute path of the blueprint's directory; native commands run here. */
  dir: string;
  /** Absolute path of the manifest that was read (Blueprint.toml or package.json). */
  file: string;
  /** Container image reference. At least one of `image` and `command` is set. */
  image?: string;
  /** Native command and arguments, run without a shell. */
  command?: string[];
  /** The port the service listens on (1 to 65535). */
  port: number;
  /** HTTP path that answers 2xx when healthy; starts with `/`. */
  healthPath: string;
  /** Plain environment settings (no secrets). */
  env: Record<string, string>;
  /** Secret environment variables by name, and where each value comes from. */
  secrets: Record<string, SecretRef>;
  /** The compute the blueprint needs. */
  resources: ResourceSpec;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
function buildBlueprintDocumentSchema() {
  const z = loadZod();
  const envName = () => z.string().regex(ENV_NAME, { error: 'not a valid environment variable name' });

  const SecretRefSchema = z
    .strictObject(
      { env: envName().optional(), file: z.string().min(1, { error: 'must not be empty' }).optional() },
      {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? 'expected { env = "VARIABLE" } or { file = "path" }: name where the secret comes from, never its value'
            : undefined,
      },
    )
    .refine((ref) => (ref.env === undefined) !== (ref.file === undefined), {
      error: 'needs exactly one of env and file',
    })
    .transform((ref): SecretRef => (ref.env !== undefined ? { env: ref.env } : { file: ref.file! }));

  const EnvValueSchema = z.union([z.string(), z.boolean(), z.int()], {
    error:
      'expected a string (quote numbers that are not whole, e.g. "1.10", so they keep their written form)',
  });

  /**
   * Validates a whole manifest document: `[package]` and `[blueprint]` with its
   * `env`, `secrets` and `resources` tables, keys as written in Blueprint.toml.
   * Env values may be strings, booleans or integers; booleans and integers become
   * strings. Other numbers are refused because TOML would drop how they were
   * written (`1.10` reads back as `1.1`).
   */
  return z.strictObject({
    package: z.strictObject({
      name: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
        error: 'must be 1 to 63 characters of a-z, 0-9 and -, not starting or ending with -',
      }),
      version: z.string().optional(),
    }),
    blueprint: z
      .strictObject({
        image: z
          .string()
          .regex(/^\S+$/, { error: 'must be a non-empty image reference without spaces' })
          .optional(),
        command: z
          .array(z.string(), {
            error: (issue) =>
              issue.code === 'invalid_type'
                ? 'expected an array of strings, e.g. ["node", "server.js"]'
                : undefined,
          })
          .min(1, { error: 'must name a program: ["program", "argument", ...]' })
          .refine((command) => command[0] !== '', { error: 'the program (first element) must not be empty' })
          .optional(),
        port: z.int().min(1, { error: 'must be 1 to 65535' }).max(65535, { error: 'must be 1 to 65535' }),
        health: z.string().startsWith('/', { error: 'must be an HTTP path starting with /' }),
        env: z.record(envName(), EnvValueSchema.transform(String)).default({}),
        secrets: z.record(envName(), SecretRefSchema).default({}),
        resources: resourceSpecSchema(),
      })
      .superRefine((blueprint, context) => {
        if (blueprint.image === undefined && blueprint.command === undefined) {
          context.addIssue({ code: 'custom', path: [], message: 'needs image or command (at least one)' });
        }
        // bp sets PORT itself (see PRODUCT.md), so a blueprint that sets it would be overridden silently.
        for (const table of ['env', 'secrets'] as const) {
          if (Object.hasOwn(blueprint[table], 'PORT')) {
            context.addIssue({
              code: 'custom',
              path: [table, 'PORT'],
              message: 'PORT is set by bp from blueprint.port',
            });
          }
        }
        for (const name of Object.keys(blueprint.secrets)) {
          if (Object.hasOwn(blueprint.env, name)) {
            context.addIssue({
              code: 'custom',
              path: ['secrets', name],
              message: `${name} is also set in blueprint.env`,
            });
          }
        }
      }),
  });
}

let blueprintDocumentSchemaCache: ReturnType<typeof buildBlueprintDocumentSchema> | undefined;

/** The zod schema of a whole manifest document (see {@link parseBlueprint}); built on first use. */
export function blueprintDocumentSchema(): ReturnType<typeof buildBlueprintDocumentSchema> {
  blueprintDocumentSchemaCache ??= buildBlueprintDocumentSchema();
  return blueprintDocumentSchemaCache;
}

type BlueprintDocument = z.output<ReturnType<typeof buildBlueprintDocumentSchema>>;

function validateDocument(
  document: unknown,
  file: string,
  syntax: ManifestSyntax,
  mapPath?: (path: PropertyKey[]) => PropertyKey[],
): BlueprintDocument {
  const result = blueprintDocumentSchema().safeParse(document, { error: manifestErrorMap(syntax) });
  if (!result.success) throw manifestError(result.error.issues, file, mapPath);
  return result.data;
}

function toBlueprint(document: BlueprintDocument, file: string, dir: string): Blueprint {
  const { blueprint } = document;
  return {
    name: document.package.name,
    version: document.package.version,
    dir,
    file,
    image: blueprint.image,
    command: blueprint.command,
    port: blueprint.port,
    healthPath: blueprint.health,
    env: blueprint.env,
    secrets: blueprint.secrets,
    resources: blueprint.resources,
  };
}

/**
 * Parses and validates Blueprint.toml text. `file` and `dir` are made absolute.
 * Throws a ValidationError naming the file and either the line and column of a
 * TOML syntax error or the key path (e.g. `blueprint.resources.min_cpu`) and
 * reason of the first invalid value.
 */
export function parseBlueprint(text: string, file: string, dir: string): Blueprint {
  const absoluteFile = resolve(file);
  const { parse: parseToml, TomlError } = loadToml();
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // smol-toml's message repeats the position and appends a code excerpt; keep the first line's reason.
    const detail = error.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
    throw new ValidationError({
      file: absoluteFile,
      reason: `invalid TOML at line ${error.line}, column ${error.column}: ${detail}`,
      cause: error,
    });
  }
  return toBlueprint(validateDocument(document, absoluteFile, 'toml'), absoluteFile, resolve(dir));
}

/** smol-toml, loaded on first use (its single-file CommonJS build loads fastest); cloud.toml uses it too. */
export function loadToml(): typeof SmolToml {
  toml ??= createRequire(import.meta.url)('smol-toml') as typeof SmolToml;
  return toml;
}
let toml: typeof SmolToml | undefined;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new ValidationError({
      file,
      reason: `cannot read (${(error as NodeJS.ErrnoException).code})`,
      cause: error,
    });
  }
}

/**
 * Reads `"blueprint"` from package.json: the same shape as Blueprint.toml
 * (`{ "package": {...}, "blueprint": {...} }`). When it has no `package`, the
 * name comes from package.json's `name` (an npm scope such as `@acme/` removed)
 * and the version from its `version`. Error paths point into package.json:
 * `blueprint.blueprint.port`, or `name` for a defaulted name.
 */
function parsePackageJson(text: string, file: string, dir: string): Blueprint | undefined {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new ValidationError({ file, reason: `invalid JSON: ${(error as Error).message}`, cause: error });
  }
  if (typeof manifest !== 'object' || manifest === null || !('blueprint' in manifest)) return undefined;
  const {
    blueprint: field,
    name,
    version,
  } = manifest as { blueprint: unknown; name?: unknown; version?: unknown };
  const defaultsPackage =
    typeof field === 'object' && field !== null && !Array.isArray(field) && !('package' in field);
  const document = defaultsPackage
    ? {
        package: { name: typeof name === 'string' ? name.replace(/^@[^/]+\//, '') : name, version },
        ...field,
      }
    : field;
  const mapPath = (path: PropertyKey[]) =>
    defaultsPackage && path[0] === 'package' ? path.slice(1) : ['blueprint', ...path];
  return toBlueprint(validateDocument(document, file, 'json', mapPath), file, dir);
}

/**
 * Loads the blueprint in `dir`: `dir/Blueprint.toml`, or when that file does not
 * exist, the `"blueprint"` field of `dir/package.json` (see the package README).
 * Throws a ValidationError naming the directory when it or a manifest is missing,
 * and the file, key path and reason when the manifest is invalid. With `documents`, a manifest whose
 * text was validated before is not parsed again.
 */
export async function loadBlueprint(
  dir: string,
  options: { documents?: ValidatedDocuments } = {},
): Promise<Blueprint> {
  const { documents } = options;
  const absoluteDir = resolve(dir);
  const info = await stat(absoluteDir).catch((error: unknown) => {
    if (isMissing(error)) throw new ValidationError({ file: absoluteDir, reason: 'directory not found' });
    throw error;
  });
  if (!info.isDirectory()) throw new ValidationError({ file: absoluteDir, reason: 'not a directory' });

  const tomlFile = join(absoluteDir, 'Blueprint.toml');
  const toml = await readOptional(tomlFile);
  if (toml !== undefined) {
    const known = documents?.get(tomlFile, toml) as Blueprint | undefined;
    if (known) return known;
    const blueprint = parseBlueprint(toml, tomlFile, absoluteDir);
    documents?.set(tomlFile, toml, blueprint);
    return blueprint;
  }

  const packageFile = join(absoluteDir, 'package.json');
  const packageJson = await readOptional(packageFile);
  if (packageJson === undefined) throw noManifest(absoluteDir);
  const known = documents?.get(packageFile, packageJson) as Blueprint | undefined;
  if (known) return known;
  const blueprint = parsePackageJson(packageJson, packageFile, absoluteDir);
  if (!blueprint) throw noManifest(absoluteDir);
  documents?.set(packageFile, packageJson, blueprint);
  return blueprint;
}

function noManifest(absoluteDir: string): ValidationError {
  return new ValidationError({
    file: absoluteDir,
    reason: 'no Blueprint.toml, and no "blueprint" field in package.json',
  });
}

/** The provider-facing description of what runs: image, command (run in the blueprint's directory), port, health path, env. */
export function toWorkload(blueprint: Blueprint): WorkloadV1 {
  const workload: WorkloadV1 = {
    workingDirectory: blueprint.dir,
    port: blueprint.port,
    healthPath: blueprint.healthPath,
    env: { ...blueprint.env },
  };
  if (blueprint.image !== undefined) workload.image = blueprint.image;
  if (blueprint.command !== undefined) workload.command = [...blueprint.command];
  return workload;
}
