// The process that stays beside one local service. The provider starts it detached (its own session),
// then starts the service itself, detached too, so that the service does not wait for this process's
// own start-up: the service's stdout and stderr are the write ends of this process's fds 3 and 4, and
// the small shell that runs it reports the command's exit status on fd 5 (SERVICE_WRAPPER in
// local-provider.ts). The provider writes state.json first, then a SupervisorConfig to stdin; from then
// on this process alone writes state.json. It records each output line in logs.jsonl, and stops the
// service's whole process group at the deadline or on SIGTERM/SIGINT (SIGTERM, then SIGKILL after the
// grace). When the service is gone it releases the port lock and exits.
//
// Second layer for the deadline: with GNU timeout on PATH the service runs as
// `timeout --kill-after=<grace>s <remaining>s sh -c <wrapper> command...`, so the deadline holds even if
// this process is SIGKILLed. timeout is spawned detached, i.e. as a session leader, so its own
// setpgid(0, 0) fails with EPERM, which it ignores: on expiry its kill(0, signal) still reaches every
// process of the service (checked with strace on coreutils 9.1), then SIGKILLs the group, itself
// included, after the grace. So at the deadline this process leaves the signals to timeout (see
// stop()). A service that calls setsid/setpgid itself leaves the group and escapes both layers.
import { openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
// '.ts' specifiers: Node runs this file straight from source in tests (type stripping); tsup bundles it.
import {
  type InstanceRecord,
  instancePaths,
  portLockPath,
  readRecordSync,
  releaseClaim,
  type SupervisorConfig,
  writeJsonAtomic,
} from './instance-files.ts';
import { isGroupAlive, signalGroup } from './process-tree.ts';

// Node's setTimeout holds at most 2^31-1 ms (about 24.8 days); longer deadlines re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;
const POLL_MS = 50;

let stopping: 'expired' | 'terminated' | undefined;
/** The last signal sent to the service's group (by this process, or by timeout at the deadline). */
let lastSignal: NodeJS.Signals | undefined;
let killAt: number | undefined;
let started: { config: SupervisorConfig; leader: number; leaderStartTime?: number } | undefined;

// Installed before the config arrives: a terminate during start-up stops the service once it is known.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop('terminated'));
// Detached, so no terminal can hang up on us.
process.on('SIGHUP', () => {});

// Set for this process's own start-up only.
delete process.env.NODE_COMPILE_CACHE;
const config = parseConfig(await readStdin());
const paths = instancePaths(config.stateDir, config.deploymentId);
const logFile = openSync(paths.logs, 'a', 0o600);
let record: InstanceRecord = readRecordSync(paths.state) ?? fail('state.json is missing');
const leader = record.servicePid ?? fail('state.json names no service');
started = { config, leader, leaderStartTime: record.serviceStartTime };

const outputDone = Promise.all([recordLines(3, 'stdout'), recordLines(4, 'stderr')]);
const exitStatus = readExitStatus(5);
log(
  'system',
  `started pid ${leader}; expires ${new Date(config.deadline).toISOString()}` +
    (record.deadlineGuard === 'timeout' ? ' (also enforced by timeout)' : ''),
);
if (stopping) {
  stopping = undefined;
  stop('terminated');
}
armDeadline();
// What the service wrote before this process ran is read in the event loop's first turn; after it,
// the instance counts as supervised (the provider reports it healthy only then).
setImmediate(() => {
  if (record.status === 'running') save({ supervisedAt: Date.now() });
});

const status = await exitStatus;
// Read through a call: the signal handlers set it while this module waits.
const ended = stopReason() ?? (Date.now() >= config.deadline - 100 ? 'expired' : 'exited');
// Whatever the command left in its group (children, daemons) goes with it.
await stopGroup();
await Promise.race([outputDone, sleep(1000)]);
await releaseClaim(portLockPath(config.stateDir, config.port), config.deploymentId);
const { exitCode, exitSignal } = describeExit(status);
const message =
  ended === 'expired'
    ? `stopped at its deadline ${new Date(config.deadline).toISOString()}`
    : ended === 'terminated'
      ? 'terminated on request'
      : exitCode !== undefined
        ? `exited with code ${exitCode}`
        : `killed by ${exitSignal ?? 'a signal'}`;
log('system', message);
save({ status: ended, exitCode, exitSignal, message, endedAt: Date.now() });
process.exit(0);

function stopReason(): 'expired' | 'terminated' | undefined {
  return stopping;
}

function fail(reason: string): never {
  console.error(`bp supervisor: ${reason}`);
  process.exit(1);
}

function log(stream: 'stdout' | 'stderr' | 'system', message: string): void {
  writeSync(logFile, `${JSON.stringify({ t: Date.now(), s: stream, m: message })}\n`);
}

function save(changes: Partial<InstanceRecord>): void {
  record = { ...record, ...changes };
  writeJsonAtomic(paths.state, record);
}

function recordLines(fd: number, name: 'stdout' | 'stderr'): Promise<void> {
  const input = new Socket({ fd, readable: true, writable: false });
  input.on('error', () => {});
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => log(name, line));
  return new Promise((resolve) => lines.once('close', resolve));
}

