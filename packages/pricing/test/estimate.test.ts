import { NotFoundError, ValidationError } from '@bp/provider';
import { describe, expect, it } from 'vitest';
import { estimateCost, HOURS_PER_MONTH, QOS_MULTIPLIERS, type QosOptions } from '../src/index.js';
import { csvLine, HAVE_CSVS, readCsv } from './csv.js';
import { request } from './request.js';

describe.skipIf(!HAVE_CSVS)('estimateCost', () => {
  it('prices the cheapest fitting instance: hourly, total and monthly (730 h)', () => {
    const estimate = estimateCost({
      request: request(),
      provider: 'aws',
      region: 'us-east-1',
      durationHours: 24,
    });
    const lowest = Math.min(
      ...readCsv('aws')
        .filter(
          (row) => row.region === 'us-east-1' && row.price !== null && row.vcpus! >= 2 && row.memoryGib! >= 8,
        )
        .map((row) => row.price!),
    );
    expect(estimate.computeHourlyUsd).toBe(lowest);
    expect(csvLine(estimate.instance.source.file, estimate.instance.source.line).price).toBe(lowest);
    expect(estimate.hourlyUsd).toBe(lowest);
    expect(estimate.totalUsd).toBeCloseTo(lowest * 24, 12);
    expect(estimate.monthlyUsd).toBeCloseTo(lowest * HOURS_PER_MONTH, 12);
    expect(estimate.adjustments).toEqual([]);
    expect(estimate.multiplier).toBe(1);
    expect(estimate.storageUsd).toBe(0); // no disk asked for
  });

  it('prices GCP disks from the sourced pd-balanced rate and leaves unsourced ones null', () => {
    const gcp = estimateCost({
      request: request({ storageGb: 100 }),
      provider: 'gcp',
      region: 'us-central1',
      durationHours: 730,
    });
    expect(gcp.storage).toMatchObject({ gb: 100, diskType: 'pd-balanced', usdPerGbMonth: 0.1 });
    expect(gcp.storage.monthlyUsd).toBeCloseTo(10, 12);
    expect(gcp.storageUsd).toBeCloseTo(10, 12);
    expect(gcp.storage.source?.commit).toBe('fd66b26ff84fee5cdd94f341ea89206e76c06b99');
    expect(gcp.hourlyUsd).toBeCloseTo(gcp.computeHourlyUsd + 10 / 730, 12);

    for (const [provider, region] of [
      ['aws', 'us-east-1'],
      ['azure', 'eastus'],
    ] as const) {
      const estimate = estimateCost({
        request: request({ storageGb: 100 }),
        provider,
        region,
        durationHours: 10,
      });
      expect(estimate.storageUsd).toBeNull();
      expect(estimate.storage).toMatchObject({ usdPerGbMonth: null, monthlyUsd: null, totalUsd: null });
      expect(estimate.storage.note).toBeTruthy();
      expect(estimate.notes.join(' ')).toMatch(/storage not included/);
      expect(estimate.hourlyUsd).toBe(estimate.computeHourlyUsd);
    }
  });

  it('applies QoS as explicit multipliers, listed with their reasons', () => {
    const base = estimateCost({
      request: request(),
      provider: 'gcp',
      region: 'us-central1',
      durationHours: 10,
    });
    const qos: QosOptions = { priority: 'high', sla: '99.9' };
    const adjusted = estimateCost({
      request: request(),
      provider: 'gcp',
      region: 'us-central1',
      durationHours: 10,
      qos,
    });
    expect(adjusted.adjustments).toEqual([
      { name: 'priority:high', multiplier: 1.2, reason: QOS_MULTIPLIERS.priority.high.reason },
      { name: 'sla:99.9', multiplier: 1.1, reason: QOS_MULTIPLIERS.sla['99.9'].reason },
    ]);
    expect(adjusted.multiplier).toBeCloseTo(1.32, 12);
    expect(adjusted.hourlyUsd).toBeCloseTo(base.hourlyUsd * 1.32, 12);
    expect(adjusted.totalUsd).toBeCloseTo(base.hourlyUsd * 1.32 * 10, 12);
    const replicated = estimateCost({ request: request(), durationHours: 1, qos: { sla: '99.95' } });
    expect(replicated.adjustments).toEqual([expect.objectContaining({ name: 'sla:99.95', multiplier: 2 })]);
    expect(() =>
      estimateCost({ request: request(), durationHours: 1, qos: { sla: '100' as QosOptions['sla'] } }),
    ).toThrow(expect.objectContaining({ path: 'qos.sla' }));
  });

  it('with spot: the spot price where known, a note where not', () => {
    const gcp = estimateCost({ request: request({ spot: true }), provider: 'gcp', durationHours: 1 });
    expect(gcp.instance.spot).toBe(true);
    expect(gcp.computeHourlyUsd).toBe(csvLine('gcp.csv', gcp.instance.source.line).spot);
    const aws = estimateCost({ request: request({ spot: true }), provider: 'aws', durationHours: 1 });
    expect(aws.instance).toMatchObject({ spot: false, spotPriceKnown: false });
    expect(aws.notes.join(' ')).toMatch(/no spot price is known/);
  });

  it('prices a named instance type', () => {
    const estimate = estimateCost({
      request: request(),
      instanceType: 'Standard_D2s_v3',
      region: 'westeurope',
      durationHours: 2,
    });
    expect(estimate.instance).toMatchObject({ provider: 'azure', hourlyUsd: 0.12 });
    expect(estimate.totalUsd).toBeCloseTo(0.24, 12);
  });

  it('refuses bad input and says when nothing fits', () => {
    expect(() => estimateCost({ request: request(), durationHours: 0 })).toThrow(
      expect.objectContaining({ path: 'durationHours' }),
    );
    expect(() => estimateCost({ request: request(), durationHours: 0 })).toThrow(ValidationError);
    const huge = () => estimateCost({ request: request({ cpu: 100_000 }), durationHours: 1 });
    expect(huge).toThrow(NotFoundError);
    expect(huge).toThrow(/no instance type in the price catalog fits 100000 vCPU/);
    expect(() => estimateCost({ request: request(), provider: 'digitalocean', durationHours: 1 })).toThrow(
      NotFoundError,
    );
  });
});
