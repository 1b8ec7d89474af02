import type { ResourceRequestV1 } from '@bp/provider';
import { ValidationError } from '@bp/provider';
import { describe, expect, it } from 'vitest';
import { cheapest, compare, findInstanceTypes, type InstanceMatch } from '../src/index.js';
import { type CsvRow, csvLine, HAVE_CSVS, readCsv, seededRandom } from './csv.js';
import { request } from './request.js';

const fits = (row: CsvRow, cpu: number, memory: number) =>
  row.price !== null &&
  row.vcpus !== null &&
  row.memoryGib !== null &&
  row.vcpus >= cpu &&
  row.memoryGib >= memory;

/** The CSV row a result says it came from, checked field by field. */
function expectTracesToCsv(match: InstanceMatch): CsvRow {
  const row = csvLine(match.source.file, match.source.line);
  expect(row.provider).toBe(match.provider);
  expect(row.instanceType).toBe(match.instanceType);
  expect(row.region).toBe(match.region);
  expect(row.price).toBe(match.onDemandHourlyUsd);
  expect(row.spot ?? undefined).toBe(match.spotHourlyUsd);
  expect(row.vcpus).toBe(match.vcpus);
  expect(row.memoryGib).toBe(match.memoryGb);
  expect(row.gpuCount ?? 0).toBe(match.gpuCount);
  expect(row.gpuMemoryGib).toBe(match.gpuMemoryGb);
  if (row.gpuModel) expect(match.gpuModel).toBe(row.gpuModel);
  expect(match.hourlyUsd).toBe(match.spot ? row.spot : row.price);
  return row;
}

