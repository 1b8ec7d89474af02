import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ValidationError } from '@bp/provider';
import type { ValidatedDocuments } from '@bp/resources';

/** Provider types bp knows; each is backed by a `@bp/provider-<type>` package (local is built in). */
export const PROVIDER_TYPES = ['local', 'docker', 'ssh', 'kubernetes', 'aws', 'gcp', 'azure'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** Where a target's credentials come from; never the credentials themselves. */
export type CredentialsSource =
  | { type: 'env'; prefix: string }
  | { type: 'file'; path: string }
  | { type: 'command'; cmd: string };

/** A target from cloud.toml: `type` picks the provider; other keys are the provider's settings. */
export interface TargetConfig {
  type: ProviderType;
  region?: string;
  regions?: string[];
  default_region?: string;
  credentials?: CredentialsSource;
  [setting: string]: unknown;
}

/** The parsed cloud.toml. */
export interface CloudConfig {
  default_target?: string;
  defaults?: { ttl?: string; spot?: boolean; max_hourly_usd?: number; wait_timeout?: string };
  targets?: Record<string, TargetConfig>;
  policy?: { gpu?: string[]; cpu_intensive?: string[]; cost_optimized?: string[] };
  /** A monthly budget (`bp alert`): deploys that would exceed it are refused; running ones are checked. */
  budget?: { monthly_limit_usd: number; action?: 'notify' | 'terminate' };
}

// zod loads only when there is a cloud.toml to check, so commands without one start faster.
async function cloudConfigSchema() {
  const z = (await import('@bp/resources')).loadZod();
  const credentials = z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('env'), prefix: z.string().min(1) }),
    z.strictObject({ type: z.literal('file'), path: z.string().min(1) }),
    z.strictObject({ type: z.literal('command'), cmd: z.string().min(1) }),
  ]);
  // Targets keep provider-specific keys (hosts, kubeconfig, tls...): each provider validates its own.
  const target = z.looseObject({
    type: z.enum(PROVIDER_TYPES),
    region: z.string().optional(),
    regions: z.array(z.string()).optional(),
    default_region: z.string().optional(),
    credentials: credentials.optional(),
  });
  return z.strictObject({
    default_target: z.string().optional(),
    defaults: z
      .strictObject({
        ttl: z.string().min(1).optional(),
        spot: z.boolean().optional(),
        max_hourly_usd: z.number().positive().optional(),
        wait_timeout: z.string().min(1).optional(),
      })
      .optional(),
    targets: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,63}$/), target).optional(),
    policy: z
      .strictObject({
        gpu: z.array(z.string()).optional(),
        cpu_intensive: z.array(z.string()).optional(),
        cost_optimized: z.array(z.string()).optional(),
      })
      .optional(),
    budget: z
      .strictObject({
        monthly_limit_usd: z.number().positive(),
        action: z.enum(['notify', 'terminate']).optional(),
      })
      .optional(),
  });
}

/**
 * Reads cloud.toml; a missing file is an empty configuration. Refusals name the file, key path and reason.
 * With `documents`, a text validated before is not parsed again.
 */
export async function loadCloudConfig(
  file: string,
  options: { documents?: () => Promise<ValidatedDocuments> } = {},
): Promise<CloudConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ValidationError({ file, reason: `cannot read: ${(error as Error).message}` });
  }
  const documents = await options.documents?.();
  const known = documents?.get(file, text) as CloudConfig | undefined;
  if (known) return known;
  const config = await parseCloudConfig(text, file);
  documents?.set(file, text, config);
  return config;
}

/** Parses cloud.toml text. */
export async function parseCloudConfig(text: string, file: string): Promise<CloudConfig> {
  const { parse, TomlError } = (await import('@bp/resources')).loadToml();
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    const reason =
      error instanceof TomlError
        ? `invalid TOML at line ${error.line}, column ${error.column}`
        : `invalid TOML: ${(error as Error).message}`;
    throw new ValidationError({ file, reason });
  }
  const result = (await cloudConfigSchema()).safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    let reason = issue.message;
    if (issue.code === 'unrecognized_keys')
      reason = `unknown key ${issue.keys.map((key) => `'${key}'`).join(', ')}`;
    throw new ValidationError({ file, path: path || undefined, reason });
  }
  const config = result.data as CloudConfig;
  if (
    config.default_target &&
    config.default_target !== 'local' &&
    !config.targets?.[config.default_target]
  ) {
    throw new ValidationError({
      file,
      path: 'default_target',
      reason: `names target '${config.default_target}', which is not defined under [targets]`,
    });
  }
  return config;
}

/** What `bp configure` writes for one target. */
export interface TargetUpdate {
  name: string;
  type: ProviderType;
  region?: string;
  credentials?: CredentialsSource;
  setDefault?: boolean;
}

/**
 * Adds or updates one target in cloud.toml, keeping everything else. The file
 * names where credentials come from, never their values; it is still written 0600.
 */
export async function writeTarget(file: string, update: TargetUpdate): Promise<CloudConfig> {
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(update.name)) {
    throw new ValidationError({
      path: '--target',
      reason: `'${update.name}' must be 1-63 letters, digits, '-' or '_'`,
    });
  }
  const config = await loadCloudConfig(file);
  const targets = { ...config.targets };
  const existing = targets[update.name];
  if (existing && existing.type !== update.type) {
    throw new ValidationError({
      file,
      path: `targets.${update.name}.type`,
      reason: `target '${update.name}' already has type ${existing.type}; remove it first to change its type`,
    });
  }
  const target: TargetConfig = { ...existing, type: update.type };
  if (update.region) {
    if (update.type === 'aws' || update.type === 'gcp' || update.type === 'azure')
      target.default_region = update.region;
    else target.region = update.region;
  }
  if (update.credentials) target.credentials = update.credentials;
  targets[update.name] = target;
  const next: CloudConfig = { ...config, targets };
  if (update.setDefault) next.default_target = update.name;
  await writeCloudConfig(file, next);
  return next;
}

/** Stores the monthly budget of `bp alert` in cloud.toml, keeping everything else. */
export async function writeBudget(
  file: string,
  budget: { monthlyLimitUsd: number; action?: 'notify' | 'terminate' },
): Promise<CloudConfig> {
  if (!Number.isFinite(budget.monthlyLimitUsd) || budget.monthlyLimitUsd <= 0) {
    throw new ValidationError({
      path: '--monthly-limit',
      reason: `'${budget.monthlyLimitUsd}' must be a positive amount of USD`,
    });
  }
  const config = await loadCloudConfig(file);
  const next: CloudConfig = {
    ...config,
    budget: {
      monthly_limit_usd: budget.monthlyLimitUsd,
      action: budget.action ?? config.budget?.action ?? 'notify',
    },
  };
  await writeCloudConfig(file, next);
  return next;
}

/** Writes cloud.toml atomically (0600), after checking it with the same rules as a read. */
async function writeCloudConfig(file: string, config: CloudConfig): Promise<void> {
  const { stringify } = (await import('@bp/resources')).loadToml();
  const text = stringify(config);
  await parseCloudConfig(text, file);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${text}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
