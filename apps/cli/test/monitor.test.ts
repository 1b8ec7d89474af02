import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, httpGet, processesOf, runBp, startBp, tempHome, waitUntil } from './helpers.js';

const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) {
    await runBp(['terminate', '--all'], home);
    rmSync(home, { recursive: true, force: true });
  }
});

/** Each test its own BP_HOME: monitors share work through leases in its tracker. */
function newHome(): string {
  const home = tempHome();
  homes.push(home);
  return home;
}

/** Starts `bp monitor` continuously; resolves with its metrics URL once it serves. */
async function startMonitor(home: string) {
  const monitor = startBp(['monitor', '--metrics-port', '0', '--interval', '1'], home);
  let stderr = '';
  monitor.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => monitor.on('close', resolve));
  await waitUntil(
    () => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(stderr),
    10_000,
    'the metrics address',
  );
  const url = /(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)![1]!;
  return { monitor, exited, url };
}

describe('bp monitor', () => {
  it('restarts a deployment whose service died, in place, and it serves again', async () => {
    const home = newHome();
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout);
    for (const pid of processesOf(record.id)) process.kill(pid, 'SIGKILL');
    await waitUntil(
      async () => (await httpGet(`${record.endpoint}/health`)) !== 200,
      5000,
      'the service to die',
    );

    const pass = await runBp(['monitor', '--once', '--failures-before-recovery', '1', '--json'], home);
    expect(pass.code, pass.stderr).toBe(0);
    const report = JSON.parse(pass.stdout);
    expect(report.checked).toEqual([expect.objectContaining({ id: record.id, healthy: false })]);
    expect(report.recovered).toEqual([record.id]);

    const after = JSON.parse((await runBp(['status', record.id, '--json'], home)).stdout);
    expect(after).toMatchObject({ id: record.id, status: 'running' });
    expect(await httpGet(`${after.endpoint}/health`)).toBe(200);
    expect(after.attempts.at(-1)).toMatchObject({ outcome: 'ok', reason: 'restarted' });
  });

  it('several monitors share the work through leases, and one that stops hands it over', async () => {
    const home = newHome();
    const ids = await Promise.all(
      [1, 2, 3].map(
        async () => JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout).id,
      ),
    );
    const first = await startMonitor(home);
    await waitUntil(
      async () => {
        const text = await (await fetch(first.url)).text();
        return ids.every((id) => text.includes(`bp_deployment_up{id="${id}"`));
      },
      15_000,
      'the first monitor to check every deployment',
    );
    // While the first one holds the work, a second one does none of it twice.
    const second = JSON.parse((await runBp(['monitor', '--once', '--json'], home)).stdout);
    expect(second).toMatchObject({ reaper: false, checked: [] });
    first.monitor.kill('SIGINT');
    expect(await first.exited).toBe(0);
    // The stopped monitor released its leases: the next one takes everything over at once.
    const third = JSON.parse((await runBp(['monitor', '--once', '--json'], home)).stdout);
    expect(third.reaper).toBe(true);
    expect(third.checked.map((check: { id: string }) => check.id).sort()).toEqual([...ids].sort());
    expect(third.checked.every((check: { healthy: boolean }) => check.healthy)).toBe(true);
  });

  it('serves Prometheus metrics on 127.0.0.1 and stops on Ctrl-C', async () => {
    const home = newHome();
    const record = JSON.parse((await runBp(['deploy', HELLO, '--ttl', '10m', '--json'], home)).stdout);
    const { monitor, exited, url } = await startMonitor(home);
    let text = '';
    await waitUntil(
      async () => {
        text = await (await fetch(url)).text();
        return text.includes(`bp_deployment_up{id="${record.id}"`);
      },
      15_000,
      'a health check in the metrics',
    );
    expect(text).toContain('bp_deployments{status="running"} 1');
    expect(text).toMatch(new RegExp(`bp_deployment_up\\{id="${record.id}",name="hello",target="local"\\} 1`));
    expect(text).toMatch(/bp_monitor_passes_total [1-9]/);
    monitor.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
