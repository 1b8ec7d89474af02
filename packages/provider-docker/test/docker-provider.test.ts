// What the provider asks of the engine, checked with the engine's own inspect through the tests' client.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@bp/conformance';
import { type LogEntryV1, ValidationError } from '@bp/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../src/index.js';
import { containersOf } from './engine.js';
import { context, deployOptions, engine, expectNothingLeft, hello, tlsProvider } from './fixtures.js';

const provider = tlsProvider();
const created: string[] = [];

afterEach(async () => {
  const ids = created.splice(0);
  await Promise.all(ids.map((deploymentId) => provider.terminateInstance({ deploymentId })));
  for (const id of ids) await expectNothingLeft(id);
});

async function deploy(...args: Parameters<typeof deployOptions>) {
  const options = deployOptions(...args);
  created.push(options.deploymentId);
  return { options, instance: await provider.deployInstance(options) };
}

async function collect(iterable: AsyncIterable<LogEntryV1>): Promise<LogEntryV1[]> {
  const entries: LogEntryV1[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

const waitHealthy = (deploymentId: string) =>
  waitFor(async () => (await provider.checkHealth({ deploymentId, path: '/health' })).healthy, {
    timeoutMs: 20_000,
    what: `${deploymentId} healthy`,
  });

describe('provider-docker against the real engine', () => {
  it('applies CPU and memory limits, labels, restart policy, env and the port binding', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const { options, instance } = await deploy(hello({ GREETING: 'hi' }), { secrets: { API_TOKEN: secret } });
    const workload = await engine.getContainer(`bp-${options.deploymentId}`).inspect();
    expect(instance.resourceIds[0]).toBe(workload.Id);
    expect(workload.HostConfig.NanoCpus).toBe(500_000_000);
    expect(workload.HostConfig.Memory).toBe(256 * 2 ** 20);
    expect(workload.HostConfig.MemorySwap).toBe(256 * 2 ** 20);
    expect(workload.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(workload.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(workload.Config.Labels).toMatchObject({
      'bp-deployment': options.deploymentId,
      'bp-expires-at': options.expiresAt.toISOString(),
      'bp-managed-by': 'bp',
      'bp-owner': options.tags['bp:owner'],
      'bp-name': options.name,
      'bp-role': 'workload',
    });
    expect(workload.Config.Env).toEqual(
      expect.arrayContaining([
        'GREETING=hi',
        `API_TOKEN=${secret}`,
        'PORT=8080',
        `BP_DEPLOYMENT_ID=${options.deploymentId}`,
      ]),
    );
    expect(JSON.stringify(workload.Config.Labels)).not.toContain(secret);
    const port = workload.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
    expect(instance.endpoint).toBe(`http://127.0.0.1:${port}`);

    // Storage: limited where the storage driver can, and a warning where it cannot.
    const info = await engine.info();
    const backing = (info.DriverStatus as [string, string][]).find(
      ([key]) => key === 'Backing Filesystem',
    )?.[1];
    const canLimit = info.Driver !== 'overlay2' || backing === 'xfs';
    const storageWarning = instance.warnings.find((warning) => warning.setting === 'resources.storageGb');
    if (canLimit && workload.HostConfig.StorageOpt) {
      expect(workload.HostConfig.StorageOpt).toEqual({ size: '1G' });
      expect(storageWarning).toBeUndefined();
    } else {
      expect(workload.HostConfig.StorageOpt ?? {}).toEqual({});
      expect(storageWarning?.message).toMatch(/not enforced/);
    }

    // The deadline: the image's command runs under the deadline script, from the read-only tools volume.
    expect(instance.resourceIds).toEqual([workload.Id]);
    expect(workload.HostConfig.PidMode ?? '').toBe('');
    // The engine's init is PID 1 and the service its child.
    expect(workload.HostConfig.Init).toBe(true);
    expect(workload.Config.Entrypoint?.[0]).toBe('/.bp-deadline/busybox');
    expect(workload.Config.Entrypoint?.slice(-1)).toEqual(['/bin/hello']);
    const toolsMount = workload.Mounts.find((mount) => mount.Destination === '/.bp-deadline');
    expect(toolsMount).toMatchObject({ Type: 'volume', RW: false });
    const tools = await engine.getVolume(toolsMount!.Name!).inspect();
    expect(tools.Labels).toMatchObject({ 'bp-managed-by': 'bp', 'bp-role': 'deadline-tools' });
    expect(JSON.stringify(workload.Config.Entrypoint)).not.toContain(secret);

    await waitHealthy(options.deploymentId);
    const stats = await provider.getInstanceStats({ deploymentId: options.deploymentId });
    expect(stats.memoryLimitBytes).toBe(256 * 2 ** 20);
    expect(stats.pids).toBeGreaterThan(0);
    const logs = await collect(provider.logs({ deploymentId: options.deploymentId }));
    expect(JSON.stringify(logs)).not.toContain(secret);
  });

  it('passes names, env values and commands literally and runs nothing on the host', async () => {
    const canary = `/tmp/bp-canary-${randomBytes(6).toString('hex')}`;
    const hostile = [
      `; touch ${canary}`,
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `' ; touch ${canary} ; '`,
      `" ; touch ${canary} ; "`,
      `line one\ntouch ${canary}`,
    ];
    const workload = {
      ...hello({ HOSTILE: hostile.join('|') }),
      // The container's own shell prints its arguments and the variable, quoted, then serves.
      command: [
        '/bin/sh',
        '-c',
        'printf "arg<%s>\\n" "$@"; printf "env<%s>\\n" "$HOSTILE"; exec hello',
        'sh',
        ...hostile,
      ],
    };
    const { options } = await deploy(workload, { name: hostile.join(' ') });
    await waitHealthy(options.deploymentId);
    const workloadInfo = await engine.getContainer(`bp-${options.deploymentId}`).inspect();
    expect(workloadInfo.Config.Labels['bp-name']).toBe(hostile.join(' '));
    expect(workloadInfo.Config.Env).toContain(`HOSTILE=${hostile.join('|')}`);
    // The command runs, argument by argument, after the deadline script (see deadline-wrapper.ts).
    expect(workloadInfo.Config.Entrypoint?.slice(-workload.command!.length)).toEqual(workload.command);
    const output = (await collect(provider.logs({ deploymentId: options.deploymentId })))
      .map((entry) => entry.message)
      .join('\n');
    for (const value of hostile) expect(output).toContain(`arg<${value}>`);
    expect(output).toContain(`env<${hostile.join('|')}>`);
    expect(existsSync(canary), `${canary} exists: something ran on the host`).toBe(false);
  });

  it('fails fast on an image that does not exist, with a clear error, and creates nothing', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const image = `${context.images.hello.split('/')[0]}/bp-test/does-not-exist:1`;
    const options = deployOptions({ ...hello(), image }, { secrets: { API_TOKEN: secret } });
    const started = Date.now();
    const error = await provider.deployInstance(options).catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ValidationError.isInstance(error), String(error)).toBe(true);
    expect((error as ValidationError).path).toBe('workload.image');
    expect((error as Error).message).toContain(image);
    expect((error as Error).message).not.toContain(secret);
    await expectNothingLeft(options.deploymentId);
  });

  it('reports a crash as exited with its code and logs, and terminate leaves nothing', async () => {
    const { options } = await deploy(hello({ HELLO_EXIT_AT_ONCE: '1' }));
    const ref = { deploymentId: options.deploymentId };
    const status = await waitFor(
      async () => {
        const current = await provider.getInstanceStatus(ref);
        return current.state === 'exited' && current;
      },
      { timeoutMs: 20_000, what: 'exited' },
    );
    expect(status.exitCode).toBe(3);
    expect(status.message).toMatch(/code 3/);
    const engineState = (await engine.getContainer(`bp-${options.deploymentId}`).inspect()).State;
    expect(engineState).toMatchObject({ Status: 'exited', ExitCode: 3 });
    const logs = await collect(provider.logs({ ...ref, tail: 2 }));
    expect(logs.length).toBeLessThanOrEqual(2);
    expect(logs.at(-1)).toMatchObject({ stream: 'stderr', message: 'hello: exiting at once, as asked' });
    const health = await provider.checkHealth({ ...ref, path: '/health' });
    expect(health).toMatchObject({ healthy: false });
    expect(health.reason).toMatch(/exited/);
    await provider.terminateInstance(ref);
    await expectNothingLeft(options.deploymentId);
    expect((await provider.getInstanceStatus(ref)).state).toBe('gone');
    await expect(collect(provider.logs(ref))).rejects.toThrow(/not found/);
  });

  it('reports a service whose health never passes, and terminate leaves nothing', async () => {
    const { options } = await deploy(hello({ HELLO_FAIL_HEALTH: '1' }));
    const ref = { deploymentId: options.deploymentId };
    await waitFor(async () => (await provider.getInstanceStatus(ref)).state === 'running', {
      timeoutMs: 20_000,
      what: 'running',
    });
    const health = await provider.checkHealth({ ...ref, path: '/health' });
    expect(health.healthy).toBe(false);
    // The image's own HEALTHCHECK fails too, and the engine says so.
    const status = await waitFor(
      async () => {
        const current = await provider.getInstanceStatus(ref);
        return current.message === 'docker healthcheck: unhealthy' && current;
      },
      { timeoutMs: 15_000, what: 'the engine to call it unhealthy' },
    );
    expect(status.state).toBe('running');
    expect(await provider.checkHealth({ ...ref, path: '/health' })).toMatchObject({
      healthy: false,
      reason: 'docker healthcheck: unhealthy',
    });
    await provider.terminateInstance(ref);
    await expectNothingLeft(options.deploymentId);
  });

  it('splits stdout and stderr, and honours tail, since and follow', async () => {
    const { options, instance } = await deploy(hello());
    const ref = { deploymentId: options.deploymentId };
    await waitHealthy(options.deploymentId);
    // busybox httpd -v logs each request to stderr.
    await (await fetch(new URL('/index.html', instance.endpoint))).text();
    const entries = await waitFor(
      async () => {
        const all = await collect(provider.logs(ref));
        return all.some((entry) => entry.stream === 'stderr') && all;
      },
      { timeoutMs: 10_000, what: 'a request line on stderr' },
    );
    expect(entries[0]).toMatchObject({ stream: 'stdout', message: `${context.readyLine} 8080` });
    // The image's HEALTHCHECK adds a request line every second: the last line may be newer by now.
    const [lastLine, ...more] = await collect(provider.logs({ ...ref, tail: 1 }));
    expect(more).toEqual([]);
    expect(lastLine!.timestamp.getTime()).toBeGreaterThanOrEqual(entries.at(-1)!.timestamp.getTime());
    expect(await collect(provider.logs({ ...ref, since: new Date(Date.now() + 60_000) }))).toEqual([]);
    const last = entries.at(-1)!.timestamp;
    expect((await collect(provider.logs({ ...ref, since: last }))).length).toBeGreaterThanOrEqual(1);

    const controller = new AbortController();
    const followed: LogEntryV1[] = [];
    const following = (async () => {
      for await (const entry of provider.logs({ ...ref, follow: true, tail: 0, signal: controller.signal })) {
        followed.push(entry);
      }
    })();
    await waitFor(
      async () => {
        await (await fetch(new URL('/index.html', instance.endpoint))).text();
        return followed.length > 0;
      },
      { timeoutMs: 10_000, intervalMs: 300, what: 'a followed line' },
    );
    controller.abort();
    await following;
    expect(followed[0]?.stream).toBe('stderr');
  });

  it('finds the existing instance on a retry with the same id', async () => {
    const { options, instance } = await deploy(hello());
    const again = await provider.deployInstance(options);
    expect(again).toMatchObject({
      reused: true,
      resourceIds: instance.resourceIds,
      endpoint: instance.endpoint,
    });
    expect((await containersOf(engine, options.deploymentId)).length).toBe(1);
  });

  it('uses an injected dockerode client as is', async () => {
    const injected = createDockerProvider({ docker: engine, ttlSidecarImage: context.images.busybox });
    const options = deployOptions(hello());
    created.push(options.deploymentId);
    const instance = await injected.deployInstance(options);
    expect(instance.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await injected.getInstanceStatus(options)).state).not.toBe('gone');
  });

  it("keeps the engine's info for later deploys, and asks again when the engine's clock moved", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'bp-docker-facts-'));
    try {
      const file = join(cacheDir, 'docker-engines.json');
      const local = () =>
        createDockerProvider({
          socketPath: context.socketPath,
          ttlSidecarImage: context.images.busybox,
          cacheDir,
        });
      const deadlineOf = async (deploymentId: string) =>
        Number((await engine.getContainer(`bp-${deploymentId}`).inspect()).Config.Entrypoint?.[5]);
      const remembered = () =>
        Object.values(JSON.parse(readFileSync(file, 'utf8')))[0] as Record<string, number>;

      const first = deployOptions(hello());
      created.push(first.deploymentId);
      await local().deployInstance(first);
      const facts = remembered();
      expect(facts).toMatchObject({ osType: 'linux', ncpu: expect.any(Number) });
      expect(Math.abs(facts.clockOffsetMs!)).toBeLessThan(1000);
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');

      // A later deploy (another provider, as another bp process would make) reuses them.
      const second = deployOptions(hello());
      created.push(second.deploymentId);
      await local().deployInstance(second);
      expect(remembered().measuredAt).toBe(facts.measuredAt);
      expect(await deadlineOf(second.deploymentId)).toBe(Math.ceil(second.expiresAt.getTime() / 1000));

      // Remembered as an hour off: the Date of the engine's answers disagrees, so the info is asked again
      // and the deadline is on the engine's real clock.
      const key = Object.keys(JSON.parse(readFileSync(file, 'utf8')))[0]!;
      writeFileSync(file, JSON.stringify({ [key]: { ...facts, clockOffsetMs: 3_600_000 } }));
      const third = deployOptions(hello());
      created.push(third.deploymentId);
      await local().deployInstance(third);
      expect(Math.abs(remembered().clockOffsetMs!)).toBeLessThan(1000);
      expect(remembered().measuredAt).toBeGreaterThan(facts.measuredAt!);
      expect(
        Math.abs((await deadlineOf(third.deploymentId)) - third.expiresAt.getTime() / 1000),
      ).toBeLessThanOrEqual(2);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('works on the local socket too', async () => {
    const local = createDockerProvider({
      socketPath: context.socketPath,
      ttlSidecarImage: context.images.busybox,
    });
    const options = deployOptions(hello());
    created.push(options.deploymentId);
    const instance = await local.deployInstance(options);
    expect(instance.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(async () => (await local.checkHealth({ ...options, path: '/health' })).healthy, {
      timeoutMs: 20_000,
      what: 'healthy over the socket',
    });
    const mine = await local.listManagedResources({ owner: options.tags['bp:owner'] });
    expect(mine.filter((resource) => resource.deploymentId === options.deploymentId).length).toBe(1);
  });
});