describe.skipIf(!HAVE_CSVS)('instance-type mapping against the source CSVs', () => {
  it('bp estimate --cpu 2 --memory 8 --provider aws --region us-east-1: the cheapest fitting CSV row', () => {
    const candidates = readCsv('aws').filter((row) => row.region === 'us-east-1' && fits(row, 2, 8));
    const lowest = Math.min(...candidates.map((row) => row.price!));
    const tied = candidates.filter((row) => row.price === lowest).map((row) => row.instanceType);

    const match = cheapest({ request: request(), provider: 'aws', region: 'us-east-1' })!;
    expect(match.hourlyUsd).toBe(lowest);
    expect(tied).toContain(match.instanceType);
    expect(match).toMatchObject({ provider: 'aws', region: 'us-east-1', spot: false, spotPriceKnown: false });
    expectTracesToCsv(match);
    // Sanity check from SOURCE.md: m5.large us-east-1 is 0.096 and is among the fits.
    const all = findInstanceTypes({ request: request(), provider: 'aws', region: 'us-east-1' });
    expect(all.find((entry) => entry.instanceType === 'm5.large')?.hourlyUsd).toBe(0.096);
    expect(all).toHaveLength(candidates.length);
  });

  it('compares every fitting row of all three clouds, sorted by hourly price', () => {
    const expected = ['aws', 'gcp', 'azure'].flatMap((provider) =>
      readCsv(provider).filter((row) => fits(row, 2, 8)),
    );
    const result = compare({ request: request(), durationHours: 24 });
    expect(result.options).toHaveLength(expected.length);
    expect(new Set(result.options.map((option) => option.provider))).toEqual(
      new Set(['aws', 'gcp', 'azure']),
    );
    for (let index = 1; index < result.options.length; index++)
      expect(result.options[index]!.hourlyUsd).toBeGreaterThanOrEqual(result.options[index - 1]!.hourlyUsd);
    const first = result.options[0]!;
    expect(first.hourlyUsd).toBe(Math.min(...expected.map((row) => row.price!)));
    expect(first.totalUsd).toBeCloseTo(first.hourlyUsd * 24, 12);
    // The shape PRODUCT.md gives for `bp estimate --json`.
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['spec', 'cheapest', 'options']));
    for (const key of [
      'provider',
      'region',
      'instanceType',
      'vcpus',
      'memoryGb',
      'gpuModel',
      'gpuCount',
      'spot',
      'hourlyUsd',
      'totalUsd',
    ])
      expect(first).toHaveProperty(key);
    // `cheapest` is the first option whose price is not suspect.
    expect(result.cheapest).toEqual(result.options.find((option) => !option.suspect));
  });

  it('limits providers and regions', () => {
    const result = compare({
      request: request(),
      providers: ['gcp', 'azure'],
      regions: ['us-central1', 'eastus'],
      durationHours: 1,
    });
    expect(new Set(result.options.map((option) => `${option.provider}/${option.region}`))).toEqual(
      new Set(['gcp/us-central1', 'azure/eastus']),
    );
    expect(findInstanceTypes({ request: request(), provider: 'vultr' })).toEqual([]);
    expect(cheapest({ request: request(), provider: 'AWS', region: 'US-EAST-1' })?.region).toBe('us-east-1');
    expect(cheapest({ request: request(), region: 'mars-north1' })).toBeUndefined();
  });

  it('GPU model A100 returns A100 types only, from every cloud that has them', () => {
    const matches = findInstanceTypes({ request: request({ gpuCount: 1, gpuModel: 'a100' }) });
    expect(matches.length).toBeGreaterThan(0);
    for (const match of matches) {
      expect(match.gpuModel?.split('-')[0]).toBe('A100');
      expect(match.gpuCount).toBeGreaterThanOrEqual(1);
    }
    const types = new Set(matches.map((match) => match.instanceType));
    for (const name of [
      'p4d.24xlarge',
      'p4de.24xlarge',
      'a2-highgpu-1g',
      'a2-ultragpu-1g',
      'Standard_NC24ads_A100_v4',
    ])
      expect(types).toContain(name);
    for (const name of ['p5.48xlarge', 'a3-highgpu-8g', 'g5.xlarge', 'Standard_NC16ads_A10_v4'])
      expect(types).not.toContain(name);
    // Independent count: A100 rows in the CSVs (Azure's model comes from the size name).
    const expected = ['aws', 'gcp', 'azure']
      .flatMap((provider) => readCsv(provider))
      .filter(
        (row) =>
          fits(row, 2, 8) &&
          (row.gpuCount ?? 0) >= 1 &&
          (row.gpuModel.split('-')[0] === 'A100' ||
            (!row.gpuModel && row.instanceType.split('_').includes('A100'))),
      );
    expect(matches).toHaveLength(expected.length);
    expect(
      matches.filter((match) => match.provider === 'azure').every((match) => match.gpuModelFromName),
    ).toBe(true);
  });

  it('GPU model A100-80GB asks for the 80 GB part', () => {
    const matches = findInstanceTypes({ request: request({ gpuCount: 1, gpuModel: 'A100-80GB' }) });
    const types = new Set(matches.map((match) => match.instanceType));
    expect(types).toContain('p4de.24xlarge'); // AWS says A100 with 80 GiB per GPU
    expect(types).toContain('a2-ultragpu-1g');
    expect(types).not.toContain('p4d.24xlarge');
    expect(types).not.toContain('a2-highgpu-1g');
    // H100 variants: the chip matches all of them, MEGA only itself.
    const h100 = findInstanceTypes({ request: request({ gpuCount: 8, gpuModel: 'H100' }) });
    expect(new Set(h100.map((match) => match.gpuModel))).toEqual(
      new Set(['H100', 'H100-80GB', 'H100-80GB-MEGA']),
    );
    const mega = findInstanceTypes({ request: request({ gpuCount: 8, gpuModel: 'h100-80gb-mega' }) });
    expect(new Set(mega.map((match) => match.gpuModel))).toEqual(new Set(['H100-80GB-MEGA']));
  });

  it('gpuCount is a minimum; a model with gpuCount 0 still needs one GPU', () => {
    const four = findInstanceTypes({
      request: request({ gpuCount: 4 }),
      provider: 'gcp',
      region: 'us-central1',
    });
    expect(four.length).toBeGreaterThan(0);
    expect(four.every((match) => match.gpuCount >= 4)).toBe(true);
    const modelOnly = cheapest({ request: request({ gpuCount: 0, gpuModel: 'L4' }) })!;
    expect(modelOnly.gpuModel).toBe('L4');
    expect(modelOnly.gpuCount).toBeGreaterThanOrEqual(1);
  });

  it('every price in 200 random results traces back to its CSV row', () => {
    const all = findInstanceTypes({ request: request({ cpu: 1, memoryGb: 1 }) });
    const spot = findInstanceTypes({ request: request({ cpu: 1, memoryGb: 1, spot: true }) });
    expect(all.length).toBeGreaterThan(1000);
    const random = seededRandom(20260730);
    for (let sample = 0; sample < 200; sample++) {
      const pool = sample % 2 ? spot : all;
      expectTracesToCsv(pool[Math.floor(random() * pool.length)]!);
    }
  });

  it('spot: uses the spot price where the row has one, says so where it has not', () => {
    const gcpRow = readCsv('gcp').find(
      (row) => row.instanceType === 'n2-standard-2' && row.region === 'us-central1',
    )!;
    const spotMatch = findInstanceTypes({
      request: request({ spot: true }),
      instanceType: 'n2-standard-2',
      region: 'us-central1',
    })[0]!;
    expect(spotMatch).toMatchObject({
      spot: true,
      spotPriceKnown: true,
      hourlyUsd: gcpRow.spot,
      onDemandHourlyUsd: gcpRow.price,
    });

    const awsMatch = cheapest({
      request: request({ spot: true }),
      instanceType: 'm5.large',
      region: 'us-east-1',
    })!;
    expect(awsMatch).toMatchObject({
      spot: false,
      spotPriceKnown: false,
      hourlyUsd: 0.096,
      onDemandHourlyUsd: 0.096,
    });
    expect(awsMatch.spotHourlyUsd).toBeUndefined();

    const noSpot = readCsv('gcp').find((row) => row.spot === null && row.price !== null)!;
    const noSpotMatch = findInstanceTypes({
      request: request({ cpu: 0, memoryGb: 0, spot: true }),
      instanceType: noSpot.instanceType,
      region: noSpot.region,
    })[0]!;
    expect(noSpotMatch).toMatchObject({ spot: false, spotPriceKnown: false, hourlyUsd: noSpot.price });

    // Ranking uses the price used: spot where known, else on-demand.
    const ranked = findInstanceTypes({ request: request({ spot: true }), limit: 500 });
    for (let index = 1; index < ranked.length; index++)
      expect(ranked[index]!.hourlyUsd).toBeGreaterThanOrEqual(ranked[index - 1]!.hourlyUsd);
    expect(ranked[0]!.spot).toBe(true);
    // Without spot requested, the spot price is reported but not used.
    const onDemand = cheapest({ request: request(), instanceType: 'n2-standard-2', region: 'us-central1' })!;
    expect(onDemand).toMatchObject({
      spot: false,
      spotPriceKnown: true,
      hourlyUsd: gcpRow.price,
      spotHourlyUsd: gcpRow.spot,
    });
  });

  it('flags shared-core and burstable types', () => {
    const tiny = request({ cpu: 0, memoryGb: 0 });
    const one = (instanceType: string, region: string) =>
      findInstanceTypes({ request: tiny, instanceType, region })[0]!;
    for (const name of ['e2-micro', 'e2-small', 'e2-medium', 'f1-micro', 'g1-small'])
      expect(one(name, 'us-central1')).toMatchObject({ sharedCore: true, burstable: true });
    expect(one('e2-micro', 'us-central1').vcpus).toBe(0.25);
    for (const name of ['t2.micro', 't3.micro', 't3a.micro', 't4g.micro'])
      expect(one(name, 'us-east-1')).toMatchObject({ sharedCore: false, burstable: true });
    expect(one('Standard_B2s', 'eastus')).toMatchObject({
      sharedCore: false,
      burstable: true,
      hourlyUsd: 0.0416,
    });
    expect(one('m5.large', 'us-east-1')).toMatchObject({ sharedCore: false, burstable: false });
    expect(one('e2-standard-2', 'us-central1')).toMatchObject({ sharedCore: false, burstable: false });
    expect(one('Standard_D2s_v3', 'eastus')).toMatchObject({ burstable: false });

    const quarter = request({ cpu: 0.25, memoryGb: 0.5 });
    expect(cheapest({ request: quarter, provider: 'gcp', region: 'us-central1' })!.sharedCore).toBe(true);
    const solid = findInstanceTypes({ request: quarter, excludeSharedCore: true, excludeBurstable: true });
    expect(solid.some((match) => match.sharedCore || match.burstable)).toBe(false);
  });

  it('flags the known-wrong Azure rows as suspect and keeps them', () => {
    const tiny = request({ cpu: 0, memoryGb: 0 });
    const wrong = findInstanceTypes({
      request: tiny,
      instanceType: 'Standard_D2as_v5',
      region: 'eastus',
    })[0]!;
    expect(wrong).toMatchObject({ suspect: true, hourlyUsd: 0.178 });
    expect(wrong.suspectReason).toMatch(/Windows/);
    for (const name of ['Standard_D64as_v5', 'Standard_D96as_v5', 'Standard_D2ads_v5'])
      expect(findInstanceTypes({ request: tiny, instanceType: name, region: 'eastus' })[0]!.suspect).toBe(
        true,
      );
    // SOURCE.md's correct spot-checks are not flagged.
    for (const name of [
      'Standard_D2s_v3',
      'Standard_D2s_v5',
      'Standard_D4as_v5',
      'Standard_B2s',
      'Standard_F2s_v2',
    ])
      expect(findInstanceTypes({ request: tiny, instanceType: name, region: 'eastus' })[0]!.suspect).toBe(
        false,
      );
    // eastus2 carries the Linux price of the same size: not suspect.
    expect(
      findInstanceTypes({ request: tiny, instanceType: 'Standard_D2as_v5', region: 'eastus2' })[0],
    ).toMatchObject({
      suspect: false,
      hourlyUsd: 0.086,
    });
    // A price ten times too low would win every query: flagged, and skipped by cheapest().
    const tooLow = findInstanceTypes({
      request: tiny,
      instanceType: 'Standard_F2ams_v6',
      region: 'newzealandnorth',
    })[0]!;
    expect(tooLow.suspect).toBe(true);
    expect(cheapest({ request: request() })!.suspect).toBe(false);
    expect(cheapest({ request: request(), excludeSuspect: false })!.instanceType).toBe('Standard_F2ams_v6');
    expect(
      findInstanceTypes({ request: request(), excludeSuspect: true }).some((match) => match.suspect),
    ).toBe(false);
  });

  it('never returns rows without a price or without specs', () => {
    const everything = findInstanceTypes({ request: request({ cpu: 0, memoryGb: 0 }) });
    const priced = ['aws', 'gcp', 'azure']
      .flatMap((provider) => readCsv(provider))
      .filter((row) => fits(row, 0, 0));
    expect(everything).toHaveLength(priced.length);
    const names = new Set(everything.map((match) => match.instanceType));
    expect(names).not.toContain('p2.xlarge'); // no specs in aws.csv
    expect(names).not.toContain('Basic_A0'); // no specs in azure.csv
  });

  it('refuses impossible requests with the field path', () => {
    const attempt = (bad: Partial<ResourceRequestV1>) => () => findInstanceTypes({ request: request(bad) });
    expect(attempt({ cpu: -1 })).toThrow(ValidationError);
    try {
      attempt({ memoryGb: Number.NaN })();
    } catch (error) {
      expect(ValidationError.isInstance(error) && error.path).toBe('request.memoryGb');
    }
    expect(attempt({ gpuCount: 1.5 })).toThrow(/whole number/);
  });
});
