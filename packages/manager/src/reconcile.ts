import type { ManagedResourceV1, RemoteProviderV1 } from '@bp/provider';
import type { DeploymentRecord, DeploymentStore } from '@bp/tracker';

/** What `bp reconcile` found: a resource without a live record, or a live record without its resource. */
export interface ReconcileFinding {
  target: string;
  deploymentId: string;
  resourceId?: string;
  /**
   * `orphan`: carries bp's tags but has no record. `leaked`: its record says terminated or failed.
   * `expired`: live record, past its expiry. `missing`: live record, but the provider has nothing.
   */
  kind: 'orphan' | 'leaked' | 'expired' | 'missing';
  /** What was done (or, on a dry run, would be). */
  action: 'destroyed' | 'terminated' | 'marked failed' | 'none';
  applied: boolean;
  error?: string;
}

/** What reconcile needs of the manager. */
export interface ReconcileContext {
  store: DeploymentStore;
  targets: { name: string; provider: () => Promise<RemoteProviderV1> }[];
  owner?: string;
  region?: string;
  apply: boolean;
  signal?: AbortSignal;
  /** Destroys a resource no record owns, and waits until the provider confirms it is gone. */
  destroy(provider: RemoteProviderV1, resource: ManagedResourceV1): Promise<void>;
  /** The manager's terminate: confirm gone, then mark the record. */
  terminate(id: string, reason: string): Promise<DeploymentRecord>;
  markFailed(id: string, reason: string): Promise<DeploymentRecord>;
}

const LIVE = new Set(['pending', 'provisioning', 'running', 'terminating']);

/**
 * Compares what each target's provider reports carrying bp's tags with the tracker, both ways.
 * A record is marked only after the provider is asked; nothing is destroyed without `apply`.
 */
export async function reconcile(
  context: ReconcileContext,
): Promise<{ findings: ReconcileFinding[]; errors: string[] }> {
  const findings: ReconcileFinding[] = [];
  const errors: string[] = [];
  const now = new Date();
  for (const target of context.targets) {
    let provider: RemoteProviderV1;
    let resources: ManagedResourceV1[];
    try {
      provider = await target.provider();
      resources = await provider.listManagedResources({
        owner: context.owner,
        region: context.region,
        signal: context.signal,
      });
    } catch (error) {
      errors.push(`${target.name}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const seen = new Set<string>();
    for (const resource of resources) {
      if (resource.state === 'gone' || seen.has(resource.deploymentId)) continue;
      seen.add(resource.deploymentId);
      const record = await context.store.get(resource.deploymentId);
      const finding: ReconcileFinding = {
        target: target.name,
        deploymentId: resource.deploymentId,
        resourceId: resource.resourceId,
        kind: 'orphan',
        action: 'destroyed',
        applied: false,
      };
      if (record && LIVE.has(record.status)) {
        if (record.expiresAt > now) continue;
        finding.kind = 'expired';
        finding.action = 'terminated';
      } else if (record) {
        finding.kind = 'leaked';
      }
      findings.push(finding);
      if (!context.apply) continue;
      try {
        if (finding.kind === 'expired') await context.terminate(record!.id, 'expired (reconcile)');
        else await context.destroy(provider, resource);
        finding.applied = true;
      } catch (error) {
        finding.error = error instanceof Error ? error.message : String(error);
      }
    }
    // The other way: live records on this target whose resources the provider no longer has.
    const live = (await context.store.list({ status: [...LIVE] as DeploymentRecord['status'][] })).filter(
      (record) => record.target === target.name && !seen.has(record.id),
    );
    for (const record of live) {
      const status = await provider.getInstanceStatus({
        deploymentId: record.id,
        resourceIds: record.resourceIds,
        region: record.region,
        signal: context.signal,
      });
      if (status.state !== 'gone') continue;
      const expired = record.expiresAt <= now;
      const finding: ReconcileFinding = {
        target: target.name,
        deploymentId: record.id,
        kind: 'missing',
        action: expired || record.status === 'terminating' ? 'terminated' : 'marked failed',
        applied: false,
      };
      findings.push(finding);
      if (!context.apply) continue;
      try {
        if (finding.action === 'terminated')
          await context.terminate(record.id, expired ? 'expired' : (record.reason ?? 'terminated'));
        else await context.markFailed(record.id, 'its resources are gone (found by reconcile)');
        finding.applied = true;
      } catch (error) {
        finding.error = error instanceof Error ? error.message : String(error);
      }
    }
  }
  return { findings, errors };
}
