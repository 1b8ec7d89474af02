import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, runBp, tempHome } from './helpers.js';

const home = tempHome();
afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('bp costs and bp alert', () => {
  it('shows each deployment with its real billed time, and the budget once one is set', async () => {
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '5m', '--json'], home)).stdout);
    await runBp(['terminate', record.id], home);
    const alert = await runBp(['alert', '--monthly-limit', '25', '--action', 'terminate', '--json'], home);
    expect(alert.code, alert.stderr).toBe(0);
    expect(readFileSync(join(home, 'cloud.toml'), 'utf8')).toMatch(
      /\[budget\]\s+monthly_limit_usd = 25\s+action = "terminate"/,
    );

    const costs = await runBp(['costs', '--since', '1h', '--json'], home);
    expect(costs.code, costs.stderr).toBe(0);
    const report = JSON.parse(costs.stdout);
    const entry = report.deployments.find((deployment: { id: string }) => deployment.id === record.id);
    expect(entry).toMatchObject({ status: 'terminated', hourlyUsd: 0, accruedUsd: 0 });
    expect(entry.hours).toBeGreaterThan(0);
    expect(new Date(entry.billedTo).getTime()).toBeGreaterThan(new Date(entry.billedFrom).getTime());
    expect(report.budget).toMatchObject({ monthlyLimitUsd: 25, action: 'terminate', monthToDateUsd: 0 });
  });

  it('refuses a budget that is not a positive amount', async () => {
    const result = await runBp(['alert', '--monthly-limit', '-5'], home);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe("bp: --monthly-limit: '-5' must be a positive amount of USD");
  });
});
