import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbortedError,
  BudgetExceededError,
  CapacityError,
  CredentialsError,
  HealthTimeoutError,
  type InstanceRefV1,
  markChangedNothing,
  type RemoteProviderV1,
} from '@bp/provider';
import { createLocalProvider } from '@bp/provider-local';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createManager,
  createMonitorState,
  type Manager,
  type ManagerEvent,
  resolvePaths,
} from '../src/index.js';

const HELLO = fileURLToPath(new URL('../../../examples/hello', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'bp-manager-'));
const managers: Manager[] = [];

afterEach(async () => {
  for (const manager of managers.splice(0)) {
    for (const record of await manager.list({
      status: ['pending', 'provisioning', 'running', 'terminating'],
    })) {
      await manager.terminate(record.id).catch(() => {});
    }
    await manager.close();
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of examples/hello whose blueprint sets extra env. */
function helloWith(env: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'bp-'));
  cpSync(join(HELLO, 'server.js'), join(dir, 'server.js'));
  const pairs = Object.entries(env)
    .map(([key, value]) => `${key} = "${value}"`)
    .join(', ');
  writeFileSync(
    join(dir, 'Blueprint.toml'),
    `[package]\nname = "hello"\n[blueprint]\ncommand = ["node", "server.js"]\nport = 8080\nhealth = "/health"\nenv = { ${pairs} }\n[blueprint.resources]\nmin_cpu = 0.25\nmin_memory_gb = 0.25\nmin_storage_gb = 1\n`,
  );
  return dir;
}

function newManager(options: { providers?: RemoteProviderV1[]; events?: ManagerEvent[] } = {}): Manager {
  const home = mkdtempSync(join(root, 'home-'));
  const manager = createManager({
    paths: resolvePaths({ BP_HOME: home }),
    providers: options.providers,
    onEvent: (event) => options.events?.push(event),
  });
  managers.push(manager);
  return manager;
}

/** The local provider, with some calls replaced: stands in for a provider that misbehaves. */
function localWith(home: string, overrides: Partial<RemoteProviderV1>): RemoteProviderV1 {
  const local = createLocalProvider({ stateDir: join(home, 'local') });
  return Object.assign(Object.create(local), overrides, { provider: 'local' });
}

describe('manager.deploy', () => {
  it('deploys a blueprint through an injected provider, as a library', async () => {
    const events: ManagerEvent[] = [];
    const provider = createLocalProvider({ stateDir: mkdtempSync(join(root, 'local-')) });
    const manager = newManager({ providers: [provider], events });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '2h' });
    expect(record).toMatchObject({ status: 'running', provider: 'local', name: 'hello' });
    expect(record.tags).toMatchObject({ 'bp:deployment': record.id, 'bp:managed-by': 'bp' });
    expect(record.tags['bp:expires-at']).toBe(record.expiresAt.toISOString());
    expect(events.map((event) => event.step)).toEqual(
      expect.arrayContaining(['resolve', 'estimate', 'create', 'wait-healthy', 'healthy']),
    );
    const audit = await (await manager.store).audit(record.id);
    expect(audit.map((entry) => entry.to)).toEqual(['pending', 'provisioning', 'running']);
    const terminated = await manager.terminate(record.id);
    expect(terminated.status).toBe('terminated');
    expect((await provider.getInstanceStatus({ deploymentId: record.id })).state).toBe('gone');
  });

  it('undoes a deployment that never becomes healthy and keeps the reason and last log lines', async () => {
    const manager = newManager();
    const error = await manager
      .deploy({ blueprintDir: helloWith({ HELLO_FAIL_HEALTH: '1' }), ttl: '10m', waitTimeout: '2s' })
      .catch((caught) => caught);
    expect(HealthTimeoutError.isInstance(error)).toBe(true);
    expect(error.reason).toMatch(/not healthy after 2 s: .*503/);
    expect(error.lastLogLines.join('\n')).toContain('hello listening');
    const [record] = await manager.list();
    expect(record).toMatchObject({ status: 'failed' });
    expect(record!.reason).toContain('503');
    expect(record!.lastLogLines.join('\n')).toContain('GET /health');
    const provider = await manager.providerFor('local');
    expect((await provider.getInstanceStatus({ deploymentId: record!.id })).state).toBe('gone');
  });

  it('fails fast, with the exit code and output, when the service exits at once', async () => {
    const manager = newManager();
    const started = Date.now();
    const error = await manager
      .deploy({ blueprintDir: helloWith({ HELLO_EXIT_AT_ONCE: '1' }), ttl: '10m', waitTimeout: '30s' })
      .catch((caught) => caught);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(HealthTimeoutError.isInstance(error)).toBe(true);
    expect(error.reason).toMatch(/exited with code 3/);
    expect(error.lastLogLines.join('\n')).toContain('exiting at once');
    expect((await manager.list())[0]).toMatchObject({ status: 'failed' });
  });

  it('refuses a deploy over the hourly limit before anything is created', async () => {
    const home = mkdtempSync(join(root, 'priced-'));
    let deployCalls = 0;
    const priced = localWith(home, {
      estimateCost: async () => ({ hourlyUsd: 1.5, totalUsd: 1.5, source: 'test price' }),
      deployInstance: async () => {
        deployCalls++;
        throw new Error('must not be called');
      },
    });
    const manager = newManager({ providers: [priced] });
    const error = await manager
      .deploy({ blueprintDir: HELLO, ttl: '1h', maxHourlyUsd: 1 })
      .catch((caught) => caught);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ priceUsd: 1.5, limitUsd: 1 });
    expect(deployCalls).toBe(0);
    expect(await manager.list()).toEqual([]);
  });

  it('undoes and records an interrupted deploy', async () => {
    const manager = newManager();
    const controller = new AbortController();
    const pending = manager.deploy({
      blueprintDir: helloWith({ HELLO_FAIL_HEALTH: '1' }),
      ttl: '10m',
      waitTimeout: '30s',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 1500);
    const error = await pending.catch((caught) => caught);
    expect(AbortedError.isInstance(error)).toBe(true);
    const [record] = await manager.list();
    expect(record).toMatchObject({ status: 'failed', reason: 'interrupted' });
    const provider = await manager.providerFor('local');
    expect((await provider.getInstanceStatus({ deploymentId: record!.id })).state).toBe('gone');
  });

  it('refuses bad input before writing any record', async () => {
    const manager = newManager();
    await expect(manager.deploy({ blueprintDir: HELLO, ttl: 'forever' })).rejects.toThrow(/ttl/);
    await expect(manager.deploy({ blueprintDir: HELLO, name: 'Not_Valid' })).rejects.toThrow(/--name/);
    await expect(manager.deploy({ blueprintDir: HELLO, target: 'nowhere' })).rejects.toThrow(
      /no target named 'nowhere'/,
    );
    expect(await manager.list()).toEqual([]);
  });
});