/** The command's exit status as its shell reported it; undefined when the shell itself was killed. */
function readExitStatus(fd: number): Promise<number | undefined> {
  const input = new Socket({ fd, readable: true, writable: false });
  let text = '';
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    text += chunk;
  });
  return new Promise((resolve) => {
    const done = () => resolve(/^\d+\n$/.test(text) ? Number(text) : undefined);
    input.once('end', done);
    input.once('error', done);
  });
}

/** Exit statuses above 128 are a shell's way of saying "killed by signal (status - 128)". */
function describeExit(exitStatus: number | undefined): { exitCode?: number; exitSignal?: string } {
  if (exitStatus === undefined) return { exitSignal: lastSignal };
  const signal = Object.entries(constants.signals).find(([, number]) => number === exitStatus - 128);
  return exitStatus > 128 && signal ? { exitSignal: signal[0] } : { exitCode: exitStatus };
}

function armDeadline(): void {
  const remaining = config.deadline - Date.now();
  if (remaining <= 0) stop('expired');
  else setTimeout(armDeadline, Math.min(remaining, MAX_TIMER_MS));
}

function stop(reason: 'expired' | 'terminated'): void {
  if (stopping) return;
  stopping = reason;
  if (!started) return; // the config is not read yet: stopped as soon as it is
  const { config: settings, leader: pid, leaderStartTime } = started;
  log('system', reason === 'expired' ? 'time to live reached: stopping' : 'terminate requested: stopping');
  save({ status: 'stopping' });
  // At the deadline timeout sends SIGTERM itself. A SIGTERM from here a moment before its alarm would make
  // that alarm send SIGKILL at once (a received SIGTERM arms its kill-after), skipping the grace; so here it
  // only stands by, with a SIGKILL a second later than timeout's.
  const timeoutStops = reason === 'expired' && record.deadlineGuard === 'timeout';
  if (!timeoutStops) signalGroup(pid, leaderStartTime, 'SIGTERM');
  lastSignal = 'SIGTERM';
  killAt = Date.now() + settings.stopGraceMs + (timeoutStops ? 1000 : 0);
  const stillAlive = () => isGroupAlive(pid, leaderStartTime);
  // timeout's SIGKILL comes at the end of the grace; a group alive just before it will get it.
  if (timeoutStops) {
    setTimeout(
      () => {
        if (stillAlive()) lastSignal = 'SIGKILL';
      },
      Math.max(0, settings.stopGraceMs - 100),
    );
  }
  setTimeout(() => {
    if (!stillAlive()) return;
    lastSignal = 'SIGKILL';
    signalGroup(pid, leaderStartTime, 'SIGKILL');
  }, killAt - Date.now());
}

async function stopGroup(): Promise<void> {
  if (!isGroupAlive(leader, record.serviceStartTime)) return;
  signalGroup(leader, record.serviceStartTime, 'SIGTERM');
  killAt ??= Date.now() + config.stopGraceMs;
  while (isGroupAlive(leader, record.serviceStartTime)) {
    if (Date.now() >= killAt) signalGroup(leader, record.serviceStartTime, 'SIGKILL');
    if (Date.now() >= killAt + 5000) return;
    await sleep(POLL_MS);
  }
}

function parseConfig(text: string): SupervisorConfig {
  try {
    return JSON.parse(text) as SupervisorConfig;
  } catch {
    return fail('no valid configuration on stdin');
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
