import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  clockAgrees,
  type EngineFacts,
  FACTS_MAX_AGE_MS,
  readEngineFacts,
  writeEngineFacts,
} from './engine-facts.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function file(): string {
  const directory = mkdtempSync(join(tmpdir(), 'bp-engine-facts-'));
  directories.push(directory);
  return join(directory, 'cache', 'docker-engines.json');
}

const facts = (overrides: Partial<EngineFacts> = {}): EngineFacts => ({
  ncpu: 4,
  memTotal: 8 * 2 ** 30,
  osType: 'linux',
  driver: 'overlay2',
  storageLimits: false,
  clockOffsetMs: 12,
  measuredAt: 1_000_000,
  ...overrides,
});

describe('engine facts', () => {
  it('are kept per engine, 0600, for an hour', () => {
    const path = file();
    writeEngineFacts(path, 'unix:///a.sock', facts());
    writeEngineFacts(path, 'tcp://b:2376', facts({ ncpu: 8 }));
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    expect(readEngineFacts(path, 'unix:///a.sock', 1_000_000 + 1000)).toEqual(facts());
    expect(readEngineFacts(path, 'tcp://b:2376', 1_000_000)?.ncpu).toBe(8);
    expect(readEngineFacts(path, 'unix:///a.sock', 1_000_000 + FACTS_MAX_AGE_MS)).toBeUndefined();
    // A clock set back before the measurement does not make them young.
    expect(readEngineFacts(path, 'unix:///a.sock', 1_000_000 - 1)).toBeUndefined();
    expect(readEngineFacts(path, 'unix:///c.sock', 1_000_000)).toBeUndefined();
  });

  it('read nothing from a damaged or partial file', () => {
    const path = file();
    writeEngineFacts(path, 'e', facts());
    writeFileSync(path, '{not json');
    expect(readEngineFacts(path, 'e', 1_000_000)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ e: { ...facts(), ncpu: 'four' } }));
    expect(readEngineFacts(path, 'e', 1_000_000)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ e: { ...facts(), clockOffsetMs: null } }));
    expect(readEngineFacts(path, 'e', 1_000_000)).toBeUndefined();
  });

  it('keep the 16 most recently measured engines', () => {
    const path = file();
    for (let index = 0; index < 20; index++)
      writeEngineFacts(path, `e${index}`, facts({ measuredAt: index }));
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8'))).sort()).toEqual(
      Array.from({ length: 16 }, (_, index) => `e${index + 4}`).sort(),
    );
  });

  it('agree with a clock whose Date header fits the remembered offset, not with one that moved', () => {
    // The engine said 10:00:00 (whole seconds) to a call asked at 09:59:59.990 and answered at 10:00:00.010
    // by our clock: its offset lies between -10 ms and +1010 ms.
    const range = { low: -10, high: 1010 };
    expect(clockAgrees(facts({ clockOffsetMs: 12 }), range)).toBe(true);
    expect(clockAgrees(facts({ clockOffsetMs: 1040 }), range)).toBe(true);
    expect(clockAgrees(facts({ clockOffsetMs: 2000 }), range)).toBe(false);
    expect(clockAgrees(facts({ clockOffsetMs: -3_600_000 }), range)).toBe(false);
    expect(clockAgrees(facts(), undefined)).toBe(false);
  });
});
