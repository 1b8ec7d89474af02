import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runBp, tempHome } from './helpers.js';

const home = tempHome();
afterAll(() => rmSync(home, { recursive: true, force: true }));

const CSV_DIR =
  process.env.BP_CATALOG_CSV_DIR ?? fileURLToPath(new URL('../../../../shared/catalog/', import.meta.url));

/** The source CSV rows, read here independently of @bp/pricing. */
function sourceRows(provider: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(`${CSV_DIR}${provider}.csv`, 'utf8').trim().split('\n');
  const columns = header!.split(',');
  return lines.map((line) =>
    Object.fromEntries(line.split(',').map((value, index) => [columns[index], value])),
  );
}

describe('bp estimate', () => {
  it('returns the cheapest AWS type in us-east-1 for 2 vCPU / 8 GB, at its catalog price', async () => {
    const result = await runBp(
      ['estimate', '--cpu', '2', '--memory', '8', '--provider', 'aws', '--region', 'us-east-1', '--json'],
      home,
    );
    expect(result.code, result.stderr).toBe(0);
    const estimate = JSON.parse(result.stdout);
    const fitting = sourceRows('aws').filter(
      (row) =>
        row.region === 'us-east-1' &&
        row.price_hourly_usd !== '' &&
        Number(row.vcpus) >= 2 &&
        Number(row.memory_gib) >= 8,
    );
    const lowest = Math.min(...fitting.map((row) => Number(row.price_hourly_usd)));
    expect(estimate.cheapest).toMatchObject({
      provider: 'aws',
      region: 'us-east-1',
      hourlyUsd: lowest,
      totalUsd: lowest * 24,
    });
    const row = fitting.find((candidate) => candidate.instance_type === estimate.cheapest.instanceType)!;
    expect(Number(row.price_hourly_usd)).toBe(estimate.cheapest.hourlyUsd);
    expect(estimate.spec).toMatchObject({ cpu: 2, memoryGb: 8, gpuCount: 0, spot: false });
    expect(estimate.options.length).toBeGreaterThan(0);
  });

  it('--compare ranks every provider × region × instance that fits, cheapest first, across all three clouds', async () => {
    const result = await runBp(['estimate', '--cpu', '2', '--memory', '8', '--compare', '--json'], home);
    expect(result.code, result.stderr).toBe(0);
    const { options } = JSON.parse(result.stdout);
    expect(new Set(options.map((option: { provider: string }) => option.provider))).toEqual(
      new Set(['aws', 'gcp', 'azure']),
    );
    const prices = options.map((option: { hourlyUsd: number }) => option.hourlyUsd);
    expect(prices).toEqual([...prices].sort((left: number, right: number) => left - right));
    const gcpFitting = sourceRows('gcp').filter(
      (row) => row.price_hourly_usd !== '' && Number(row.vcpus) >= 2 && Number(row.memory_gib) >= 8,
    );
    expect(options.filter((option: { provider: string }) => option.provider === 'gcp')).toHaveLength(
      gcpFitting.length,
    );
  });

  it('a GPU request returns only types with that GPU model', async () => {
    const result = await runBp(
      [
        'estimate',
        '--cpu',
        '4',
        '--memory',
        '16',
        '--gpu',
        '1',
        '--gpu-model',
        'A100',
        '--compare',
        '--json',
      ],
      home,
    );
    expect(result.code, result.stderr).toBe(0);
    const { options, cheapest } = JSON.parse(result.stdout);
    expect(options.length).toBeGreaterThan(0);
    for (const option of options) {
      expect(option.gpuModel).toMatch(/^A100/);
      expect(option.gpuCount).toBeGreaterThanOrEqual(1);
    }
    expect(cheapest.gpuModel).toMatch(/^A100/);
  });

  it('prices a blueprint directory, and says what is wrong with a request it cannot price', async () => {
    const hello = fileURLToPath(new URL('../../../examples/hello', import.meta.url));
    const result = await runBp(['estimate', hello, '--provider', 'gcp', '--json'], home);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).spec).toMatchObject({ cpu: 1, memoryGb: 0.5 });
    const local = await runBp(['estimate', hello, '--provider', 'local'], home);
    expect(local.code).toBe(2);
    expect(local.stderr.trim()).toMatch(/^bp: --provider: the price catalog has no 'local'/);
    const nothing = await runBp(['estimate', '--memory', '4'], home);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr.trim()).toMatch(/--cpu/);
  });
});

describe('bp catalog', () => {
  it('info names the sources, dates and row counts', async () => {
    const result = await runBp(['catalog', 'info', '--json'], home);
    expect(result.code, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(info.origin).toBe('shipped');
    expect(info.providers.aws.rows).toBe(sourceRows('aws').length);
    expect(info.providers.gcp.rows).toBe(sourceRows('gcp').length);
    expect(info.providers.azure.rows).toBe(sourceRows('azure').length);
  });

  it('update refuses a file that is not a catalog, with the file and reason', async () => {
    const bogus = `${home}/bogus.json`;
    writeFileSync(bogus, '{"format":"nope"}');
    const result = await runBp(['catalog', 'update', '--from', bogus], home);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/bogus\.json/);
  });
});
