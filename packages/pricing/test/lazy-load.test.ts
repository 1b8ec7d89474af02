// Importing @bp/pricing must read no file and decompress nothing: `bp --help` and every command
// that never prices anything pay nothing for the catalog. Every node:fs and node:zlib function the
// package can reach is wrapped to record its calls; a positive control proves the spy sees reads.
import { describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => [] as string[]);

function recordAll<T extends Record<string, unknown>>(actual: T, module: string): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(actual)) {
    wrapped[name] =
      typeof value === 'function' && !/^[A-Z]/.test(name)
        ? (...args: unknown[]) => {
            calls.push(`${module}.${name}(${typeof args[0] === 'string' ? args[0] : ''})`);
            return (value as (...inner: unknown[]) => unknown)(...args);
          }
        : value;
  }
  return { ...wrapped, default: wrapped } as unknown as T;
}

vi.mock('node:fs', async (importOriginal) =>
  recordAll(await importOriginal<Record<string, unknown>>(), 'fs'),
);
vi.mock('node:zlib', async (importOriginal) =>
  recordAll(await importOriginal<Record<string, unknown>>(), 'zlib'),
);

describe('lazy loading', () => {
  it('importing the package reads no file; the first query reads the catalog once', async () => {
    const pricing = await import('../src/index.js');
    expect(typeof pricing.cheapest).toBe('function');
    expect(calls).toEqual([]);

    const match = pricing.cheapest({
      request: { cpu: 1, memoryGb: 1, storageGb: 0, gpuCount: 0, spot: false },
      provider: 'aws',
    });
    expect(match?.provider).toBe('aws');
    const reads = calls.filter((call) => call.startsWith('fs.readFileSync'));
    expect(reads).toEqual([`fs.readFileSync(${pricing.shippedCatalogPath()})`]);
    expect(calls.filter((call) => call.startsWith('zlib.gunzipSync'))).toHaveLength(1);

    // Later queries use the cached, indexed catalog.
    calls.length = 0;
    pricing.cheapest({ request: { cpu: 4, memoryGb: 16, storageGb: 0, gpuCount: 0, spot: true } });
    pricing.catalogInfo();
    expect(calls).toEqual([]);
  });
});
