// The expiry holds on the engine without bp: after deploy, no provider method is called until the deadline
// has passed; only the engine (through the tests' own client) is asked what runs.
import { waitFor } from '@bp/conformance';
import type { DeployOptionsV1 } from '@bp/provider';
import { describe, expect, it, type TestContext } from 'vitest';
import { containersOf, isLive } from './engine.js';
import { deployOptions, engine, expectNothingLeft, hello, tlsProvider } from './fixtures.js';

const provider = tlsProvider({ stopGraceSeconds: 3 });

/** Terminates the deployment when the test ends (its own test: these run concurrently) and checks that nothing is left. */
function cleanUp(test: TestContext, options: DeployOptionsV1): DeployOptionsV1 {
  test.onTestFinished(async () => {
    await provider.terminateInstance(options);
    await expectNothingLeft(options.deploymentId);
  });
  return options;
}

/** Waits, asking only the engine, until the deadline has passed and nothing of the deployment runs. */
async function expectStoppedByItself(deploymentId: string, expiresAt: Date): Promise<void> {
  expect(
    (await containersOf(engine, deploymentId)).filter(isLive).length,
    'workload and keeper running',
  ).toBe(2);
  await waitFor(
    async () => Date.now() >= expiresAt.getTime() && !(await containersOf(engine, deploymentId)).some(isLive),
    {
      timeoutMs: expiresAt.getTime() - Date.now() + 20_000,
      intervalMs: 250,
      what: `${deploymentId} stopped`,
    },
  );
  // The keeper removed itself; the workload stays as an exited container (its logs kept) until terminate.
  expect(await containersOf(engine, deploymentId, 'ttl')).toEqual([]);
  const workload = await engine.getContainer(`bp-${deploymentId}`).inspect();
  expect(workload.State.Running).toBe(false);
  expect(Date.parse(workload.State.FinishedAt)).toBeGreaterThanOrEqual(expiresAt.getTime() - 1000);
  // And it stays down: the engine cannot restart it into a PID namespace that is gone.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect((await containersOf(engine, deploymentId)).some(isLive)).toBe(false);
}

// Concurrent: each test mostly waits for its own deadline.
describe.concurrent('time to live on the engine', () => {
  it('stops the workload at its expiry and removes the keeper, without bp', async (test) => {
    const options = cleanUp(test, deployOptions(hello(), { expiresInMs: 5000 }));
    await provider.deployInstance(options);
    await expectStoppedByItself(options.deploymentId, options.expiresAt);
    const status = await provider.getInstanceStatus(options);
    expect(status).toMatchObject({ state: 'exited' });
    expect(status.message).toMatch(/expiry/);
  });

  it('holds against a restart policy that would bring the workload back', async (test) => {
    const restarting = tlsProvider({ restartPolicy: { name: 'unless-stopped' }, stopGraceSeconds: 3 });
    const options = cleanUp(test, deployOptions(hello(), { expiresInMs: 5000 }));
    await restarting.deployInstance(options);
    await expectStoppedByItself(options.deploymentId, options.expiresAt);
  });

  it('reports ttlOnTarget false and creates no keeper when the keeper is turned off', async (test) => {
    const withoutKeeper = tlsProvider({ ttlSidecarImage: false });
    expect(withoutKeeper.capabilities.ttlOnTarget).toBe(false);
    const options = cleanUp(test, deployOptions(hello()));
    const instance = await withoutKeeper.deployInstance(options);
    expect(instance.resourceIds.length).toBe(1);
    expect(await containersOf(engine, options.deploymentId, 'ttl')).toEqual([]);
    const workload = await engine.getContainer(`bp-${options.deploymentId}`).inspect();
    expect(workload.HostConfig.PidMode ?? '').toBe('');
  });
});
