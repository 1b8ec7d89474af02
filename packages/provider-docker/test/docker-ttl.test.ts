// The expiry holds on the engine without bp: after deploy, no provider method is called until the deadline
// has passed; only the engine (through the tests' own client) is asked what runs.
import { randomBytes } from 'node:crypto';
import { waitFor } from '@bp/conformance';
import type { DeployOptionsV1 } from '@bp/provider';
import { runDockerCli } from '@bp/test-infra';
import { describe, expect, it, type TestContext } from 'vitest';
import { containersOf, isLive } from './engine.js';
import { context, deployOptions, engine, expectNothingLeft, hello, tlsProvider } from './fixtures.js';

const provider = tlsProvider({ stopGraceSeconds: 3 });

/** Terminates the deployment when the test ends (its own test: these run concurrently) and checks that nothing is left. */
function cleanUp(test: TestContext, options: DeployOptionsV1): DeployOptionsV1 {
  test.onTestFinished(async () => {
    await provider.terminateInstance(options);
    await expectNothingLeft(options.deploymentId);
  });
  return options;
}

/** The workload's container log, as the engine keeps it. */
async function engineLog(deploymentId: string): Promise<string> {
  const output = await engine.getContainer(`bp-${deploymentId}`).logs({ stdout: true, stderr: true });
  return output.toString('utf8');
}

/** Builds `image` on the test engine from a Dockerfile without context (offline: FROM a local image); removed when the test ends. */
async function buildImage(test: TestContext, image: string, dockerfile: string): Promise<void> {
  await runDockerCli(['build', '-q', '-t', image, '-'], {
    socketPath: context.socketPath,
    input: dockerfile,
  });
  test.onTestFinished(async () => {
    await engine
      .getImage(image)
      .remove({ force: true })
      .catch(() => {});
  });
}

/** Waits, asking only the engine, until the deadline has passed and nothing of the deployment runs. */
async function expectStoppedByItself(deploymentId: string, expiresAt: Date): Promise<void> {
  expect((await containersOf(engine, deploymentId)).filter(isLive).length, 'workload running').toBe(1);
  await waitFor(
    async () => Date.now() >= expiresAt.getTime() && !(await containersOf(engine, deploymentId)).some(isLive),
    {
      timeoutMs: expiresAt.getTime() - Date.now() + 20_000,
      intervalMs: 250,
      what: `${deploymentId} stopped`,
    },
  );
  // The workload stays as an exited container (its logs kept) until terminate.
  const workload = await engine.getContainer(`bp-${deploymentId}`).inspect();
  expect(workload.State.Running).toBe(false);
  expect(workload.State.ExitCode).toBe(0);
  expect(Date.parse(workload.State.FinishedAt)).toBeGreaterThanOrEqual(expiresAt.getTime() - 1000);
  expect(await engineLog(deploymentId)).toContain('bp: expiry reached, stopping the workload');
}

