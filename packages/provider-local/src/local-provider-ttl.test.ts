// The time to live holds on this machine without bp: nothing here calls the provider after deploying
// until the service is seen gone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from './fixture.test-helpers.js';
import {
  isPidAlive,
  isPortOpen,
  processesInGroup,
  readInstanceRecord,
  waitUntil,
} from './ground-truth.test-helpers.js';

const STOP_GRACE_MS = 1000;

let fixture: Fixture;
beforeEach(() => {
  fixture = createFixture(STOP_GRACE_MS);
});
afterEach(async () => {
  await fixture.cleanUp();
});

const STUBBORN_SERVICE =
  "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); require('node:http').createServer().listen(process.env.PORT, process.env.HOST);";

async function deployShortLived(deploymentId: string) {
  const options = fixture.options(deploymentId, { ttlMs: 3000 });
  await fixture.provider.deployInstance(options);
  const record = readInstanceRecord(fixture.stateDir, deploymentId);
  // Read from the file, not the provider. Waiting for the line matters: a service that writes after its
  // supervisor is gone meets a closed pipe (EPIPE) and usually ends early.
  const logs = join(fixture.stateDir, deploymentId, 'logs.jsonl');
  expect(await waitUntil(() => readFileSync(logs, 'utf8').includes('hello listening'), 3000)).toBe(true);
  expect(await isPortOpen(record.port)).toBe(true);
  return { record, deadline: options.expiresAt.getTime() };
}

async function waitUntilGone(servicePid: number, port: number, timeoutMs: number): Promise<boolean> {
  return waitUntil(
    async () => processesInGroup(servicePid).length === 0 && !(await isPortOpen(port)),
    timeoutMs,
  );
}

describe('time to live on this machine', () => {
  it('stops the service at its deadline', async () => {
    const started = Date.now();
    const { record, deadline } = await deployShortLived('ttl-1');
    expect(await waitUntilGone(record.servicePid!, record.port, 10_000 - (Date.now() - started))).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline - 100);
    expect(await waitUntil(() => !isPidAlive(record.supervisorPid), 5000)).toBe(true);
    expect(readInstanceRecord(fixture.stateDir, 'ttl-1')).toMatchObject({ status: 'expired' });
    expect(await fixture.provider.getInstanceStatus({ deploymentId: 'ttl-1' })).toMatchObject({
      state: 'exited',
      message: expect.stringContaining('deadline'),
    });
  });

  it('stops the service at its deadline even when the supervisor is SIGKILLed', async () => {
    const { record, deadline } = await deployShortLived('ttl-2');
    expect(record.deadlineGuard).toBe('timeout');
    process.kill(record.supervisorPid, 'SIGKILL');
    expect(await waitUntil(() => !isPidAlive(record.supervisorPid), 2000)).toBe(true);
    expect(await fixture.provider.getInstanceStatus({ deploymentId: 'ttl-2' })).toMatchObject({
      state: 'running',
      message: expect.stringContaining('timeout still enforces the deadline'),
    });
    const slackMs = 1000;
    const gone = await waitUntilGone(
      record.servicePid!,
      record.port,
      deadline + STOP_GRACE_MS + slackMs - Date.now(),
    );
    expect(gone).toBe(true);
    expect(await fixture.provider.getInstanceStatus({ deploymentId: 'ttl-2' })).toMatchObject({
      state: 'exited',
    });
    await fixture.provider.terminateInstance({ deploymentId: 'ttl-2' });
    expect(await fixture.provider.getInstanceStatus({ deploymentId: 'ttl-2' })).toEqual({ state: 'gone' });
  });

  it('stops a service that ignores SIGTERM with SIGKILL after the grace', async () => {
    const options = fixture.options('stubborn-1', {
      workload: { command: [process.execPath, '-e', STUBBORN_SERVICE] },
      ttlMs: 2000,
    });
    await fixture.provider.deployInstance(options);
    const record = readInstanceRecord(fixture.stateDir, 'stubborn-1');
    expect(await waitUntil(() => isPortOpen(record.port), 3000)).toBe(true);
    const gone = await waitUntilGone(
      record.servicePid!,
      record.port,
      options.expiresAt.getTime() + STOP_GRACE_MS + 1500 - Date.now(),
    );
    expect(gone).toBe(true);
    // The grace was given: timeout's SIGKILL came after it, not with the SIGTERM.
    expect(Date.now()).toBeGreaterThanOrEqual(options.expiresAt.getTime() + STOP_GRACE_MS - 100);
  });

  it('stops a stubborn service at its deadline without timeout on PATH', async () => {
    const options = fixture.options('stubborn-2', {
      workload: { command: [process.execPath, '-e', STUBBORN_SERVICE] },
      ttlMs: 2000,
    });
    // The supervisor inherits PATH when it starts; without timeout there, it alone enforces the deadline.
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      await fixture.provider.deployInstance(options);
    } finally {
      process.env.PATH = path;
    }
    const record = readInstanceRecord(fixture.stateDir, 'stubborn-2');
    expect(record.deadlineGuard).toBe('supervisor');
    expect(await waitUntil(() => isPortOpen(record.port), 3000)).toBe(true);
    const gone = await waitUntilGone(
      record.servicePid!,
      record.port,
      options.expiresAt.getTime() + STOP_GRACE_MS + 1500 - Date.now(),
    );
    expect(gone).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(options.expiresAt.getTime() + STOP_GRACE_MS - 100);
    // The supervisor records the end just after the service is gone.
    expect(await waitUntil(() => !isPidAlive(record.supervisorPid), 3000)).toBe(true);
    expect(readInstanceRecord(fixture.stateDir, 'stubborn-2')).toMatchObject({
      status: 'expired',
      exitSignal: 'SIGKILL',
    });
  });
});
