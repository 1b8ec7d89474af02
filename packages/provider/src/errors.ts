const MARKER = Symbol.for('bp.error');
const CHANGED_NOTHING = Symbol.for('bp.changedNothing');

/** What kind of failure a {@link BpError} is; stable across releases, used for exit codes. */
export type BpErrorCode =
  | 'validation'
  | 'provider-call'
  | 'capacity'
  | 'quota'
  | 'credentials'
  | 'not-found'
  | 'budget'
  | 'unsupported-capability'
  | 'health-timeout'
  | 'aborted';

/**
 * The base of every error bp raises on purpose. Messages are one line, name what
 * failed and where, and never contain a secret.
 */
export abstract class BpError extends Error {
  /** Stable machine-readable kind of the error. */
  abstract readonly code: BpErrorCode;
  /** Marks bp errors across duplicate copies of this package; read by {@link BpError.isInstance}. */
  readonly [MARKER] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** True for any BpError, even one created by another copy of this package. */
  static isInstance(error: unknown): error is BpError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }

  /** A JSON-safe view of the error (for `--json` output and stored records). */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

function hasCode<T extends BpError>(error: unknown, code: BpErrorCode): error is T {
  return BpError.isInstance(error) && error.code === code;
}

/** Bad input: a manifest, a flag, a setting. `path` names the key, `file` the file it came from. */
export class ValidationError extends BpError {
  readonly code = 'validation' as const;
  /** Dotted key path of the offending value, e.g. `blueprint.resources.min_cpu`. */
  readonly path?: string;
  /** The file the value was read from, when there is one. */
  readonly file?: string;
  /** Why the value is refused, without the file and path. */
  readonly reason: string;

  constructor(options: { reason: string; path?: string; file?: string; cause?: unknown }) {
    const where = [options.file, options.path].filter(Boolean).join(': ');
    super(where ? `${where}: ${options.reason}` : options.reason, { cause: options.cause });
    this.reason = options.reason;
    this.path = options.path;
    this.file = options.file;
  }

  static override isInstance(error: unknown): error is ValidationError {
    return hasCode(error, 'validation');
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), path: this.path, file: this.file, reason: this.reason };
  }
}

/** A call to a provider's API failed. */
export class ProviderCallError extends BpError {
  readonly code = 'provider-call' as const;
  /** Provider id, e.g. `aws`. */
  readonly provider: string;
  /** The API operation, e.g. `RunInstances`. */
  readonly operation: string;
  /** HTTP status code, when the API is HTTP. */
  readonly statusCode?: number;
  /** The provider's request id, when it returned one. */
  readonly requestId?: string;
  /** True for timeouts, throttling and 5xx: the same call may succeed later. */
  readonly isRetryable: boolean;

  constructor(options: {
    message: string;
    provider: string;
    operation: string;
    statusCode?: number;
    requestId?: string;
    isRetryable?: boolean;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.provider = options.provider;
    this.operation = options.operation;
    this.statusCode = options.statusCode;
    this.requestId = options.requestId;
    this.isRetryable = options.isRetryable ?? false;
  }

  static override isInstance(error: unknown): error is ProviderCallError {
    return hasCode(error, 'provider-call');
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      provider: this.provider,
      operation: this.operation,
      statusCode: this.statusCode,
      requestId: this.requestId,
      isRetryable: this.isRetryable,
    };
  }
}

