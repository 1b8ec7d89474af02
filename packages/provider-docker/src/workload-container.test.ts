import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { describeWorkload } from './workload-container.js';

/** The parts of an engine's inspect that describeWorkload reads. */
function inspected(state: Partial<Dockerode.ContainerInspectInfo['State']>, expiresAt: Date) {
  return {
    Config: { Labels: { 'bp-expires-at': expiresAt.toISOString() }, ExposedPorts: {} },
    NetworkSettings: { Ports: {} },
    HostConfig: {},
    RestartCount: 1,
    State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: '', FinishedAt: '', ...state },
  } as unknown as Dockerode.ContainerInspectInfo;
}

describe('describeWorkload around the expiry', () => {
  const expiresAt = new Date(Date.now() - 5000);

  it('reports a container started again after its expiry as stopped there, not running', () => {
    const status = describeWorkload(
      inspected({ StartedAt: new Date(expiresAt.getTime() + 2000).toISOString() }, expiresAt),
      '127.0.0.1',
    );
    expect(status.state).toBe('exited');
    expect(status.message).toMatch(/stopped at its expiry .* runs? nothing/);
  });

  it('reports one started before its expiry as running (the deadline script stops it)', () => {
    const status = describeWorkload(
      inspected({ StartedAt: new Date(expiresAt.getTime() - 60_000).toISOString() }, expiresAt),
      '127.0.0.1',
    );
    expect(status.state).toBe('running');
  });

  it('reports a restarting container past its expiry as stopped there', () => {
    const status = describeWorkload(
      inspected({ Status: 'restarting', Running: false, Restarting: true, ExitCode: 0 }, expiresAt),
      '127.0.0.1',
    );
    expect(status.state).toBe('exited');
  });
});
