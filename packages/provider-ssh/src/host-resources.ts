// What each host can offer (CPUs, available memory, free disk where instances live), read in one survey with
// what the host holds of a deployment id, and the choice of a host.
import { type BpError, CapacityError, type ResourceRequestV1 } from '@bp/provider';
import { PROVIDER } from './map-ssh-error.js';

/** Free resources of one host, as read over SSH. */
export interface HostResources {
  cpu: number;
  /** MemAvailable, GiB. */
  memoryGb: number;
  /** Free disk where instances (or the Docker engine's data) live, GiB. */
  storageGb: number;
  /** Why the host cannot take a deployment at all (no Docker engine, a missing tool). */
  unfit: string[];
}

/** Shell lines shared by every remote script: where instances live, and how a process is recognised as ours. */
export const PRELUDE = `
instances="$HOME/.bp/instances"
ours() { [ -n "$1" ] && tr '\\000' '\\n' < "/proc/$1/environ" 2>/dev/null | grep -qxF "BP_DEPLOYMENT_ID=$2"; }
`;

/** What a runtime adds to the survey of a host. */
export interface SurveyParts {
  /** Shell lines printing `disk KiB` (free where the runtime keeps its data) and `unfit REASON` lines. */
  resourceChecks: string;
  /** Shell function `describe ID`: prints what the host holds of the id, nothing when it holds nothing. */
  describeFunction: string;
}

const SURVEY_SEPARATOR = '---';

/**
 * One round trip per host: its resources (`cpu N`, `memory KiB`, the runtime's `disk` and `unfit` lines),
 * then a `---` line, then what `describe` prints for the deployment id in $1 (if one is given).
 */
export function surveyScript(parts: SurveyParts): string {
  return `${PRELUDE}${parts.describeFunction}
resources() {
  printf 'cpu %s\\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"
  awk '/^MemAvailable:/ { print "memory", $2 }' /proc/meminfo 2>/dev/null
${parts.resourceChecks}}
# The id is described while the resources are read: both may wait on the Docker engine.
if [ -n "$1" ]; then describe "$1"; fi | { resources; echo ${SURVEY_SEPARATOR}; cat; }
`;
}

/** The survey's output: the resources, and what `describe` printed. */
export function parseSurvey(output: string): { resources: HostResources; description: string } {
  const lines = output.split('\n');
  const separator = lines.indexOf(SURVEY_SEPARATOR);
  return {
    resources: parseResources(lines.slice(0, separator < 0 ? undefined : separator).join('\n')),
    description: separator < 0 ? '' : lines.slice(separator + 1).join('\n'),
  };
}

export function parseResources(output: string): HostResources {
  const resources: HostResources = { cpu: 0, memoryGb: 0, storageGb: 0, unfit: [] };
  for (const line of output.split('\n')) {
    const [field, ...rest] = line.trim().split(' ');
    const value = Number(rest[0]);
    if (field === 'cpu' && Number.isFinite(value)) resources.cpu = value;
    if (field === 'memory' && Number.isFinite(value)) resources.memoryGb = kibToGib(value);
    if (field === 'disk' && Number.isFinite(value)) resources.storageGb = kibToGib(value);
    if (field === 'unfit') resources.unfit.push(rest.join(' '));
  }
  return resources;
}

function kibToGib(kib: number): number {
  return Math.round((kib / 2 ** 20) * 100) / 100;
}

/** One host as a candidate: its resources, or why they could not be read. */
export type HostCandidate<T> = { host: T; label: string } & (
  | { resources: HostResources; error?: undefined }
  | { resources?: undefined; error: BpError }
);

/**
 * Picks the host that fits the request with the most available memory (ties: the earlier in `hosts`).
 * None fitting: CapacityError naming each host's shortfall; none reachable: the first host's error.
 */
export function selectHost<T>(candidates: HostCandidate<T>[], request: ResourceRequestV1): HostCandidate<T> {
  let best: HostCandidate<T> | undefined;
  const reasons: string[] = [];
  for (const candidate of candidates) {
    const shortfall = candidate.resources
      ? shortfallOf(candidate.resources, request)
      : candidate.error.message;
    if (shortfall) {
      reasons.push(`${candidate.label}: ${shortfall}`);
      continue;
    }
    if (!best || candidate.resources!.memoryGb > best.resources!.memoryGb) best = candidate;
  }
  if (best) return best;
  const reachable = candidates.filter((candidate) => candidate.resources);
  if (!reachable.length && candidates[0]?.error) throw candidates[0].error;
  throw new CapacityError({ provider: PROVIDER, message: `no host has room: ${reasons.join('; ')}` });
}

function shortfallOf(resources: HostResources, request: ResourceRequestV1): string | undefined {
  if (resources.unfit.length) return resources.unfit.join(', ');
  const missing: string[] = [];
  if (resources.cpu < request.cpu) missing.push(`${resources.cpu} CPUs, ${request.cpu} asked`);
  if (resources.memoryGb < request.memoryGb)
    missing.push(`${resources.memoryGb} GiB memory available, ${request.memoryGb} asked`);
  if (resources.storageGb < request.storageGb)
    missing.push(`${resources.storageGb} GiB disk free, ${request.storageGb} asked`);
  return missing.length ? missing.join(', ') : undefined;
}
