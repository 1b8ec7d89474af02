import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { azureResponder, startServer } from '../../../packages/pricing-importers/test/recorded-server.js';
import { runBp, tempHome } from './helpers.js';

const home = tempHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('bp catalog refresh', () => {
  it('prices Azure from its Retail Prices API (recorded responses on 127.0.0.1) and uses it from then on', async () => {
    const server = await startServer(azureResponder);
    try {
      const refreshed = await runBp(
        [
          'catalog',
          'refresh',
          '--provider',
          'azure',
          '--region',
          'eastus',
          'westeurope',
          '--endpoint',
          `${server.url}/api/retail/prices`,
          '--json',
        ],
        home,
      );
      expect(refreshed.code, refreshed.stderr).toBe(0);
      const result = JSON.parse(refreshed.stdout);
      expect(result).toMatchObject({ provider: 'azure', active: true });
      expect(result.rows).toBeGreaterThan(0);
      expect(server.requests.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
    const info = JSON.parse((await runBp(['catalog', 'info', '--json'], home)).stdout);
    expect(info.origin).toBe('user');
    // The Linux price from the API replaces the shipped catalog's Windows-priced row.
    const estimate = await runBp(
      [
        'estimate',
        '--cpu',
        '2',
        '--memory',
        '8',
        '--provider',
        'azure',
        '--region',
        'eastus',
        '--compare',
        '--json',
      ],
      home,
    );
    const options = JSON.parse(estimate.stdout).options;
    expect(
      options.find((option: { instanceType: string }) => option.instanceType === 'Standard_D2as_v5'),
    ).toMatchObject({
      hourlyUsd: 0.086,
    });
  });

  it('refuses a provider without a pricing API bp can read', async () => {
    const result = await runBp(['catalog', 'refresh', '--provider', 'local'], home);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/--provider: 'local' has no pricing API/);
  });
});
