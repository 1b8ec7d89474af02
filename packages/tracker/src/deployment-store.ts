/** Where a deployment is in its life; every move between them is an audit row. */
export type DeploymentStatus =
  | 'pending'
  | 'provisioning'
  | 'running'
  | 'terminating'
  | 'terminated'
  | 'failed';

/** One try at a candidate target while choosing where to run. */
export interface AttemptRecord {
  /** The candidate as named by the policy or catalog, e.g. `aws:us-east-1`. */
  target: string;
  /** Provider id, e.g. `aws`. */
  provider: string;
  region?: string;
  /** How the try ended; `capacity` and `quota` move on to the next candidate. */
  outcome: 'ok' | 'capacity' | 'quota' | 'credentials' | 'budget' | 'unsupported' | 'error';
  /** One-line explanation from the provider or the manager. */
  reason?: string;
  at: Date;
}

/** One deployment as stored. Optional fields are absent (never null) when empty. */
export interface DeploymentRecord {
  /** Also the idempotency key providers use for what they create, e.g. `bp-k3x9q2`. */
  id: string;
  name: string;
  status: DeploymentStatus;
  target: string;
  provider: string;
  region?: string;
  instanceType?: string;
  /** The resolved workload and resources as JSON; never secrets. */
  spec: unknown;
  blueprintDir?: string;
  endpoint?: string;
  /** Price per hour in USD; 0 when unknown or free. */
  hourlyUsd: number;
  createdAt: Date;
  updatedAt: Date;
  /** When the provider was first asked to create it (the first move to provisioning): billing starts here. */
  provisionedAt?: Date;
  /** When it first became `running`. */
  startedAt?: Date;
  /** When it last became `terminated` or `failed`. */
  stoppedAt?: Date;
  expiresAt: Date;
  /** Provider resource ids, stored as soon as the provider returns them. */
  resourceIds: string[];
  tags: Record<string, string>;
  /** Why it failed or was terminated. */
  reason?: string;
  /** The service's last log lines, oldest first. */
  lastLogLines: string[];
  attempts: AttemptRecord[];
  /** Starts at 1 and increments on every write. */
  version: number;
}

/** What the manager knows before the first provider call. */
export interface NewDeployment {
  /** Generated with {@link newDeploymentId} when absent; else lowercase letters, digits and `-`, at most 63. */
  id?: string;
  name: string;
  target: string;
  provider: string;
  region?: string;
  instanceType?: string;
  spec: unknown;
  blueprintDir?: string;
  /** Defaults to 0. */
  hourlyUsd?: number;
  expiresAt: Date;
  tags?: Record<string, string>;
  attempts?: AttemptRecord[];
}

/**
 * Changes to a record's non-status fields. An absent or `undefined` field is left
 * as it is; `null` clears an optional text field; arrays and tags replace the old value.
 */
export interface DeploymentPatch {
  endpoint?: string | null;
  region?: string | null;
  instanceType?: string | null;
  hourlyUsd?: number;
  resourceIds?: string[];
  tags?: Record<string, string>;
  reason?: string | null;
  lastLogLines?: string[];
  attempts?: AttemptRecord[];
  target?: string;
  provider?: string;
  expiresAt?: Date;
}

/** One status move of one deployment. */
export interface AuditEntry {
  /** Increases across the whole database, so it orders moves of different deployments too. */
  seq: number;
  deploymentId: string;
  at: Date;
  /** `null` for the creation row. */
  from: DeploymentStatus | null;
  to: DeploymentStatus;
  reason?: string;
  /** Who moved it: a name passed in, else `pid <process id>`. */
  actor: string;
}

/** Which records {@link DeploymentStore.list} returns; all conditions must hold. */
export interface DeploymentFilter {
  /** Any of these statuses. */
  status?: DeploymentStatus[];
  /** Expiry strictly before this time. */
  expiresBefore?: Date;
  /** Exactly this name. */
  name?: string;
  /** At most this many records (the newest). */
  limit?: number;
}

/** Options of {@link DeploymentStore.transition}. */
export interface TransitionOptions {
  /** Compare-and-set: move only when the current status is one of these. */
  from?: DeploymentStatus[];
  /** Written to the audit row; also to the record when moving to `terminating`, `terminated` or `failed`. */
  reason?: string;
  /** Field changes written in the same transaction as the move. */
  patch?: DeploymentPatch;
  /** Defaults to `pid <process id>`. */
  actor?: string;
}

/** Deployment records, their status machine and audit log. Async so a server database (PostgreSQL) can stand behind it later. */
export interface DeploymentStore {
  /** Random id created once per database, used as the `bp:owner` tag. */
  readonly installationId: string;
  /** Records a new deployment as `pending`, with its creation audit row. */
  create(input: NewDeployment): Promise<DeploymentRecord>;
  /** The record with exactly this id, if any. */
  get(id: string): Promise<DeploymentRecord | undefined>;
  /** The record with exactly this id, else the one whose id starts with it. Throws NotFoundError, or ValidationError when several match. */
  resolve(idOrPrefix: string): Promise<DeploymentRecord>;
  /** Matching records, newest first. */
  list(filter?: DeploymentFilter): Promise<DeploymentRecord[]>;
  /** Moves a record to `to` (see ALLOWED_TRANSITIONS) and writes one audit row, atomically. Throws TransitionError without writing when the move is refused. */
  transition(id: string, to: DeploymentStatus, options?: TransitionOptions): Promise<DeploymentRecord>;
  /** Changes non-status fields. */
  update(id: string, patch: DeploymentPatch): Promise<DeploymentRecord>;
  /** The record's status moves, oldest first. */
  audit(id: string): Promise<AuditEntry[]>;
  /** Takes or renews the named lease for `ttlMs` milliseconds; false while another holder's lease is unexpired. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Closes the database; the store is unusable afterwards. */
  close(): Promise<void>;
}
