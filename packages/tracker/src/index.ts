export { newDeploymentId } from './deployment-id.js';
export type {
  AttemptRecord,
  AuditEntry,
  DeploymentFilter,
  DeploymentPatch,
  DeploymentRecord,
  DeploymentStatus,
  DeploymentStore,
  NewDeployment,
  TransitionOptions,
} from './deployment-store.js';
export { openTracker, type TrackerOptions } from './sqlite-tracker.js';
export { ALLOWED_TRANSITIONS, TransitionError } from './transitions.js';
