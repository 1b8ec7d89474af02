// The kit checks itself against bp's embedded local provider, with probes that read the
// process table and the TCP port directly instead of asking the provider.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkloadV1 } from '@bp/provider';
import { createLocalProvider } from '@bp/provider-local';
import { afterAll, beforeAll } from 'vitest';
import { describeProviderConformance } from '../src/index.js';

const helloServer = fileURLToPath(new URL('../../../examples/hello/server.js', import.meta.url));
let stateDir = '';

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'bp-conformance-local-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

const hello = (env: Record<string, string> = {}): WorkloadV1 => ({
  command: [process.execPath, helloServer],
  port: 8080,
  healthPath: '/health',
  env,
});

/** What the local provider records in `<stateDir>/<id>/state.json`. */
interface LocalState {
  supervisorPid?: number;
  servicePid?: number;
  port?: number;
}

async function readState(deploymentId: string): Promise<LocalState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, deploymentId, 'state.json'), 'utf8')) as LocalState;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie waiting to be reaped. */
async function isAlive(pid: number | undefined): Promise<boolean> {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/s.test(stat);
}

function isAccepting(port: number | undefined): Promise<boolean> {
  if (!port) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1000 });
    const finish = (accepting: boolean) => {
      socket.destroy();
      resolve(accepting);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

/** hello services of this deployment in the process table: argv[1] is server.js, env names the id. */
async function countHelloProcesses(deploymentId: string): Promise<number> {
  let count = 0;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const [cmdline, environ] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/environ`, 'utf8').catch(() => ''),
    ]);
    const argv = cmdline.split('\0');
    const env = environ.split('\0');
    if (
      argv[1] === helloServer &&
      env.includes(`BP_DEPLOYMENT_ID=${deploymentId}`) &&
      (await isAlive(Number(pid)))
    ) {
      count += 1;
    }
  }
  return count;
}

describeProviderConformance({
  name: 'local',
  createProvider: () => createLocalProvider({ stateDir }),
  workloads: {
    healthy: hello(),
    readyLine: 'hello listening',
    neverHealthy: hello({ HELLO_FAIL_HEALTH: '1' }),
    exitsAtOnce: hello({ HELLO_EXIT_AT_ONCE: '1' }),
  },
  probes: {
    async isRunning(deploymentId) {
      const state = await readState(deploymentId);
      const [supervisor, service, port] = await Promise.all([
        isAlive(state?.supervisorPid),
        isAlive(state?.servicePid),
        isAccepting(state?.port),
      ]);
      return supervisor || service || port || (await countHelloProcesses(deploymentId)) > 0;
    },
    countInstances: countHelloProcesses,
  },
});
