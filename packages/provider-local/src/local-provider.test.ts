import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  AbortedError,
  type LogEntryV1,
  NotFoundError,
  UnsupportedCapabilityError,
  ValidationError,
} from '@bp/provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFixture, type Fixture, HELLO_SERVER } from './fixture.test-helpers.js';
import {
  isPidAlive,
  isPortOpen,
  nodeProcessesOf,
  processesInGroup,
  processesMatching,
  readInstanceRecord,
  waitUntil,
} from './ground-truth.test-helpers.js';
import { VERSION } from './index.js';
import { claimFile, releaseClaim } from './instance-files.js';
import { isProcessAlive, processStartTime } from './process-tree.js';

let fixture: Fixture;
beforeEach(() => {
  fixture = createFixture();
});
afterEach(async () => {
  await fixture.cleanUp();
});

async function collect(iterable: AsyncIterable<LogEntryV1>): Promise<LogEntryV1[]> {
  const entries: LogEntryV1[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

async function logText(deploymentId: string): Promise<string> {
  return (await collect(fixture.provider.logs({ deploymentId }))).map((entry) => entry.message).join('\n');
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('local provider', () => {
  it('describes itself', async () => {
    const { provider } = fixture;
    expect(provider.specificationVersion).toBe('v1');
    expect(provider.provider).toBe('local');
    expect(provider.capabilities).toMatchObject({
      nativeCommand: true,
      containerImage: false,
      ttlOnTarget: true,
    });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    const estimate = await provider.estimateCost({
      resources: fixture.options('x').resources,
      durationHours: 24,
    });
    expect(estimate).toEqual({ hourlyUsd: 0, totalUsd: 0, source: 'free: this machine' });
    const available = await provider.getAvailableResources();
    expect(available.cpu).toBeGreaterThan(0);
    expect(available.storageGb).toBeGreaterThan(0);
    expect(available.gpus).toEqual([]);
  });

  it('deploys hello, serves health, logs, and terminates leaving nothing behind', async () => {
    const { provider, stateDir } = fixture;
    const instance = await provider.deployInstance({
      ...fixture.options('hello-1'),
      resources: { ...fixture.options('x').resources, spot: true },
    });
    expect(instance).toMatchObject({ deploymentId: 'hello-1', reused: false });
    expect(instance.warnings.map((warning) => warning.setting)).toEqual(['resources.spot']);
    const record = readInstanceRecord(stateDir, 'hello-1');
    expect(instance.endpoint).toBe(`http://127.0.0.1:${record.port}`);
    expect(readFileSync(join(stateDir, 'ports', String(record.port)), 'utf8')).toBe('hello-1');

    await waitUntil(() => isPortOpen(record.port), 10_000);
    const response = await fetch(`${instance.endpoint}/health`);
    expect(response.status).toBe(200);
    const healthy = async () =>
      (await provider.checkHealth({ deploymentId: 'hello-1', path: '/health' })).healthy;
    expect(await waitUntil(healthy, 10_000)).toBe(true);
    expect(await provider.getInstanceStatus({ deploymentId: 'hello-1' })).toMatchObject({
      state: 'running',
      endpoint: instance.endpoint,
    });
    expect(await logText('hello-1')).toContain('hello listening');
    const tail = await collect(provider.logs({ deploymentId: 'hello-1', tail: 1 }));
    expect(tail).toHaveLength(1);
    expect(
      await collect(provider.logs({ deploymentId: 'hello-1', since: new Date(Date.now() + 60_000) })),
    ).toEqual([]);
    expect(await provider.listManagedResources({ owner: 'test-owner' })).toMatchObject([
      { deploymentId: 'hello-1', owner: 'test-owner', state: 'running' },
    ]);
    expect(await provider.listManagedResources({ owner: 'someone-else' })).toEqual([]);

    const pids = [record.supervisorPid, record.servicePid!];
    const group = processesInGroup(record.servicePid!).map((info) => info.pid);
    expect(group.length).toBeGreaterThanOrEqual(2); // timeout and node
    await provider.terminateInstance({ deploymentId: 'hello-1' });
    expect(await isPortOpen(record.port)).toBe(false);
    for (const pid of [...pids, ...group]) expect(isPidAlive(pid)).toBe(false);
    expect(processesInGroup(record.servicePid!)).toEqual([]);
    expect(existsSync(join(stateDir, 'hello-1'))).toBe(false);
    expect(readdirSync(join(stateDir, 'ports'))).toEqual([]);
    expect(await provider.getInstanceStatus({ deploymentId: 'hello-1' })).toEqual({ state: 'gone' });
    await provider.terminateInstance({ deploymentId: 'hello-1' });
  });

  it('runs the command in its working directory, resolved from the caller', async () => {
    const { provider } = fixture;
    const workingDirectory = relative(process.cwd(), dirname(HELLO_SERVER));
    const instance = await provider.deployInstance(
      fixture.options('relative-1', {
        workload: { command: [process.execPath, 'server.js'], workingDirectory },
      }),
    );
    expect(
      await waitUntil(
        async () => (await provider.checkHealth({ deploymentId: 'relative-1', path: '/health' })).healthy,
        10_000,
      ),
    ).toBe(true);
    expect(instance.reused).toBe(false);
  });

  it('follows logs until aborted', async () => {
    const { provider } = fixture;
    const instance = await provider.deployInstance(fixture.options('follow-1'));
    const controller = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const entry of provider.logs({
        deploymentId: 'follow-1',
        follow: true,
        signal: controller.signal,
      })) {
        seen.push(entry.message);
      }
    })();
    await waitUntil(() => seen.some((line) => line.includes('hello listening')), 10_000);
    await fetch(`${instance.endpoint}/followed`);
    expect(await waitUntil(() => seen.includes('GET /followed'), 5000)).toBe(true);
    controller.abort();
    await following;
  });

  it('ends following logs when the instance stops', async () => {
    const { provider } = fixture;
    await provider.deployInstance(fixture.options('follow-2'));
    const following = collect(provider.logs({ deploymentId: 'follow-2', follow: true }));
    await waitUntil(async () => (await logText('follow-2')).includes('hello listening'), 10_000);
    process.kill(readInstanceRecord(fixture.stateDir, 'follow-2').supervisorPid, 'SIGTERM');
    const entries = await following;
    expect(entries.at(-1)).toMatchObject({ stream: 'system', message: 'terminated on request' });
  });

  it('starts one service for five concurrent deploys of the same id', async () => {
    const { provider, stateDir } = fixture;
    // Unique: the process table is shared with whatever else runs on this machine.
    const id = `same-${randomUUID().slice(0, 8)}`;
    const instances = await Promise.all(
      Array.from({ length: 5 }, () => provider.deployInstance(fixture.options(id))),
    );
    expect(new Set(instances.map((instance) => instance.endpoint)).size).toBe(1);
    expect(instances.filter((instance) => !instance.reused)).toHaveLength(1);
    // Supervisors name their instance directory, service shells its service.pid, in their arguments.
    const processes = processesMatching(join(stateDir, id));
    expect(processes.filter((info) => info.commandLine[0] === process.execPath)).toHaveLength(1);
    expect(processes.filter((info) => info.commandLine[0] === '/bin/sh')).toHaveLength(1);
    const record = readInstanceRecord(stateDir, id);
    expect(nodeProcessesOf(id)).toMatchObject([{ processGroup: record.servicePid }]);
    expect(readdirSync(join(stateDir, 'ports'))).toEqual([String(record.port)]);
    // A later retry finds it too.
    expect(await provider.deployInstance(fixture.options(id))).toMatchObject({
      reused: true,
      endpoint: instances[0]!.endpoint,
    });
  });

  it('gives ten concurrent deployments ten ports, all healthy', async () => {
    const { provider } = fixture;
    const ids = Array.from({ length: 10 }, (_, index) => `many-${index}`);
    const instances = await Promise.all(ids.map((id) => provider.deployInstance(fixture.options(id))));
    expect(new Set(instances.map((instance) => instance.endpoint)).size).toBe(10);
    for (const id of ids) {
      const healthy = await waitUntil(
        async () => (await provider.checkHealth({ deploymentId: id, path: '/health' })).healthy,
        10_000,
      );
      expect(healthy, id).toBe(true);
    }
  });

  it('is healthy before its supervisor has started, and logs wait for the supervisor', async () => {
    const { provider, stateDir } = fixture;
    await provider.deployInstance(fixture.options('early-1'));
    const record = readInstanceRecord(stateDir, 'early-1');
    expect(record.deadlineGuard).toBe('timeout');
    // Held before it can record anything: the service's output waits in the pipe.
    process.kill(record.supervisorPid, 'SIGSTOP');
    try {
      const healthy = async () =>
        (await provider.checkHealth({ deploymentId: 'early-1', path: '/health' })).healthy;
      expect(await waitUntil(healthy, 10_000)).toBe(true);
      expect(readInstanceRecord(stateDir, 'early-1').supervisedAt).toBeUndefined();
      const lines = collect(provider.logs({ deploymentId: 'early-1' }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(record.supervisorPid, 'SIGCONT');
      expect((await lines).map((entry) => entry.message).join('\n')).toContain('hello listening');
      expect(readInstanceRecord(stateDir, 'early-1').supervisedAt).toBeGreaterThan(0);
    } finally {
      process.kill(record.supervisorPid, 'SIGCONT');
    }
    await provider.terminateInstance({ deploymentId: 'early-1' });
  });

  it('waits for the supervisor when it alone holds the deadline', async () => {
    const { provider, stateDir } = fixture;
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      await provider.deployInstance(fixture.options('guarded-1'));
    } finally {
      process.env.PATH = path;
    }
    const record = readInstanceRecord(stateDir, 'guarded-1');
    expect(record.deadlineGuard).toBe('supervisor');
    process.kill(record.supervisorPid, 'SIGSTOP');
    try {
      expect(await waitUntil(() => isPortOpen(record.port), 10_000)).toBe(true);
      expect((await fetch(`${record.endpoint}/health`)).status).toBe(200);
      expect(await provider.checkHealth({ deploymentId: 'guarded-1', path: '/health' })).toMatchObject({
        healthy: false,
        reason: expect.stringContaining('holds its deadline'),
      });
    } finally {
      process.kill(record.supervisorPid, 'SIGCONT');
    }
    const healthy = async () =>
      (await provider.checkHealth({ deploymentId: 'guarded-1', path: '/health' })).healthy;
    expect(await waitUntil(healthy, 10_000)).toBe(true);
    await provider.terminateInstance({ deploymentId: 'guarded-1' });
  });

  it('is not healthy without a supervisor, and stops without one', async () => {
    const { provider, stateDir } = fixture;
    await provider.deployInstance(fixture.options('unsupervised-1'));
    const record = readInstanceRecord(stateDir, 'unsupervised-1');
    // Killed before its Node could even start: the service runs, nothing records its output.
    process.kill(record.supervisorPid, 'SIGKILL');
    expect(await waitUntil(() => isPortOpen(record.port), 10_000)).toBe(true);
    expect(await provider.checkHealth({ deploymentId: 'unsupervised-1', path: '/health' })).toMatchObject({
      healthy: false,
      reason: expect.stringContaining('supervisor did not start'),
    });
    const group = processesInGroup(record.servicePid!);
    await provider.terminateInstance({ deploymentId: 'unsupervised-1' });
    for (const info of group) expect(isPidAlive(info.pid)).toBe(false);
    expect(await isPortOpen(record.port)).toBe(false);
  });

  it('finds and stops a service whose bp was killed before recording it', async () => {
    const { provider, stateDir } = fixture;
    await provider.deployInstance(fixture.options('orphan-1'));
    const record = readInstanceRecord(stateDir, 'orphan-1');
    expect(await waitUntil(() => isPortOpen(record.port), 5000)).toBe(true);
    // What a bp killed between starting the service and writing state.json leaves: no record and,
    // as the supervisor never got its configuration, no supervisor.
    rmSync(join(stateDir, 'orphan-1', 'state.json'));
    process.kill(record.supervisorPid, 'SIGKILL');
    expect(await waitUntil(() => !isPidAlive(record.supervisorPid), 3000)).toBe(true);
    expect(await provider.getInstanceStatus({ deploymentId: 'orphan-1' })).toMatchObject({
      state: 'running',
      message: expect.stringContaining('unsupervised'),
    });
    expect((await provider.listManagedResources()).map((resource) => resource.deploymentId)).toContain(
      'orphan-1',
    );
    const group = processesInGroup(record.servicePid!);
    expect(group.length).toBeGreaterThan(0);
    await provider.terminateInstance({ deploymentId: 'orphan-1' });
    for (const info of group) expect(isPidAlive(info.pid)).toBe(false);
    expect(await isPortOpen(record.port)).toBe(false);
    expect(existsSync(join(stateDir, 'orphan-1'))).toBe(false);
  });

  it('reports a service that exits at once, with its code and stderr, and replaces it on a later deploy', async () => {
    const { provider } = fixture;
    const options = fixture.options('exits-1', { workload: { env: { HELLO_EXIT_AT_ONCE: '1' } } });
    await provider.deployInstance(options);
    expect(
      await waitUntil(
        async () => (await provider.getInstanceStatus({ deploymentId: 'exits-1' })).state === 'exited',
        10_000,
      ),
    ).toBe(true);
    expect(await provider.getInstanceStatus({ deploymentId: 'exits-1' })).toMatchObject({
      state: 'exited',
      exitCode: 3,
    });
    const entries = await collect(provider.logs({ deploymentId: 'exits-1' }));
    expect(entries).toContainEqual(
      expect.objectContaining({ stream: 'stderr', message: expect.stringContaining('exiting at once') }),
    );
    expect(readdirSync(join(fixture.stateDir, 'ports'))).toEqual([]);
    expect(await provider.deployInstance(options)).toMatchObject({ reused: false });
  });

  it('hands secrets to the service through its environment only', async () => {
    const { provider, stateDir } = fixture;
    const secret = `s3cret-${Math.random().toString(36).slice(2)}`;
    const script = [
      "const { createHash } = require('node:crypto');",
      "const same = createHash('sha256').update(process.env.API_TOKEN ?? '').digest('hex') === process.env.EXPECTED_SHA256;",
      "console.log(same ? 'secret matches' : 'secret differs');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    await provider.deployInstance({
      ...fixture.options('secret-1', {
        workload: {
          command: [process.execPath, '-e', script],
          env: { EXPECTED_SHA256: createHash('sha256').update(secret).digest('hex') },
        },
      }),
      secrets: { API_TOKEN: secret },
    });
    expect(await waitUntil(async () => (await logText('secret-1')).includes('secret matches'), 10_000)).toBe(
      true,
    );
    const files = filesUnder(stateDir);
    expect(files).toContain(join(stateDir, 'secret-1', 'state.json'));
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toContain(secret);
  });

  it('passes arguments literally, without a shell', async () => {
    const { provider, stateDir } = fixture;
    const canary = join(stateDir, 'canary');
    const argument = `a; touch ${canary} $(touch ${canary}) \`touch ${canary}\` "double" 'single'\nsecond line | & > ${canary}`;
    await provider.deployInstance(
      fixture.options('literal-1', {
        workload: {
          command: [
            process.execPath,
            '-e',
            'console.log(JSON.stringify(process.argv.slice(1)))',
            argument,
            '$HOME',
          ],
        },
      }),
    );
    const expected = JSON.stringify([argument, '$HOME']);
    expect(await waitUntil(async () => (await logText('literal-1')).includes(expected), 10_000)).toBe(true);
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses container images, bad input and GPUs without creating anything', async () => {
    const { provider, stateDir } = fixture;
    const image = fixture.options('image-1', { workload: { command: undefined, image: 'hello:1' } });
    await expect(provider.deployInstance(image)).rejects.toSatisfy(
      (error) => UnsupportedCapabilityError.isInstance(error) && error.capability === 'containerImage',
    );
    const invalid: [string, ReturnType<typeof fixture.options>][] = [
      ['deploymentId', fixture.options('Bad_Id')],
      ['deploymentId', fixture.options('ports')],
      ['workload.command', fixture.options('bad-1', { workload: { command: [] } })],
      ['workload.command', fixture.options('bad-2', { workload: { command: ['no-such-command-here'] } })],
      [
        'workload.workingDirectory',
        fixture.options('bad-3', { workload: { workingDirectory: join(stateDir, 'none') } }),
      ],
      ['workload.port', fixture.options('bad-4', { workload: { port: 0 } })],
      ['workload.port', fixture.options('bad-5', { workload: { port: 65536 } })],
      ['workload.healthPath', fixture.options('bad-6', { workload: { healthPath: 'health' } })],
      ['expiresAt', fixture.options('bad-7', { ttlMs: -1000 })],
    ];
    for (const [path, options] of invalid) {
      await expect(provider.deployInstance(options), path).rejects.toSatisfy(
        (error) => ValidationError.isInstance(error) && error.path === path,
      );
    }
    const gpu = fixture.options('gpu-1');
    await expect(
      provider.deployInstance({ ...gpu, resources: { ...gpu.resources, gpuCount: 1 } }),
    ).rejects.toSatisfy(
      (error) => UnsupportedCapabilityError.isInstance(error) && error.capability === 'gpu',
    );
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('treats unknown ids as gone', async () => {
    const { provider } = fixture;
    expect(await provider.getInstanceStatus({ deploymentId: 'nobody' })).toEqual({ state: 'gone' });
    expect(await provider.getInstanceStatus({ deploymentId: '../etc' })).toEqual({ state: 'gone' });
    await provider.terminateInstance({ deploymentId: 'nobody' });
    expect(await provider.checkHealth({ deploymentId: 'nobody', path: '/health' })).toMatchObject({
      healthy: false,
    });
    await expect(collect(provider.logs({ deploymentId: 'nobody' }))).rejects.toSatisfy(
      (error) => NotFoundError.isInstance(error) && error.kind === 'instance' && error.id === 'nobody',
    );
    expect(await provider.listManagedResources()).toEqual([]);
  });

  it('honours an aborted signal', async () => {
    const { provider, stateDir } = fixture;
    const signal = AbortSignal.abort();
    await expect(provider.deployInstance({ ...fixture.options('abort-1'), signal })).rejects.toSatisfy(
      AbortedError.isInstance,
    );
    await expect(provider.getInstanceStatus({ deploymentId: 'abort-1', signal })).rejects.toSatisfy(
      AbortedError.isInstance,
    );
    await expect(provider.terminateInstance({ deploymentId: 'abort-1', signal })).rejects.toSatisfy(
      AbortedError.isInstance,
    );
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('cleans up when a deploy is aborted while starting', async () => {
    const { provider, stateDir } = fixture;
    const id = `abort-${randomUUID().slice(0, 8)}`;
    const controller = new AbortController();
    const deploying = provider.deployInstance({
      ...fixture.options(id),
      signal: controller.signal,
      onProgress: (event) => {
        if (event.step === 'start') controller.abort();
      },
    });
    await expect(deploying).rejects.toSatisfy(AbortedError.isInstance);
    expect(existsSync(join(stateDir, id))).toBe(false);
    expect(readdirSync(join(stateDir, 'ports'))).toEqual([]);
    expect(processesMatching(join(stateDir, id))).toEqual([]);
    expect(await waitUntil(() => nodeProcessesOf(id).length === 0, 3000)).toBe(true);
  });

  it('claims files atomically and takes over only stale claims', async () => {
    const path = join(fixture.stateDir, 'claim');
    expect(await claimFile(path, 'first', () => false)).toBe(true);
    expect(await claimFile(path, 'second', () => false)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(await claimFile(path, 'third', (held) => held === 'first')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('third');
    await releaseClaim(path, 'someone else');
    expect(existsSync(path)).toBe(true);
    await releaseClaim(path, 'third');
    expect(readdirSync(fixture.stateDir)).toEqual([]);
  });

  it('does not take a reused pid for the recorded process', () => {
    const startTime = processStartTime(process.pid);
    expect(isProcessAlive(process.pid, startTime)).toBe(true);
    expect(isProcessAlive(process.pid, (startTime ?? 0) + 1)).toBe(false);
  });
});
