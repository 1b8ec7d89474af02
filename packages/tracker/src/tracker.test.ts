import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '@bp/provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ALLOWED_TRANSITIONS,
  type DeploymentStatus,
  type DeploymentStore,
  type NewDeployment,
  newDeploymentId,
  openTracker,
  TransitionError,
} from './index.js';

const HOUR = 3_600_000;
const STATUSES = Object.keys(ALLOWED_TRANSITIONS) as DeploymentStatus[];
/** The moves that bring a fresh `pending` record to each status. */
const PATH_TO: Record<DeploymentStatus, DeploymentStatus[]> = {
  pending: [],
  provisioning: ['provisioning'],
  running: ['provisioning', 'running'],
  terminating: ['terminating'],
  terminated: ['terminating', 'terminated'],
  failed: ['failed'],
};

let directory: string;
let store: DeploymentStore;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'bp-tracker-'));
  store = openTracker({ path: join(directory, 'state', 'tracker.db') });
});

afterEach(async () => {
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

function newDeployment(overrides: Partial<NewDeployment> = {}): NewDeployment {
  return {
    name: 'web',
    target: 'local',
    provider: 'local',
    spec: { image: 'nginx' },
    expiresAt: new Date(Date.now() + HOUR),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function createAt(status: DeploymentStatus) {
  const record = await store.create(newDeployment());
  for (const step of PATH_TO[status]) await store.transition(record.id, step);
  return (await store.get(record.id))!;
}

describe('newDeploymentId', () => {
  it('is bp- and 6 characters of [0-9a-z], and does not repeat in 1000 draws', () => {
    const ids = Array.from({ length: 1000 }, newDeploymentId);
    for (const id of ids) expect(id).toMatch(/^bp-[0-9a-z]{6}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});

describe('create and get', () => {
  it('creates a pending record at version 1 with an audit row from null, optional fields absent', async () => {
    const expiresAt = new Date(Date.now() + HOUR);
    const record = await store.create(newDeployment({ expiresAt, tags: { team: 'a' } }));
    expect(record).toMatchObject({
      name: 'web',
      status: 'pending',
      version: 1,
      hourlyUsd: 0,
      resourceIds: [],
      lastLogLines: [],
      attempts: [],
    });
    expect(record.id).toMatch(/^bp-[0-9a-z]{6}$/);
    expect(record.expiresAt).toEqual(expiresAt);
    expect(record.tags).toEqual({ team: 'a' });
    for (const key of [
      'region',
      'instanceType',
      'blueprintDir',
      'endpoint',
      'provisionedAt',
      'startedAt',
      'stoppedAt',
      'reason',
    ])
      expect(key in record).toBe(false);
    expect(await store.get(record.id)).toEqual(record);
    const [row, ...more] = await store.audit(record.id);
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      deploymentId: record.id,
      from: null,
      to: 'pending',
      actor: `pid ${process.pid}`,
    });
  });

  it('round-trips every field, dates as Date objects', async () => {
    const at = new Date(Date.now() - 1000);
    const input = newDeployment({
      id: 'bp-custom1',
      region: 'eu-west-1',
      instanceType: 't3.micro',
      blueprintDir: '/srv/blueprint',
      hourlyUsd: 0.0104,
      spec: { nested: { list: [1, 2] }, flag: true },
      attempts: [
        {
          target: 'aws:eu-west-1',
          provider: 'aws',
          region: 'eu-west-1',
          outcome: 'capacity',
          reason: 'no t3',
          at,
        },
      ],
    });
    const record = await store.create(input);
    expect(await store.get('bp-custom1')).toEqual({ ...record });
    expect(record).toMatchObject({
      id: 'bp-custom1',
      region: 'eu-west-1',
      instanceType: 't3.micro',
      blueprintDir: '/srv/blueprint',
      hourlyUsd: 0.0104,
      spec: input.spec,
    });
    expect(record.attempts[0]?.at).toBeInstanceOf(Date);
    expect(record.attempts[0]).toEqual(input.attempts![0]);
  });

  it('refuses a duplicate explicit id and invalid input with a ValidationError naming the field', async () => {
    await store.create(newDeployment({ id: 'bp-taken' }));
    const duplicate = await rejection(store.create(newDeployment({ id: 'bp-taken' })));
    expect(ValidationError.isInstance(duplicate) && duplicate.path).toBe('id');
    for (const [overrides, path] of [
      [{ name: '' }, 'name'],
      [{ id: 'Not An Id' }, 'id'],
      [{ expiresAt: new Date(Number.NaN) }, 'expiresAt'],
      [{ hourlyUsd: -1 }, 'hourlyUsd'],
    ] as const) {
      const error = await rejection(store.create(newDeployment(overrides)));
      expect(ValidationError.isInstance(error) && error.path).toBe(path);
    }
    expect(await store.list()).toHaveLength(1);
  });

  it('returns undefined from get for an unknown id', async () => {
    expect(await store.get('bp-nope00')).toBeUndefined();
  });
});

describe('resolve', () => {
  it('finds an exact id, else a unique prefix', async () => {
    const first = await store.create(newDeployment({ id: 'bp-abc123' }));
    await store.create(newDeployment({ id: 'bp-abc1234' }));
    await store.create(newDeployment({ id: 'bp-xyz999' }));
    expect((await store.resolve('bp-abc123')).id).toBe(first.id);
    expect((await store.resolve('bp-x')).id).toBe('bp-xyz999');
  });

  it('throws NotFoundError for an unknown id or prefix', async () => {
    await store.create(newDeployment({ id: 'bp-abc123' }));
    const error = await rejection(store.resolve('bp-q'));
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'deployment', id: 'bp-q' });
  });

  it('throws a ValidationError naming at most 5 candidates for an ambiguous prefix', async () => {
    for (let index = 0; index < 7; index++) await store.create(newDeployment({ id: `bp-aaa${index}` }));
    const error = await rejection(store.resolve('bp-aa'));
    expect(ValidationError.isInstance(error)).toBe(true);
    const named = (error as Error).message.match(/bp-aaa\d/g) ?? [];
    expect(named).toEqual(['bp-aaa0', 'bp-aaa1', 'bp-aaa2', 'bp-aaa3', 'bp-aaa4']);
    expect((await rejection(store.resolve(''))) instanceof ValidationError).toBe(true);
  });
});

describe('list', () => {
  it('returns records newest first and filters by status, expiresBefore, name and limit', async () => {
    const now = Date.now();
    const soon = await store.create(newDeployment({ name: 'api', expiresAt: new Date(now + HOUR) }));
    const later = await store.create(newDeployment({ name: 'web', expiresAt: new Date(now + 2 * HOUR) }));
    const latest = await store.create(newDeployment({ name: 'api', expiresAt: new Date(now + 3 * HOUR) }));
    await store.transition(later.id, 'provisioning');
    await store.transition(latest.id, 'failed');
    const ids = async (filter?: Parameters<DeploymentStore['list']>[0]) =>
      (await store.list(filter)).map((record) => record.id);

    expect(await ids()).toEqual([latest.id, later.id, soon.id]);
    expect(await ids({ status: ['pending', 'provisioning'] })).toEqual([later.id, soon.id]);
    expect(await ids({ status: [] })).toEqual([]);
    expect(await ids({ expiresBefore: new Date(now + 2.5 * HOUR) })).toEqual([later.id, soon.id]);
    expect(await ids({ name: 'api' })).toEqual([latest.id, soon.id]);
    expect(await ids({ limit: 2 })).toEqual([latest.id, later.id]);
    expect(
      await ids({ name: 'api', status: ['pending'], expiresBefore: new Date(now + 10 * HOUR), limit: 5 }),
    ).toEqual([soon.id]);
  });
});

describe('transition', () => {
  for (const from of STATUSES) {
    for (const to of ALLOWED_TRANSITIONS[from]) {
      it(`moves ${from} -> ${to} and writes one audit row`, async () => {
        const before = await createAt(from);
        const auditBefore = await store.audit(before.id);
        const after = await store.transition(before.id, to, { reason: 'because', actor: 'test' });
        expect(after.status).toBe(to);
        expect(after.version).toBe(before.version + 1);
        const audit = await store.audit(before.id);
        expect(audit).toHaveLength(auditBefore.length + 1);
        expect(audit.at(-1)).toMatchObject({ from, to, reason: 'because', actor: 'test' });
        expect(audit.at(-1)!.seq).toBeGreaterThan(auditBefore.at(-1)!.seq);
      });
    }
  }

  const illegal = STATUSES.flatMap((from) =>
    STATUSES.filter((to) => !ALLOWED_TRANSITIONS[from].includes(to)).map((to) => [from, to] as const),
  );
  it('has the illegal moves the spec names', () => {
    expect(illegal).toContainEqual(['terminated', 'running']);
    expect(illegal).toContainEqual(['pending', 'terminated']);
    expect(ALLOWED_TRANSITIONS.terminated).toEqual([]);
  });
  for (const [from, to] of illegal) {
    it(`refuses ${from} -> ${to} with a TransitionError and writes nothing`, async () => {
      const before = await createAt(from);
      const auditBefore = await store.audit(before.id);
      const error = await rejection(
        store.transition(before.id, to, { patch: { endpoint: 'http://changed' } }),
      );
      expect(TransitionError.isInstance(error)).toBe(true);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ deploymentId: before.id, current: from, to });
      expect((error as Error).message).toContain(`from ${from} to ${to}`);
      expect(await store.get(before.id)).toEqual(before);
      expect(await store.audit(before.id)).toEqual(auditBefore);
    });
  }

  it('compare-and-set: moves only when the current status is in `from`, else throws with `current` and writes nothing', async () => {
    const record = await store.create(newDeployment());
    const error = await rejection(store.transition(record.id, 'provisioning', { from: ['failed'] }));
    expect(TransitionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ current: 'pending', expected: ['failed'], to: 'provisioning' });
    expect(await store.get(record.id)).toEqual(record);
    expect(await store.audit(record.id)).toHaveLength(1);
    expect((await store.transition(record.id, 'provisioning', { from: ['pending'] })).status).toBe(
      'provisioning',
    );
    const second = await rejection(store.transition(record.id, 'provisioning', { from: ['pending'] }));
    expect(second).toMatchObject({ current: 'provisioning' });
  });

  it('sets startedAt on the first move to running and stoppedAt on terminated or failed, and keeps the reason', async () => {
    const record = await createAt('running');
    expect(record.provisionedAt).toBeInstanceOf(Date);
    expect(record.provisionedAt!.getTime()).toBeLessThanOrEqual(record.startedAt!.getTime());
    expect(record.startedAt).toBeInstanceOf(Date);
    expect(record.stoppedAt).toBeUndefined();
    const failed = await store.transition(record.id, 'failed', { reason: 'health check timed out' });
    expect(failed.startedAt).toEqual(record.startedAt);
    expect(failed.stoppedAt).toBeInstanceOf(Date);
    expect(failed.reason).toBe('health check timed out');
    const terminated = await store.transition(
      (await store.transition(record.id, 'terminating')).id,
      'terminated',
    );
    expect(terminated.stoppedAt!.getTime()).toBeGreaterThanOrEqual(failed.stoppedAt!.getTime());
    expect(terminated.reason).toBe('health check timed out');
    const progress = await store.transition((await store.create(newDeployment())).id, 'provisioning', {
      reason: 'chose local',
    });
    expect(progress.reason).toBeUndefined();
  });

  it('writes the patch in the same transaction, and nothing when the patch is invalid', async () => {
    const record = await store.create(newDeployment());
    const moved = await store.transition(record.id, 'provisioning', {
      patch: { resourceIds: ['container-1'], endpoint: 'http://127.0.0.1:8080' },
    });
    expect(moved).toMatchObject({
      status: 'provisioning',
      resourceIds: ['container-1'],
      endpoint: 'http://127.0.0.1:8080',
      version: 2,
    });
    const error = await rejection(
      store.transition(record.id, 'running', { patch: { hourlyUsd: Number.NaN } }),
    );
    expect(ValidationError.isInstance(error) && error.path).toBe('hourlyUsd');
    expect(await store.get(record.id)).toEqual(moved);
    expect(await store.audit(record.id)).toHaveLength(2);
  });

  it('throws NotFoundError for an unknown id', async () => {
    expect(NotFoundError.isInstance(await rejection(store.transition('bp-nope00', 'failed')))).toBe(true);
  });
});

