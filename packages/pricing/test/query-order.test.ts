import { describe, expect, it } from 'vitest';
import {
  catalogInfo,
  compare,
  type FindInstanceTypesOptions,
  findInstanceTypes,
  type InstanceMatch,
} from '../src/index.js';
import { request } from './request.js';

const row = (match: InstanceMatch) => `${match.source.file}:${match.source.line}`;
const everything = (spot: boolean) => findInstanceTypes({ request: request({ cpu: 0, memoryGb: 0, spot }) });

const QUERIES: [string, FindInstanceTypesOptions][] = [
  ['2 vCPU / 8 GiB (walks the order)', { request: request() }],
  ['2 vCPU / 8 GiB, spot', { request: request({ spot: true }) }],
  ['1x A100 (sorts its own rows)', { request: request({ gpuCount: 1, gpuModel: 'A100' }) }],
  ['1x A100, spot', { request: request({ gpuCount: 1, gpuModel: 'A100', spot: true }) }],
  ['448 vCPU / 12 TiB', { request: request({ cpu: 448, memoryGb: 12_000 }) }],
  ['one instance type', { request: request(), instanceType: 'Standard_D2as_v5' }],
  [
    'one instance type, no suspect prices',
    { request: request(), instanceType: 'Standard_D2as_v5', excludeSuspect: true },
  ],
  [
    'gcp spot in two regions',
    { request: request({ spot: true }), provider: 'gcp', region: ['us-central1', 'europe-west4'] },
  ],
];

describe('query order', () => {
  it.each(QUERIES)('%s: with a limit, the first results of the same query without one', (_name, options) => {
    const all = findInstanceTypes(options);
    expect(all.length).toBeGreaterThan(1);
    for (const limit of [0, 1, 3, 10, 100])
      expect(findInstanceTypes({ ...options, limit })).toEqual(all.slice(0, limit));
  });

  it.each([false, true])(
    'spot %s: a query that sorts its own rows returns them in the order of the whole catalog',
    (spot) => {
      const whole = everything(spot);
      for (const options of [
        { request: request({ gpuCount: 1, gpuModel: 'A100', spot }) },
        { request: request({ cpu: 128, memoryGb: 1024, spot }) },
        { request: request({ spot }), instanceType: 'n2-standard-2' },
      ]) {
        const found = findInstanceTypes(options);
        // Few enough rows to be sorted on their own: under 1/8 of their provider's rows.
        for (const [provider, { rows }] of Object.entries(catalogInfo().providers))
          expect(found.filter((match) => match.provider === provider).length).toBeLessThan(rows / 8);
        const wanted = new Set(found.map(row));
        expect(whole.filter((match) => wanted.has(row(match)))).toEqual(found);
      }
    },
  );

  it('compare names the cheapest credible option even when the limit cut the list before it', () => {
    const options = { request: request(), durationHours: 24 };
    const full = compare(options);
    expect(full.options[0]!.suspect).toBe(true); // a price 10x too low leads the list
    const first = compare({ ...options, limit: 1 });
    expect(first.options).toEqual(full.options.slice(0, 1));
    expect(first.cheapest).toEqual(full.cheapest);
    expect(first.cheapest!.suspect).toBe(false);
  });
});
