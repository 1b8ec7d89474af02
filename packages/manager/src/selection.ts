import { type ResourceRequestV1, ValidationError } from '@bp/provider';
import { type CloudConfig, PROVIDER_TYPES } from './cloud-config.js';

/** Requests of at least this many vCPUs use `[policy] cpu_intensive`. */
export const CPU_INTENSIVE_VCPUS = 4;

/** A place a deploy can go: a name and its provider type. */
export interface TargetName {
  name: string;
  type: string;
  /** This machine or its Docker engine: the places bp uses with no configuration. */
  builtIn?: boolean;
}

/** Where a deploy may go, in the order to try. */
export interface CandidatePlan {
  /**
   * Target names in groups, tried group by group; a `byPrice` group (`cheapest`,
   * `--auto-select`) is ordered by price once each target has priced the request.
   */
  groups: { targets: string[]; byPrice: boolean }[];
  /** `explicit`, `auto-select`, `policy:<list>`, `default` or `first`. */
  basis: string;
  /** Policy entries that name nothing configured, with the reason (recorded as attempts). */
  skipped: { entry: string; reason: string }[];
}

/** The `[policy]` list for a request: gpu, cpu_intensive, else cost_optimized. */
export function policyListFor(
  config: CloudConfig,
  resources: ResourceRequestV1,
): { name: string; entries: string[] } | undefined {
  const policy = config.policy;
  if (!policy) return undefined;
  if (resources.gpuCount > 0 && policy.gpu) return { name: 'gpu', entries: policy.gpu };
  if (resources.cpu >= CPU_INTENSIVE_VCPUS && policy.cpu_intensive) {
    return { name: 'cpu_intensive', entries: policy.cpu_intensive };
  }
  if (policy.cost_optimized) return { name: 'cost_optimized', entries: policy.cost_optimized };
  return undefined;
}

/** `--target NAME` or `--provider TYPE` against the known targets. */
function explicitTarget(targets: TargetName[], request: { target?: string; provider?: string }): TargetName {
  if (request.target) {
    const target = targets.find((candidate) => candidate.name === request.target);
    if (!target) {
      const known = targets.map((candidate) => candidate.name).join(', ');
      throw new ValidationError({
        path: '--target',
        reason: `no target named '${request.target}' (known: ${known})`,
      });
    }
    if (request.provider && target.type !== request.provider) {
      throw new ValidationError({
        path: '--provider',
        reason: `target '${target.name}' is of type ${target.type}, not ${request.provider}`,
      });
    }
    return target;
  }
  const target = targets.find((candidate) => candidate.type === request.provider);
  if (target) return target;
  if (!(PROVIDER_TYPES as readonly string[]).includes(request.provider!)) {
    throw new ValidationError({
      path: '--provider',
      reason: `unknown provider '${request.provider}' (known: ${PROVIDER_TYPES.join(', ')})`,
    });
  }
  throw new ValidationError({
    path: '--provider',
    reason: `no target of type ${request.provider} in cloud.toml; add one with 'bp configure --provider ${request.provider}'`,
  });
}

/**
 * Orders the places a deploy may go. Precedence: `--target`/`--provider`, then
 * `--auto-select` (every target, cheapest first), then the `[policy]` list for the
 * request's class (entries are target names, provider types, or `cheapest`), then
 * `default_target`, then the built-in targets (this machine, then its Docker engine) or the
 * first injected provider.
 */
export function planCandidates(
  config: CloudConfig,
  targets: TargetName[],
  request: { target?: string; provider?: string; autoSelect?: boolean },
  resources: ResourceRequestV1,
): CandidatePlan {
  if (request.target || request.provider) {
    return {
      groups: [{ targets: [explicitTarget(targets, request).name], byPrice: false }],
      basis: 'explicit',
      skipped: [],
    };
  }
  const names = targets.map((target) => target.name);
  if (request.autoSelect)
    return { groups: [{ targets: names, byPrice: true }], basis: 'auto-select', skipped: [] };
  const list = policyListFor(config, resources);
  if (list) {
    const groups: CandidatePlan['groups'] = [];
    const skipped: CandidatePlan['skipped'] = [];
    for (const entry of list.entries) {
      if (entry === 'cheapest') {
        groups.push({ targets: names, byPrice: true });
        continue;
      }
      const named = targets.filter((target) => target.name === entry);
      const matches = named.length > 0 ? named : targets.filter((target) => target.type === entry);
      if (matches.length === 0) {
        skipped.push({
          entry,
          reason: `policy.${list.name} names '${entry}', which is no configured target or provider`,
        });
        continue;
      }
      groups.push({ targets: matches.map((target) => target.name), byPrice: false });
    }
    return { groups, basis: `policy:${list.name}`, skipped };
  }
  if (config.default_target) {
    return {
      groups: [
        { targets: [explicitTarget(targets, { target: config.default_target }).name], byPrice: false },
      ],
      basis: 'default',
      skipped: [],
    };
  }
  // Nothing configured: this machine, then its Docker engine for image-only blueprints (or the first injected provider).
  const first = targets[0];
  const fallback =
    first && !first.builtIn && first.name !== 'local'
      ? [first.name]
      : ['local', 'docker'].filter((name) => targets.some((target) => target.name === name));
  return { groups: [{ targets: fallback, byPrice: false }], basis: 'first', skipped: [] };
}