describe('update', () => {
  it('changes non-status fields, clears with null, bumps version, writes no audit row', async () => {
    const record = await store.create(newDeployment({ region: 'eu' }));
    const updated = await store.update(record.id, {
      endpoint: 'http://x',
      region: null,
      tags: { a: 'b' },
      lastLogLines: ['one', 'two'],
      hourlyUsd: 0.5,
    });
    expect(updated).toMatchObject({
      status: 'pending',
      endpoint: 'http://x',
      tags: { a: 'b' },
      lastLogLines: ['one', 'two'],
      hourlyUsd: 0.5,
      version: 2,
    });
    expect('region' in updated).toBe(false);
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(record.updatedAt.getTime());
    expect(await store.audit(record.id)).toHaveLength(1);
  });

  it('refuses status, unknown keys and clearing required fields', async () => {
    const record = await store.create(newDeployment());
    for (const [patch, path] of [
      [{ status: 'running' }, 'status'],
      [{ version: 9 }, 'version'],
      [{ target: null }, 'target'],
      [{ expiresAt: 'tomorrow' }, 'expiresAt'],
    ] as const) {
      const error = await rejection(store.update(record.id, patch as never));
      expect(ValidationError.isInstance(error) && error.path).toBe(path);
    }
    expect(await store.get(record.id)).toEqual(record);
  });
});