describe('manager.terminate', () => {
  it('marks terminated only after the provider confirms the instance is gone', async () => {
    const home = mkdtempSync(join(root, 'slow-'));
    const local = createLocalProvider({ stateDir: join(home, 'local') });
    let terminateRequested = false;
    let polls = 0;
    const slow = localWith(home, {
      terminateInstance: async (reference: InstanceRefV1) => {
        terminateRequested = true;
        await local.terminateInstance(reference);
      },
      // The provider keeps reporting the instance for a few polls after the delete was accepted.
      getInstanceStatus: async (reference: InstanceRefV1) => {
        if (terminateRequested && polls++ < 3) return { state: 'stopping' as const };
        return local.getInstanceStatus(reference);
      },
    });
    const manager = newManager({ providers: [slow] });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    const terminated = await manager.terminate(record.id);
    expect(terminated.status).toBe('terminated');
    expect(polls).toBeGreaterThanOrEqual(4);
    const audit = await (await manager.store).audit(record.id);
    expect(audit.map((entry) => entry.to)).toEqual([
      'pending',
      'provisioning',
      'running',
      'terminating',
      'terminated',
    ]);
  });

  it('reaps expired deployments: confirmed gone, then terminated with reason expired', async () => {
    const manager = newManager();
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '2s' });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const reaped = await manager.reap();
    expect(reaped.map((entry) => entry.id)).toEqual([record.id]);
    expect(await manager.get(record.id)).toMatchObject({ status: 'terminated', reason: 'expired' });
  });
});

