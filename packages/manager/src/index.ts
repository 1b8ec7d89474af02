export type {
  AttemptRecord,
  AuditEntry,
  DeploymentRecord,
  DeploymentStatus,
  DeploymentStore,
} from '@bp/tracker';
export { BUDGET_THRESHOLDS, type BudgetStatus, budgetStatus, monthOf } from './budget.js';
export { type CatalogRefreshRequest, type CatalogRefreshResult, refreshCatalog } from './catalog-refresh.js';
export {
  type CloudConfig,
  loadCloudConfig,
  PROVIDER_TYPES,
  type ProviderType,
  parseCloudConfig,
  type TargetConfig,
  type TargetUpdate,
  writeBudget,
  writeTarget,
} from './cloud-config.js';
export { type EstimateRequest, type EstimateResult, estimate } from './estimate.js';
export {
  accruedUsd,
  type CostReport,
  createManager,
  type DeploymentCost,
  type DeployPlan,
  type DeployRequest,
  type Manager,
  type ManagerEvent,
  type ManagerSettings,
} from './manager.js';
export {
  createMonitorState,
  type MonitorPassReport,
  type MonitorSettings,
  type MonitorState,
  renderMetrics,
} from './monitor.js';
export { type BpPaths, expandHome, resolvePaths } from './paths.js';
export { type ReconcileFinding, reconcile } from './reconcile.js';
export {
  type CandidatePlan,
  CPU_INTENSIVE_VCPUS,
  planCandidates,
  policyListFor,
  type TargetName,
} from './selection.js';
export {
  createProviderForTarget,
  isProviderInstalled,
  LOCAL_TARGET,
  listTargets,
  type ResolvedTarget,
} from './targets.js';

/** This package's version. */
export const VERSION = '0.1.0';