describe('audit', () => {
  it('throws NotFoundError for an unknown deployment', async () => {
    expect(NotFoundError.isInstance(await rejection(store.audit('bp-nope00')))).toBe(true);
  });
});

describe('database file', () => {
  it('creates the directory and a 0600 database file, in WAL mode', async () => {
    const path = join(directory, 'state', 'tracker.db');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await store.create(newDeployment());
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
  });

  it('keeps installationId across reopen, and gives another database another one', async () => {
    const path = join(directory, 'state', 'tracker.db');
    const id = store.installationId;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const record = await store.create(newDeployment());
    await store.close();
    store = openTracker({ path });
    expect(store.installationId).toBe(id);
    expect(await store.get(record.id)).toEqual(record);
    const other = openTracker({ path: join(directory, 'other.db') });
    expect(other.installationId).not.toBe(id);
    await other.close();
  });
});

describe('leases', () => {
  it('grants a free lease, renews it for its holder, refuses others until it expires or is released', async () => {
    expect(await store.acquireLease('reaper', 'monitor-a', 60_000)).toBe(true);
    expect(await store.acquireLease('reaper', 'monitor-b', 60_000)).toBe(false);
    expect(await store.acquireLease('reaper', 'monitor-a', 60_000)).toBe(true);
    await store.releaseLease('reaper', 'monitor-b');
    expect(await store.acquireLease('reaper', 'monitor-b', 60_000)).toBe(false);
    await store.releaseLease('reaper', 'monitor-a');
    expect(await store.acquireLease('reaper', 'monitor-b', 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await store.acquireLease('reaper', 'monitor-a', 60_000)).toBe(true);
  });
});

describe('scale', () => {
  it('lists 10,000 records', async () => {
    let started = performance.now();
    for (let index = 0; index < 10_000; index++) {
      await store.create(
        newDeployment({
          name: `service-${index % 50}`,
          tags: { team: 'scale' },
          attempts: [{ target: 'local', provider: 'local', outcome: 'ok', at: new Date() }],
        }),
      );
    }
    const createMs = performance.now() - started;
    started = performance.now();
    const records = await store.list();
    const listMs = performance.now() - started;
    expect(records).toHaveLength(10_000);
    started = performance.now();
    const running = await store.list({ status: ['running'] });
    const filteredMs = performance.now() - started;
    expect(running).toHaveLength(0);
    console.log(
      `10,000 creates: ${createMs.toFixed(0)} ms; list() of 10,000: ${listMs.toFixed(1)} ms; list({status:['running']}): ${filteredMs.toFixed(2)} ms`,
    );
  });
});