// Concurrent: each test mostly waits for its own deadline.
describe.concurrent('time to live on the engine', () => {
  it('stops the workload at its expiry, without bp, and an on-failure policy does not bring it back', async (test) => {
    const options = cleanUp(test, deployOptions(hello(), { expiresInMs: 5000 }));
    const instance = await provider.deployInstance(options);
    await expectStoppedByItself(options.deploymentId, options.expiresAt);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await containersOf(engine, options.deploymentId)).some(isLive)).toBe(false);
    await expect(fetch(new URL('/health', instance.endpoint))).rejects.toThrow();
    const status = await provider.getInstanceStatus(options);
    expect(status).toMatchObject({ state: 'exited' });
    expect(status.message).toMatch(/expiry/);
  });

  it('runs nothing after its expiry when a restart policy restarts the container', async (test) => {
    const restarting = tlsProvider({ restartPolicy: { name: 'unless-stopped' }, stopGraceSeconds: 3 });
    const options = cleanUp(test, deployOptions(hello(), { expiresInMs: 5000 }));
    const instance = await restarting.deployInstance(options);
    await waitFor(
      async () => (await engineLog(options.deploymentId)).includes('past its expiry, not starting'),
      {
        timeoutMs: options.expiresAt.getTime() - Date.now() + 20_000,
        intervalMs: 250,
        what: `${options.deploymentId} restarted after its expiry`,
      },
    );
    // However often the engine restarts it, the service never answers again.
    for (let check = 0; check < 5; check++) {
      await expect(fetch(new URL('/health', instance.endpoint))).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const log = await engineLog(options.deploymentId);
    expect(log.split('hello listening on port').length - 1, 'service starts').toBe(1);
    const status = await restarting.getInstanceStatus(options);
    expect(status.state).toBe('exited');
    expect(status.message).toMatch(/expiry/);
  });

  it('stops a service that ignores SIGTERM as PID 1 within the grace on terminate', async (test) => {
    // busybox httpd is PID 1's child here: the script forwards docker stop's SIGTERM to it.
    const options = cleanUp(test, deployOptions(hello()));
    await provider.deployInstance(options);
    const started = Date.now();
    await provider.terminateInstance(options);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("passes the image's own stop signal to the service on terminate", async (test) => {
    // A service that ignores SIGTERM and ends cleanly on SIGQUIT, as nginx's image asks (STOPSIGNAL SIGQUIT).
    const image = `local/stop-signal-${randomBytes(4).toString('hex')}`;
    const script =
      "trap 'echo stopped by QUIT; exit 0' QUIT; trap '' TERM; echo waiting; while :; do sleep 1 & wait $!; done";
    const dockerfile = [
      `FROM ${context.images.busybox}`,
      'STOPSIGNAL SIGQUIT',
      `CMD ["sh", "-c", ${JSON.stringify(script)}]`,
      '',
    ].join('\n');
    await buildImage(test, image, dockerfile);
    const graceful = tlsProvider({ stopGraceSeconds: 8 });
    const options = cleanUp(test, deployOptions({ ...hello(), image }));
    await graceful.deployInstance(options);
    await waitFor(async () => (await engineLog(options.deploymentId)).includes('waiting'), {
      timeoutMs: 10_000,
      what: `${options.deploymentId} started`,
    });
    const started = Date.now();
    await graceful.terminateInstance(options);
    // Well before the 8 s after which the engine would have killed it.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('reports ttlOnTarget false and runs the image as is when the deadline is turned off', async (test) => {
    const withoutDeadline = tlsProvider({ ttlSidecarImage: false });
    expect(withoutDeadline.capabilities.ttlOnTarget).toBe(false);
    const options = cleanUp(test, deployOptions(hello()));
    const instance = await withoutDeadline.deployInstance(options);
    expect(instance.resourceIds.length).toBe(1);
    const workload = await engine.getContainer(`bp-${options.deploymentId}`).inspect();
    expect(workload.Config.Entrypoint ?? []).toEqual([]);
    expect(workload.Mounts).toEqual([]);
  });

  it('fills the deadline tools volume again when it was left empty', async (test) => {
    // A tools image of its own (same busybox, another id), so its volume is this test's alone.
    const image = `local/busybox-tools-${randomBytes(4).toString('hex')}`;
    const container = await engine.createContainer({ Image: context.images.busybox, Cmd: ['true'] });
    await container.commit({ repo: image, changes: 'LABEL bp-test=tools' });
    await container.remove();
    const { Id } = await engine.getImage(image).inspect();
    const volume = `bp-deadline-tools-${Id.replace(/^sha256:/, '').slice(0, 12)}`;
    // As a fill interrupted before it copied anything leaves it: the volume, without its `.ready` twin.
    await engine.createVolume({
      Name: volume,
      Labels: { 'bp-managed-by': 'bp', 'bp-role': 'deadline-tools' },
    });
    const withTools = tlsProvider({ ttlSidecarImage: image, stopGraceSeconds: 3 });
    const options = deployOptions(hello());
    // The workload first (it holds the volume), then the volumes and the image.
    test.onTestFinished(async () => {
      await withTools.terminateInstance(options);
      await expectNothingLeft(options.deploymentId);
      for (const name of [`${volume}.ready`, volume])
        await engine
          .getVolume(name)
          .remove()
          .catch(() => {});
      await engine
        .getImage(image)
        .remove()
        .catch(() => {});
    });
    const instance = await withTools.deployInstance(options);
    await waitFor(async () => (await withTools.checkHealth({ ...options, path: '/health' })).healthy, {
      timeoutMs: 20_000,
      what: `${options.deploymentId} healthy`,
    });
    expect(instance.endpoint).toMatch(/^http:/);
    expect((await engine.getVolume(`${volume}.ready`).inspect()).Labels).toMatchObject({
      'bp-role': 'deadline-tools',
    });
  });

  it("runs a program found on the image's PATH even where busybox has an applet of that name", async (test) => {
    const image = `local/path-check-${randomBytes(4).toString('hex')}`;
    const dockerfile = [
      `FROM ${context.images.hello}`,
      'ENV PATH=/usr/local/bin:/bin',
      // `uname` is also a busybox applet: the image's own comes first on its PATH.
      `RUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho "image uname ran"\\nexec /bin/hello\\n' > /usr/local/bin/uname && chmod +x /usr/local/bin/uname`,
      'CMD ["uname"]',
      '',
    ].join('\n');
    await buildImage(test, image, dockerfile);
    const options = cleanUp(test, deployOptions({ ...hello(), image }));
    await provider.deployInstance(options);
    await waitFor(async () => (await engineLog(options.deploymentId)).includes('hello listening'), {
      timeoutMs: 20_000,
      what: `${options.deploymentId} started`,
    }).catch(async (error: Error) => {
      throw new Error(`${error.message}; its log: ${await engineLog(options.deploymentId)}`);
    });
    expect(await engineLog(options.deploymentId)).toContain('image uname ran');
  });
});
