import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, startBp, tempHome, waitUntil } from './helpers.js';

const home = tempHome();

afterAll(async () => {
  await runBp(['terminate', '--all'], home);
  rmSync(home, { recursive: true, force: true });
});

describe('time to live', () => {
  it('a --ttl 5s deployment is gone within 15 s even when bp is killed right after creating it', async () => {
    const started = Date.now();
    const child = startBp(['deploy', HELLO, '--ttl', '5s', '--json'], home);
    let stderr = '';
    // Kill bp with SIGKILL as soon as the instance exists: nothing of bp survives to reap it.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`deploy never reached the health wait:\n${stderr}`)),
        20_000,
      );
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('waiting for')) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const id = /creating (bp-[0-9a-z]{6})/.exec(stderr)?.[1];
    expect(id).toBeDefined();
    await waitUntil(() => processesOf(id!).length > 0, 5000, 'the service to start');

    await waitUntil(
      () => processesOf(id!).length === 0,
      15_000 - (Date.now() - started),
      'the service to be gone',
    );
    expect(Date.now() - started).toBeLessThan(15_000);

    // The record bp left behind is finished by the next bp command: confirmed gone, then terminated.
    const status = await runBp(['status', id!, '--json'], home);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'terminated', reason: 'expired' });
  });

  it('a deployment that outlives its TTL is reaped by the next bp command', async () => {
    const deployed = await runBp(['deploy', HELLO, '--ttl', '3s', '--json'], home);
    expect(deployed.code, deployed.stderr).toBe(0);
    const record = JSON.parse(deployed.stdout);
    await waitUntil(async () => (await httpGet(`${record.endpoint}/health`)) !== 200, 12_000, 'expiry');
    const status = JSON.parse((await runBp(['status', '--json'], home)).stdout);
    expect(status.find((entry: { id: string }) => entry.id === record.id)).toMatchObject({
      status: 'terminated',
    });
  });
});
