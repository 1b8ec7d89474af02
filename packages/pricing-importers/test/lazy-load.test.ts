import { describe, expect, it, vi } from 'vitest';

const loaded = vi.hoisted(() => [] as string[]);
vi.mock('@aws-sdk/client-pricing', async (importOriginal) => {
  loaded.push('client-pricing');
  return importOriginal();
});
vi.mock('@aws-sdk/client-ec2', async (importOriginal) => {
  loaded.push('client-ec2');
  return importOriginal();
});

describe('lazy loading', () => {
  it('loads the AWS SDK only when importAws runs', async () => {
    const importers = await import('../src/index.js');
    expect(loaded).toEqual([]);
    const result = await importers.importAws({
      regions: [],
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    expect(result.rows).toEqual([]);
    expect(loaded.sort()).toEqual(['client-ec2', 'client-pricing']);
  });
});