describe('zero-downtime redeploy (replace)', () => {
  it('stops the old deployment only after the new one is healthy', async () => {
    const manager = newManager();
    const first = await manager.deploy({ blueprintDir: helloWith({ GREETING: 'one' }), ttl: '10m' });
    const second = await manager.deploy({
      blueprintDir: helloWith({ GREETING: 'two' }),
      ttl: '10m',
      replace: true,
    });
    expect(second.status).toBe('running');
    const old = await manager.get(first.id);
    expect(old).toMatchObject({ status: 'terminated', reason: `replaced by ${second.id}` });
    const store = await manager.store;
    const becameRunning = (await store.audit(second.id)).find((entry) => entry.to === 'running')!.at;
    const oldStopping = (await store.audit(first.id)).find((entry) => entry.to === 'terminating')!.at;
    expect(oldStopping.getTime()).toBeGreaterThanOrEqual(becameRunning.getTime());
    const response = await fetch(`${second.endpoint}/`);
    expect(await response.text()).toContain('two from');
  });

  it('rolls back: a new deployment that never becomes healthy is undone and the old one keeps serving', async () => {
    const manager = newManager();
    const first = await manager.deploy({ blueprintDir: helloWith({ GREETING: 'one' }), ttl: '10m' });
    const error = await manager
      .deploy({
        blueprintDir: helloWith({ HELLO_FAIL_HEALTH: '1' }),
        ttl: '10m',
        waitTimeout: '1500ms',
        replace: true,
      })
      .catch((caught) => caught);
    expect(HealthTimeoutError.isInstance(error)).toBe(true);
    expect(await manager.get(first.id)).toMatchObject({ status: 'running' });
    expect((await fetch(`${first.endpoint}/health`)).status).toBe(200);
  });

  it('does not touch deployments of the same name without replace', async () => {
    const manager = newManager();
    const first = await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    expect(await manager.get(first.id)).toMatchObject({ status: 'running' });
  });
});

/** A provider that prices the request and then fails to create it with the given error. */
function failingProvider(
  id: string,
  hourlyUsd: number,
  error: () => Error,
): RemoteProviderV1 & { deployCalls: number } {
  const home = mkdtempSync(join(root, `${id}-`));
  const provider = localWith(home, {
    estimateCost: async () => ({ hourlyUsd, totalUsd: hourlyUsd, source: `test price of ${id}` }),
    deployInstance: async () => {
      provider.deployCalls++;
      throw error();
    },
  }) as RemoteProviderV1 & { deployCalls: number };
  Object.defineProperty(provider, 'provider', { value: id });
  provider.deployCalls = 0;
  return provider;
}

/** The real local provider under another id, with a price. */
function pricedLocal(id: string, hourlyUsd: number): RemoteProviderV1 {
  const home = mkdtempSync(join(root, `${id}-`));
  const provider = localWith(home, {
    estimateCost: async () => ({ hourlyUsd, totalUsd: hourlyUsd, source: `test price of ${id}` }),
  });
  Object.defineProperty(provider, 'provider', { value: id });
  return provider;
}

