export {
  accruedUsd,
  createManager,
  type DeployPlan,
  type DeployRequest,
  type Manager,
  type ManagerEvent,
  type ManagerSettings,
} from './manager.js';
export {
  type CloudConfig,
  loadCloudConfig,
  PROVIDER_TYPES,
  parseCloudConfig,
  type ProviderType,
  type TargetConfig,
  type TargetUpdate,
  writeTarget,
} from './cloud-config.js';
export { type BpPaths, expandHome, resolvePaths } from './paths.js';
export {
  chooseTarget,
  createProviderForTarget,
  isProviderInstalled,
  LOCAL_TARGET,
  listTargets,
  type ResolvedTarget,
} from './targets.js';
export type { DeploymentRecord, DeploymentStatus, DeploymentStore, AuditEntry, AttemptRecord } from '@bp/tracker';

/** This package's version. */
export const VERSION = '0.1.0';
