// Importing this package reads nothing: the catalog is loaded on the first call that needs it.
import { loadCatalog } from './catalog-loader.js';
import {
  type CompareOptions,
  type Comparison,
  type CostEstimate,
  compareWith,
  type EstimateCostOptions,
  estimateCostWith,
} from './estimate.js';
import type { FindInstanceTypesOptions, InstanceMatch, PriceCatalog } from './price-catalog.js';

export type { CatalogTables, ProviderTables, RowTables } from './catalog-binary.js';
export {
  type BuildCatalogDataOptions,
  buildCatalogData,
  CATALOG_CSV_HEADER,
  type CatalogCsvRow,
  type CatalogCsvSource,
  type CatalogProvenanceV1,
  catalogCsv,
  SUSPECT_RULE,
} from './catalog-builder.js';
export {
  CATALOG_FORMAT_VERSION,
  type CatalogDataV1,
  type CatalogOriginV1,
  type CatalogProviderV1,
  type CatalogRowsV1,
  type CatalogStorageV1,
  type CatalogTypesV1,
  compareCatalogVersions,
  TYPE_FLAG_BURSTABLE,
  TYPE_FLAG_GPU_MODEL_FROM_NAME,
  TYPE_FLAG_SHARED_CORE,
  validateCatalog,
} from './catalog-data.js';
export {
  catalogInfo,
  type InstallCatalogResult,
  installCatalog,
  type LoadCatalogOptions,
  loadCatalog,
  readCatalogFile,
  shippedCatalogPath,
  shippedCatalogVersion,
  USER_CATALOG_FILE,
} from './catalog-loader.js';
export {
  type CompareOption,
  type CompareOptions,
  type Comparison,
  type CostAdjustment,
  type CostEstimate,
  type EstimateCostOptions,
  HOURS_PER_MONTH,
  QOS_MULTIPLIERS,
  type QosOptions,
  qosAdjustments,
  type StorageCost,
} from './estimate.js';
export { type GpuModelQuery, gpuModelMatches, parseGpuModel } from './gpu-model.js';
export {
  type CatalogInfo,
  type CatalogOrigin,
  type CatalogRowSource,
  type FindInstanceTypesOptions,
  type InstanceMatch,
  PriceCatalog,
  type PriceCatalogMeta,
  type ProviderCatalogInfo,
} from './price-catalog.js';

/** Pass `catalog` to use a catalog from {@link loadCatalog} (e.g. the user's); the shipped one otherwise. */
export interface WithCatalog {
  catalog?: PriceCatalog;
}

/** Every instance type × region that fits the request, cheapest first. See {@link PriceCatalog.findInstanceTypes}. */
export function findInstanceTypes(options: FindInstanceTypesOptions & WithCatalog): InstanceMatch[] {
  return (options.catalog ?? loadCatalog()).findInstanceTypes(options);
}

/** The cheapest instance type that fits, or undefined. */
export function cheapest(
  options: Omit<FindInstanceTypesOptions, 'limit'> & WithCatalog,
): InstanceMatch | undefined {
  return (options.catalog ?? loadCatalog()).cheapest(options);
}

/**
 * Hourly, total and monthly (730 h) cost of the cheapest fitting instance (or `instanceType`),
 * its disk where bp has a sourced rate, and QoS multipliers listed in `adjustments`.
 * Throws NotFoundError when nothing fits, ValidationError on bad input.
 */
export function estimateCost(options: EstimateCostOptions & WithCatalog): CostEstimate {
  return estimateCostWith(options.catalog ?? loadCatalog(), options);
}

/** Every provider × region × instance type that fits, by hourly price: `bp estimate --compare --json`. */
export function compare(options: CompareOptions & WithCatalog): Comparison {
  return compareWith(options.catalog ?? loadCatalog(), options);
}