describe('choosing and failing over', () => {
  it('moves on to the next target after a capacity error and records why each attempt failed', async () => {
    const full = failingProvider(
      'full',
      0.1,
      () => new CapacityError({ message: 'no capacity in test-zone', provider: 'full' }),
    );
    const events: ManagerEvent[] = [];
    const manager = newManager({ providers: [full, pricedLocal('spare', 0.2)], events });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '10m', autoSelect: true });
    expect(full.deployCalls).toBe(1);
    expect(record).toMatchObject({ status: 'running', target: 'spare', hourlyUsd: 0.2 });
    expect(record.attempts.map((attempt) => [attempt.target, attempt.outcome])).toEqual([
      ['full', 'capacity'],
      ['spare', 'ok'],
    ]);
    expect(record.attempts[0]!.reason).toContain('no capacity in test-zone');
    expect(events.some((event) => event.step === 'failover')).toBe(true);
  });

  it('does not fail over on bad input or an unexpected error', async () => {
    const broken = failingProvider('broken', 0.1, () => new Error('boom'));
    const spare = pricedLocal('spare', 0.2);
    const manager = newManager({ providers: [broken, spare] });
    await expect(manager.deploy({ blueprintDir: HELLO, ttl: '10m', autoSelect: true })).rejects.toThrow(
      'boom',
    );
    const [record] = await manager.list();
    expect(record).toMatchObject({ status: 'failed', target: 'broken' });
  });

  it('records a deploy failed at once when the provider changed nothing, else leaves it to the reaper', async () => {
    const unreachable = (marked: boolean) => {
      const provider = failingProvider('unreachable', 0.1, () => {
        const error = new CredentialsError({ message: 'the engine refused the certificate', provider: 'x' });
        return marked ? markChangedNothing(error) : error;
      });
      // Nor can it be reached to confirm an undo.
      provider.terminateInstance = async () => {
        throw new CredentialsError({ message: 'the engine refused the certificate', provider: 'x' });
      };
      return provider;
    };
    for (const [marked, status] of [
      [true, 'failed'],
      [false, 'terminating'],
    ] as const) {
      const manager = newManager({ providers: [unreachable(marked)] });
      await expect(
        manager.deploy({ blueprintDir: HELLO, ttl: '10m', target: 'unreachable' }),
      ).rejects.toThrow('refused the certificate');
      const [record] = await manager.list();
      expect(record).toMatchObject({ status, target: 'unreachable' });
    }
  });

  it('--auto-select picks the cheapest target that fits', async () => {
    const manager = newManager({
      providers: [pricedLocal('dear', 0.5), pricedLocal('cheap', 0.05), pricedLocal('mid', 0.2)],
    });
    const plan = await manager.deploy({ blueprintDir: HELLO, ttl: '10m', autoSelect: true, dryRun: true });
    expect(plan).toMatchObject({ target: 'cheap', hourlyUsd: 0.05 });
  });

  it('follows the [policy] list in order, skipping entries that name nothing', async () => {
    const manager = createManager({
      paths: resolvePaths({ BP_HOME: mkdtempSync(join(root, 'policy-')) }),
      providers: [pricedLocal('cheap', 0.05), pricedLocal('mid', 0.2)],
      config: { policy: { cost_optimized: ['vultr', 'mid', 'cheap'] } },
    });
    managers.push(manager);
    const plan = await manager.deploy({ blueprintDir: HELLO, ttl: '10m', dryRun: true });
    expect(plan).toMatchObject({ target: 'mid' });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    expect(record.attempts[0]).toMatchObject({ target: 'vultr', outcome: 'unsupported' });
    expect(record.attempts.at(-1)).toMatchObject({ target: 'mid', outcome: 'ok' });
  });

  it('prices a target of an ordered list only when it is reached', async () => {
    const priced: string[] = [];
    const counting = (provider: RemoteProviderV1) => {
      const estimate = provider.estimateCost.bind(provider);
      provider.estimateCost = async (options) => {
        priced.push(provider.provider);
        return estimate(options);
      };
      return provider;
    };
    const full = counting(
      failingProvider('full', 0.1, () => new CapacityError({ message: 'no capacity', provider: 'full' })),
    );
    const manager = createManager({
      paths: resolvePaths({ BP_HOME: mkdtempSync(join(root, 'ordered-')) }),
      providers: [full, counting(pricedLocal('first', 0.05)), counting(pricedLocal('second', 0.2))],
      config: { policy: { cost_optimized: ['first', 'second'] } },
    });
    managers.push(manager);
    await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    expect(priced).toEqual(['first']);

    priced.length = 0;
    const failingOver = createManager({
      paths: resolvePaths({ BP_HOME: mkdtempSync(join(root, 'ordered-failover-')) }),
      providers: [full, counting(pricedLocal('second', 0.2))],
      config: { policy: { cost_optimized: ['full', 'second'] } },
    });
    managers.push(failingOver);
    const record = await failingOver.deploy({ blueprintDir: HELLO, ttl: '10m' });
    expect(priced).toEqual(['full', 'second']);
    expect(record.attempts.map((attempt) => [attempt.target, attempt.outcome])).toEqual([
      ['full', 'capacity'],
      ['second', 'ok'],
    ]);
  });

  it('refuses with a budget error (nothing created) when every candidate is over the limit', async () => {
    const dear = failingProvider('dear', 3, () => new Error('must not be called'));
    const manager = newManager({
      providers: [dear, failingProvider('dearer', 5, () => new Error('must not be called'))],
    });
    const error = await manager
      .deploy({ blueprintDir: HELLO, ttl: '10m', autoSelect: true, maxHourlyUsd: 2 })
      .catch((caught) => caught);
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(dear.deployCalls).toBe(0);
    expect(await manager.list()).toEqual([]);
  });
});

