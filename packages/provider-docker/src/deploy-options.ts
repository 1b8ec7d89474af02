import {
  checkCommonDeployOptionsV1,
  type DeployOptionsV1,
  UnsupportedCapabilityError,
  ValidationError,
  type WarningV1,
} from '@bp/provider';

const PROVIDER = 'docker';
const ID_PATTERN = /^[a-z0-9-]{1,63}$/;
/** The engine refuses memory limits below 6 MiB. */
const MIN_MEMORY_GB = 6 / 1024;

/** bp deployment ids: 1 to 63 of a-z, 0-9 and `-` (so `bp-<id>` is a valid container name and holds no `.`). */
export function isDeploymentId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** Refuses what cannot run (before anything is created) and lists what is not honoured exactly. */
export function checkDeployOptions(options: DeployOptionsV1): WarningV1[] {
  const { workload, resources } = options;
  const invalid = (path: string, reason: string) => new ValidationError({ path, reason });
  if (!isDeploymentId(options.deploymentId)) {
    throw invalid('deploymentId', 'must be 1 to 63 of a-z, 0-9 and -');
  }
  if (!workload.image) {
    if (workload.command?.length) {
      throw new UnsupportedCapabilityError({
        provider: PROVIDER,
        capability: 'nativeCommand',
        message:
          'provider docker runs container images; give workload.image (command then overrides its CMD)',
      });
    }
    throw invalid('workload.image', 'is required: the container image to run');
  }
  if (typeof workload.image !== 'string' || /[\s\0]/.test(workload.image)) {
    throw invalid('workload.image', 'must be an image reference without spaces');
  }
  const { command } = workload;
  if (
    command !== undefined &&
    (!Array.isArray(command) || !command.length || !command.every(isCleanString))
  ) {
    throw invalid('workload.command', 'must be a non-empty list of strings without NUL bytes');
  }
  checkCommonDeployOptionsV1(options);
  for (const [group, values] of [
    ['workload.env', workload.env],
    ['secrets', options.secrets],
  ] as const) {
    for (const [key, value] of Object.entries(values ?? {})) {
      if (!/^[^=\0]+$/.test(key) || !isCleanString(value)) {
        throw invalid(`${group}.${key}`, 'must be a name without = holding a string without NUL bytes');
      }
    }
  }
  if (!(Number.isFinite(resources.cpu) && resources.cpu >= 0.01)) {
    throw invalid('resources.cpu', 'must be at least 0.01 CPU');
  }
  if (!(Number.isFinite(resources.memoryGb) && resources.memoryGb >= MIN_MEMORY_GB)) {
    throw invalid('resources.memoryGb', 'must be at least 6 MiB (the engine minimum)');
  }
  if (!(Number.isFinite(resources.storageGb) && resources.storageGb >= 0)) {
    throw invalid('resources.storageGb', 'must be 0 or more');
  }
  if (resources.gpuCount > 0) throw new UnsupportedCapabilityError({ provider: PROVIDER, capability: 'gpu' });

  const warnings: WarningV1[] = [];
  const warn = (setting: string, message: string) => warnings.push({ setting, message });
  if (resources.spot)
    warn('resources.spot', 'a Docker engine has no spot capacity: runs as an ordinary container');
  if (options.region) warn('region', 'ignored: a Docker engine has no regions');
  if (options.instanceType) warn('instanceType', 'ignored: a Docker engine has no instance types');
  if (workload.workingDirectory) {
    warn('workload.workingDirectory', "ignored: the container runs in its image's working directory");
  }
  return warnings;
}

function isCleanString(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0');
}
