export {
  type ConformanceProbes,
  type ConformanceWorkloads,
  describeProviderConformance,
  type ProviderConformanceOptions,
} from './describe-provider-conformance.js';
export { waitFor } from './wait-for.js';
