import { ValidationError } from '@bp/provider';
import type { DeploymentStatus } from './deployment-store.js';

/** The moves each status allows. `terminating` may re-enter itself so an interrupted terminate can be resumed. */
export const ALLOWED_TRANSITIONS: Record<DeploymentStatus, DeploymentStatus[]> = {
  pending: ['provisioning', 'failed', 'terminating'],
  provisioning: ['running', 'failed', 'terminating'],
  running: ['terminating', 'failed'],
  terminating: ['terminated', 'failed', 'terminating'],
  // So the leftovers of a failed deploy can still be cleaned up.
  failed: ['terminating'],
  terminated: [],
};

const TRANSITION_MARKER = Symbol.for('bp.tracker.transition-error');

/** A refused status move: not allowed from the current status, or the current status is not one of the expected ones. */
export class TransitionError extends ValidationError {
  /** Read by {@link TransitionError.isInstance}; a symbol so it survives duplicate copies of this package. */
  readonly [TRANSITION_MARKER] = true;
  /** The deployment that was to move. */
  readonly deploymentId: string;
  /** Its status when the move was refused (nothing was written). */
  readonly current: DeploymentStatus;
  /** The status it was to move to. */
  readonly to: DeploymentStatus;
  /** The statuses the caller required (compare-and-set), when it named some. */
  readonly expected?: DeploymentStatus[];

  constructor(options: {
    deploymentId: string;
    current: DeploymentStatus;
    to: DeploymentStatus;
    expected?: DeploymentStatus[];
  }) {
    const { deploymentId, current, to, expected } = options;
    super({
      reason: expected
        ? `deployment ${deploymentId} is ${current}, not ${expected.join(' or ')}: not moved to ${to}`
        : `deployment ${deploymentId} cannot move from ${current} to ${to}`,
    });
    this.deploymentId = deploymentId;
    this.current = current;
    this.to = to;
    this.expected = expected;
  }

  /** True for a TransitionError, even one created by another copy of this package. */
  static override isInstance(error: unknown): error is TransitionError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as Record<symbol, unknown>)[TRANSITION_MARKER] === true
    );
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      deploymentId: this.deploymentId,
      current: this.current,
      to: this.to,
      expected: this.expected,
    };
  }
}
