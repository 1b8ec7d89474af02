// Importing @bp/pricing must read no file: `bp --help` and every command that never prices
// anything pay nothing for the catalog. The shipped catalog then loads without decompressing, so
// node:zlib (and node:crypto, which only the builder needs) is never loaded for a query. Every
// node:fs function the package can reach is wrapped to record its calls, and the package takes
// zlib and crypto through process.getBuiltinModule, which is spied on; positive controls prove
// that both spies see what they should.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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

describe('lazy loading', () => {
  it('importing the package reads no file; the first query reads the catalog once, uncompressed', async () => {
    const builtins = vi.spyOn(process, 'getBuiltinModule');
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
    expect(builtins).not.toHaveBeenCalled();

    // Later queries use the cached, indexed catalog.
    calls.length = 0;
    pricing.cheapest({ request: { cpu: 4, memoryGb: 16, storageGb: 0, gpuCount: 0, spot: true } });
    pricing.catalogInfo();
    expect(calls).toEqual([]);

    // Positive control: a gzipped JSON catalog does take node:zlib.
    const directory = mkdtempSync(join(tmpdir(), 'bp-pricing-lazy-'));
    try {
      const file = join(directory, 'catalog.json.gz');
      writeFileSync(file, gzipSync(JSON.stringify(pricing.loadCatalog().data)));
      expect(pricing.loadCatalog({ file }).origin).toBe('file');
      expect(builtins).toHaveBeenCalledWith('node:zlib');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
