import { CapacityError, ProviderCallError, type ResourceRequestV1 } from '@bp/provider';
import { describe, expect, it } from 'vitest';
import {
  type HostCandidate,
  type HostResources,
  parseResources,
  parseSurvey,
  selectHost,
} from './host-resources.js';

const request = (memoryGb: number, cpu = 1, storageGb = 1): ResourceRequestV1 => ({
  cpu,
  memoryGb,
  storageGb,
  gpuCount: 0,
  spot: false,
});
const host = (label: string, resources: Partial<HostResources>): HostCandidate<string> => ({
  host: label,
  label,
  resources: { cpu: 4, memoryGb: 8, storageGb: 100, unfit: [], ...resources },
});
const unreachable = (label: string): HostCandidate<string> => ({
  host: label,
  label,
  error: new ProviderCallError({
    provider: 'ssh',
    operation: 'connect',
    message: `cannot reach ${label}`,
    isRetryable: true,
  }),
});

describe('parseResources', () => {
  it('reads the probe output (KiB to GiB; the last disk line wins)', () => {
    const parsed = parseResources(
      'cpu 8\nmemory 4194304\ndisk 1048576\ndisk 52428800\nunfit timeout is missing\nnoise\n',
    );
    expect(parsed).toEqual({ cpu: 8, memoryGb: 4, storageGb: 50, unfit: ['timeout is missing'] });
  });
});

describe('parseSurvey', () => {
  it('splits the resources from the description at the --- line', () => {
    const parsed = parseSurvey('cpu 2\nmemory 2097152\ndisk 1048576\n---\nmeta {"a":1}\nage 3\ncontainer \n');
    expect(parsed.resources).toEqual({ cpu: 2, memoryGb: 2, storageGb: 1, unfit: [] });
    expect(parsed.description).toBe('meta {"a":1}\nage 3\ncontainer \n');
  });

  it('reads description lines as no resources, and a survey without an id as no description', () => {
    const parsed = parseSurvey('cpu 4\nunfit no usable Docker engine\n---\ndisk 5\nmemory 6\n');
    expect(parsed.resources).toEqual({
      cpu: 4,
      memoryGb: 0,
      storageGb: 0,
      unfit: ['no usable Docker engine'],
    });
    expect(parseSurvey('cpu 1\n---\n').description).toBe('');
  });
});

describe('selectHost', () => {
  it('picks the host that fits with the most available memory', () => {
    const chosen = selectHost(
      [host('a', { memoryGb: 2 }), host('b', { memoryGb: 6 }), host('c', { memoryGb: 4 })],
      request(1),
    );
    expect(chosen.label).toBe('b');
  });

  it('skips hosts without room, unfit or unreachable', () => {
    const candidates = [
      host('small', { memoryGb: 1 }),
      host('no-docker', { memoryGb: 64, unfit: ['no usable Docker engine'] }),
      unreachable('down'),
      host('few-cpus', { memoryGb: 32, cpu: 1 }),
      host('full-disk', { memoryGb: 32, storageGb: 0.5 }),
      host('fits', { memoryGb: 3 }),
    ];
    expect(selectHost(candidates, request(2, 2, 1)).label).toBe('fits');
  });

  it('keeps the list order on ties', () => {
    expect(selectHost([host('a', {}), host('b', {})], request(1)).label).toBe('a');
  });

  it('refuses with CapacityError naming each host when none has room', () => {
    let error: unknown;
    try {
      selectHost([host('a', { memoryGb: 1 }), unreachable('b')], request(2));
    } catch (caught) {
      error = caught;
    }
    expect(CapacityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('a: 1 GiB memory available, 2 asked');
    expect((error as Error).message).toContain('b: cannot reach b');
  });

  it("passes the first host's error on when no host answered", () => {
    expect(() => selectHost([unreachable('a'), unreachable('b')], request(1))).toThrow('cannot reach a');
  });
});