describe('costs and budgets', () => {
  it('bp costs: accrued cost is the price times the real time from the create call to the stop', async () => {
    const manager = newManager({ providers: [pricedLocal('paid', 3.6)] });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stopped = await manager.terminate(record.id);
    const report = await manager.costs();
    const cost = report.deployments.find((entry) => entry.id === record.id)!;
    const hours = (stopped.stoppedAt!.getTime() - stopped.provisionedAt!.getTime()) / 3_600_000;
    expect(cost.hours).toBeCloseTo(hours, 10);
    expect(cost.accruedUsd).toBeCloseTo(3.6 * hours, 10);
    expect(cost.accruedUsd).toBeGreaterThan(3.6 * (0.5 / 3600));
    expect(report.totalUsd).toBeCloseTo(cost.sinceUsd, 10);
  });

  it('refuses a deploy that would take the month over the budget, creating nothing', async () => {
    const manager = createManager({
      paths: resolvePaths({ BP_HOME: mkdtempSync(join(root, 'budget-')) }),
      providers: [pricedLocal('paid', 1)],
      config: { budget: { monthly_limit_usd: 1 } },
    });
    managers.push(manager);
    const error = await manager.deploy({ blueprintDir: HELLO, ttl: '2h' }).catch((caught) => caught);
    expect(BudgetExceededError.isInstance(error), String(error)).toBe(true);
    expect(error).toMatchObject({ period: 'month', limitUsd: 1 });
    expect(error.message).toMatch(/monthly budget/);
    expect(await manager.list()).toEqual([]);
  });

  it('the reaper warns once per threshold and, with action terminate, stops billing deployments newest first', async () => {
    const home = mkdtempSync(join(root, 'spent-'));
    const paid = pricedLocal('paid', 36);
    const spender = createManager({ paths: resolvePaths({ BP_HOME: home }), providers: [paid] });
    managers.push(spender);
    const older = await spender.deploy({ blueprintDir: HELLO, ttl: '10m' });
    const newer = await spender.deploy({ blueprintDir: HELLO, ttl: '10m' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events: ManagerEvent[] = [];
    const enforcer = createManager({
      paths: resolvePaths({ BP_HOME: home }),
      providers: [paid],
      config: { budget: { monthly_limit_usd: 0.001, action: 'terminate' } },
      onEvent: (event) => events.push(event),
    });
    managers.push(enforcer);
    const stopped = await enforcer.reap();
    expect(stopped.map((record) => record.id)).toEqual([newer.id, older.id]);
    expect(await enforcer.get(older.id)).toMatchObject({
      status: 'terminated',
      reason: 'monthly budget of $0.001 spent',
    });
    const warnings = events.filter((event) => event.step === 'budget');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/past 100 %/);
    await enforcer.reap();
    expect(events.filter((event) => event.step === 'budget')).toHaveLength(1);
  });
});

describe('monitor passes', () => {
  it('a deployment that stays unhealthy after its restart is marked failed, with nothing left running', async () => {
    const home = mkdtempSync(join(root, 'sick-'));
    let sick = false;
    const local = createLocalProvider({ stateDir: join(home, 'local') });
    const provider = localWith(home, {
      checkHealth: async (options) =>
        sick ? { healthy: false, reason: 'made sick by the test' } : local.checkHealth(options),
    });
    const manager = newManager({ providers: [provider] });
    const record = await manager.deploy({ blueprintDir: HELLO, ttl: '10m' });
    sick = true;
    const state = createMonitorState('test-monitor');
    const report = await manager.monitorPass(state, { failuresBeforeRecovery: 1, recoveryTimeoutMs: 1000 });
    expect(report.checked).toEqual([{ id: record.id, healthy: false, reason: 'made sick by the test' }]);
    expect(report.failed).toEqual([
      { id: record.id, reason: expect.stringContaining('never became healthy') },
    ]);
    expect(await manager.get(record.id)).toMatchObject({ status: 'failed' });
    expect((await local.getInstanceStatus({ deploymentId: record.id })).state).toBe('gone');
    const metrics = await manager.metrics(state);
    expect(metrics).toContain('bp_deployments{status="failed"} 1');
    expect(metrics).toContain('bp_monitor_passes_total 1');
  });
});