/** The target has no room for the request right now; another region or provider may. */
export class CapacityError extends BpError {
  readonly code = 'capacity' as const;
  readonly provider: string;
  readonly region?: string;
  constructor(options: { message: string; provider: string; region?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.provider = options.provider;
    this.region = options.region;
  }
  static override isInstance(error: unknown): error is CapacityError {
    return hasCode(error, 'capacity');
  }
}

/** An account limit was reached. */
export class QuotaError extends BpError {
  readonly code = 'quota' as const;
  readonly provider: string;
  /** Which quota, when the provider names it. */
  readonly quota?: string;
  constructor(options: { message: string; provider: string; quota?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.provider = options.provider;
    this.quota = options.quota;
  }
  static override isInstance(error: unknown): error is QuotaError {
    return hasCode(error, 'quota');
  }
}

/** Credentials are missing or refused. `source` names the variable, file or command read (never its value). */
export class CredentialsError extends BpError {
  readonly code = 'credentials' as const;
  readonly provider: string;
  readonly source?: string;
  constructor(options: { message: string; provider: string; source?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.provider = options.provider;
    this.source = options.source;
  }
  static override isInstance(error: unknown): error is CredentialsError {
    return hasCode(error, 'credentials');
  }
}

/** A deployment, instance or resource does not exist. */
export class NotFoundError extends BpError {
  readonly code = 'not-found' as const;
  /** What kind of thing was looked for, e.g. `deployment`. */
  readonly kind: string;
  /** The id or name that was looked for. */
  readonly id: string;
  constructor(options: { kind: string; id: string; message?: string; cause?: unknown }) {
    super(options.message ?? `${options.kind} ${options.id} not found`, { cause: options.cause });
    this.kind = options.kind;
    this.id = options.id;
  }
  static override isInstance(error: unknown): error is NotFoundError {
    return hasCode(error, 'not-found');
  }
}

/** A budget or policy refuses the operation; nothing was created. */
export class BudgetExceededError extends BpError {
  readonly code = 'budget' as const;
  /** The price that would be paid, in USD (per hour or per month, see `period`). */
  readonly priceUsd: number;
  /** The limit that refuses it, in USD. */
  readonly limitUsd: number;
  readonly period: 'hour' | 'month';
  constructor(options: { priceUsd: number; limitUsd: number; period: 'hour' | 'month'; message?: string }) {
    super(
      options.message ??
        `refused by budget: $${options.priceUsd.toFixed(4)}/${options.period} is over the limit of $${options.limitUsd.toFixed(4)}/${options.period}`,
    );
    this.priceUsd = options.priceUsd;
    this.limitUsd = options.limitUsd;
    this.period = options.period;
  }
  static override isInstance(error: unknown): error is BudgetExceededError {
    return hasCode(error, 'budget');
  }
}

/** The provider lacks a capability the request needs (a GPU, a native command, a tunnel...). */
export class UnsupportedCapabilityError extends BpError {
  readonly code = 'unsupported-capability' as const;
  readonly provider: string;
  readonly capability: string;
  constructor(options: { provider: string; capability: string; message?: string }) {
    super(options.message ?? `provider ${options.provider} does not support ${options.capability}`);
    this.provider = options.provider;
    this.capability = options.capability;
  }
  static override isInstance(error: unknown): error is UnsupportedCapabilityError {
    return hasCode(error, 'unsupported-capability');
  }
}

/** A deployment did not become healthy in time; what it created has been undone. */
export class HealthTimeoutError extends BpError {
  readonly code = 'health-timeout' as const;
  readonly deploymentId: string;
  /** Why it was judged unhealthy (last HTTP status, process exit, ...). */
  readonly reason: string;
  /** The service's last log lines, oldest first. */
  readonly lastLogLines: string[];
  constructor(options: { deploymentId: string; reason: string; lastLogLines: string[] }) {
    super(`deployment ${options.deploymentId} never became healthy: ${options.reason}`);
    this.deploymentId = options.deploymentId;
    this.reason = options.reason;
    this.lastLogLines = options.lastLogLines;
  }
  static override isInstance(error: unknown): error is HealthTimeoutError {
    return hasCode(error, 'health-timeout');
  }
  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      deploymentId: this.deploymentId,
      reason: this.reason,
      lastLogLines: this.lastLogLines,
    };
  }
}

/** The operation was cancelled through its AbortSignal (or Ctrl-C). */
export class AbortedError extends BpError {
  readonly code = 'aborted' as const;
  constructor(message = 'interrupted') {
    super(message);
  }
  static override isInstance(error: unknown): error is AbortedError {
    return hasCode(error, 'aborted');
  }
}

/** Throws {@link AbortedError} when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/**
 * Marks `error` as raised before the call changed anything on its target (for example: the engine or
 * host could not be reached, or refused the credentials, before any create request was sent). A
 * deploy that fails so is recorded failed at once: there is nothing to undo, and an undo against an
 * unreachable target could never be confirmed. Only a provider that knows it sent no changing request
 * may mark an error. Returns `error`.
 */
export function markChangedNothing<T>(error: T): T {
  if (typeof error === 'object' && error !== null) {
    Object.defineProperty(error, CHANGED_NOTHING, { value: true, enumerable: false });
  }
  return error;
}

/** True when a provider marked `error` with {@link markChangedNothing}, in any copy of this package. */
export function changedNothing(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[CHANGED_NOTHING] === true
  );
}
