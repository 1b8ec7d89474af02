import type { DeploymentRecord } from '@bp/tracker';

const HOUR_MS = 3_600_000;

/** Warnings are given once a month at each of these shares of the monthly limit. */
export const BUDGET_THRESHOLDS = [50, 80, 100] as const;

/** The calendar month (UTC) that `now` falls in. */
export function monthOf(now: Date): { start: Date; end: Date; key: string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end, key: start.toISOString().slice(0, 7) };
}

/** When billing started and stopped (or `now` while it runs): from the first create call. */
export function billedSpan(record: DeploymentRecord, now: Date): { from: Date; to: Date } | undefined {
  const from = record.provisionedAt ?? record.startedAt;
  if (!from) return undefined;
  return { from, to: record.stoppedAt ?? now };
}

/** USD a record accrued inside [from, to). */
export function accruedBetween(record: DeploymentRecord, from: Date, to: Date, now: Date): number {
  const span = billedSpan(record, now);
  if (!span || record.hourlyUsd === 0) return 0;
  const start = Math.max(span.from.getTime(), from.getTime());
  const end = Math.min(span.to.getTime(), to.getTime());
  return end > start ? (record.hourlyUsd * (end - start)) / HOUR_MS : 0;
}

/** Whether a record is still billing (created and not confirmed stopped). */
export function isBilling(record: DeploymentRecord): boolean {
  return record.stoppedAt === undefined && record.status !== 'pending' && record.hourlyUsd > 0;
}

/** Month-to-date spend and where the month will end if everything running runs until its expiry. */
export interface BudgetStatus {
  month: string;
  monthlyLimitUsd: number;
  action: 'notify' | 'terminate';
  /** Accrued this month, from real start/stop times. */
  monthToDateUsd: number;
  /** Month-to-date plus what billing deployments will accrue until their expiry (or the month's end). */
  projectedUsd: number;
  /** Month-to-date as a share of the limit, in percent. */
  percentUsed: number;
}

export function budgetStatus(
  records: DeploymentRecord[],
  budget: { monthly_limit_usd: number; action?: 'notify' | 'terminate' },
  now: Date,
): BudgetStatus {
  const month = monthOf(now);
  let monthToDate = 0;
  let projected = 0;
  for (const record of records) {
    monthToDate += accruedBetween(record, month.start, now, now);
    if (isBilling(record)) {
      const until = Math.min(record.expiresAt.getTime(), month.end.getTime());
      if (until > now.getTime()) projected += (record.hourlyUsd * (until - now.getTime())) / HOUR_MS;
    }
  }
  return {
    month: month.key,
    monthlyLimitUsd: budget.monthly_limit_usd,
    action: budget.action ?? 'notify',
    monthToDateUsd: monthToDate,
    projectedUsd: monthToDate + projected,
    percentUsed: (monthToDate / budget.monthly_limit_usd) * 100,
  };
}

/** What a new deployment adds to this month if it runs until its expiry. */
export function monthlyShareOf(hourlyUsd: number, expiresAt: Date, now: Date): number {
  const until = Math.min(expiresAt.getTime(), monthOf(now).end.getTime());
  return until > now.getTime() ? (hourlyUsd * (until - now.getTime())) / HOUR_MS : 0;
}
