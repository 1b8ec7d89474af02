import type { DeploymentRecord } from '@bp/tracker';
import type { BudgetStatus } from './budget.js';

/** What one monitor remembers between passes. */
export interface MonitorState {
  /** This monitor's name in the lease table. */
  holder: string;
  /** Consecutive failed health checks per deployment. */
  failures: Map<string, number>;
  /** Recoveries tried per deployment. */
  recoveries: Map<string, number>;
  /** Last health seen per deployment, for metrics. */
  healthy: Map<string, boolean>;
  /** Leases this monitor holds, released when it stops. */
  leases: Set<string>;
  passes: number;
}

export function createMonitorState(holder: string): MonitorState {
  return {
    holder,
    failures: new Map(),
    recoveries: new Map(),
    healthy: new Map(),
    leases: new Set(),
    passes: 0,
  };
}

/** How a monitor pass behaves. */
export interface MonitorSettings {
  /** How long a lease on a unit of work lasts; renewed every pass. Default 30 s. */
  leaseMs?: number;
  /** Failed checks in a row before recovery. Default 3. */
  failuresBeforeRecovery?: number;
  /** Recoveries per deployment before it is marked failed. Default 3. */
  maxRecoveries?: number;
  /** How long a recovered deployment has to become healthy. Default 60 s. */
  recoveryTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What a pass did. */
export interface MonitorPassReport {
  /** Whether this monitor held the reaper's lease (only one monitor reaps at a time). */
  reaper: boolean;
  reaped: string[];
  checked: { id: string; healthy: boolean; reason?: string }[];
  recovered: string[];
  failed: { id: string; reason: string }[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition of bp's deployments, costs and budget. */
export function renderMetrics(
  records: DeploymentRecord[],
  options: {
    now: Date;
    accruedUsd: (record: DeploymentRecord) => number;
    budget?: BudgetStatus;
    state?: MonitorState;
  },
): string {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  for (const record of records) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
  lines.push('# HELP bp_deployments Deployments by status.', '# TYPE bp_deployments gauge');
  for (const status of ['pending', 'provisioning', 'running', 'terminating', 'terminated', 'failed']) {
    lines.push(`bp_deployments{status="${status}"} ${counts.get(status) ?? 0}`);
  }
  const running = records.filter((record) => record.status === 'running');
  lines.push(
    '# HELP bp_deployment_up Whether the last health check passed (running deployments).',
    '# TYPE bp_deployment_up gauge',
  );
  for (const record of running) {
    const healthy = options.state?.healthy.get(record.id);
    const labels = `id="${escapeLabel(record.id)}",name="${escapeLabel(record.name)}",target="${escapeLabel(record.target)}"`;
    if (healthy !== undefined) lines.push(`bp_deployment_up{${labels}} ${healthy ? 1 : 0}`);
  }
  lines.push(
    '# HELP bp_deployment_hourly_usd Price per hour of running deployments.',
    '# TYPE bp_deployment_hourly_usd gauge',
  );
  for (const record of running)
    lines.push(`bp_deployment_hourly_usd{id="${escapeLabel(record.id)}"} ${record.hourlyUsd}`);
  lines.push(
    '# HELP bp_deployment_expires_seconds Seconds until a running deployment expires.',
    '# TYPE bp_deployment_expires_seconds gauge',
  );
  for (const record of running) {
    lines.push(
      `bp_deployment_expires_seconds{id="${escapeLabel(record.id)}"} ${Math.round((record.expiresAt.getTime() - options.now.getTime()) / 1000)}`,
    );
  }
  const accrued = records.reduce((sum, record) => sum + options.accruedUsd(record), 0);
  lines.push(
    '# HELP bp_accrued_usd Cost accrued by all recorded deployments.',
    '# TYPE bp_accrued_usd gauge',
    `bp_accrued_usd ${accrued}`,
  );
  if (options.budget) {
    lines.push(
      '# HELP bp_budget_month_to_date_usd Spent this month.',
      '# TYPE bp_budget_month_to_date_usd gauge',
      `bp_budget_month_to_date_usd ${options.budget.monthToDateUsd}`,
      '# HELP bp_budget_monthly_limit_usd The monthly budget.',
      '# TYPE bp_budget_monthly_limit_usd gauge',
      `bp_budget_monthly_limit_usd ${options.budget.monthlyLimitUsd}`,
    );
  }
  if (options.state) {
    lines.push(
      '# HELP bp_monitor_passes_total Passes this monitor has run.',
      '# TYPE bp_monitor_passes_total counter',
      `bp_monitor_passes_total ${options.state.passes}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
