/** The resource flags deploy and estimate share, as they name them. */
export interface ResourceFlags {
  cpu?: number;
  memory?: number;
  storage?: number;
  gpu?: number;
  'gpu-model'?: string;
  spot?: boolean;
}

/** Those flags in the manager's terms (overrides of the blueprint's resources). */
export function resourceOverrides(argv: ResourceFlags) {
  return {
    cpu: argv.cpu,
    memoryGb: argv.memory,
    storageGb: argv.storage,
    gpuCount: argv.gpu,
    gpuModel: argv['gpu-model'],
    spot: argv.spot,
  };
}
