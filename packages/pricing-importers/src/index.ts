// Importing this package loads no SDK: importAws loads the AWS SDK on its first call.
export {
  type BuildCatalogOptions,
  buildCatalog,
  catalogShapes,
  type ImportProvenance,
  type ImportResult,
  type TypeShape,
  writeCatalog,
} from './catalog.js';
export type { ImportOptionsBase } from './http.js';
export { type ImportAwsOptions, importAws } from './import-aws.js';
export { type ImportAzureOptions, importAzure } from './import-azure.js';
export { COMPUTE_ENGINE_SERVICE, type ImportGcpOptions, importGcp } from './import-gcp.js';
