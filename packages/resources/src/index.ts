export {
  type Blueprint,
  blueprintDocumentSchema,
  loadBlueprint,
  loadToml,
  parseBlueprint,
  type SecretRef,
  toWorkload,
} from './blueprint.js';
export {
  type DockerHostConfigResources,
  type KubernetesResources,
  type PricingUnits,
  toDockerHostConfig,
  toKubernetesResources,
  toPricingUnits,
} from './conversions.js';
export { formatDuration, parseDuration } from './duration.js';
export {
  loadZod,
  type ResourceOverrides,
  type ResourceSpec,
  type ResourceSpecInput,
  resolveResources,
  resourceSpecSchema,
  type ZodRuntime,
} from './resource-spec.js';
export { type ReadSecretFile, resolveSecrets } from './secrets.js';
export { moduleIdentity, openValidatedDocuments, type ValidatedDocuments } from './validated-documents.js';
