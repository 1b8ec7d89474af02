// The process that stays beside one local service. The provider starts it detached (its own session)
// and writes a SupervisorConfig to its stdin, so secrets never touch the disk or an argv. It runs the
// command without a shell as leader of a new process group, records each output line in logs.jsonl and
// its state in state.json, and stops the whole group at the deadline or on SIGTERM/SIGINT (SIGTERM, then
// SIGKILL after the grace). When the service is gone it releases the port lock and exits.
//
// Second layer for the deadline: with GNU timeout on PATH the command runs as
// `timeout --kill-after=<grace>s <remaining>s command...`, so the deadline holds even if this process is
// SIGKILLed. timeout is spawned detached, i.e. as a session leader, so its own setpgid(0, 0) fails with
// EPERM, which it ignores: it already leads its group, and on expiry its kill(0, signal) still reaches
// every process of the service (checked with strace on coreutils 9.1), then SIGKILLs the group, itself
// included, after the grace. So at the deadline this process leaves the signals to timeout (see stop()).
// A service that calls setsid/setpgid itself leaves the group and escapes both layers.
import { spawn, spawnSync } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
// '.ts' specifiers: Node runs this file straight from source in tests (type stripping); tsup bundles it.
import { findExecutable } from './find-executable.ts';
import {
  type InstanceRecord,
  instancePaths,
  portLockPath,
  releaseClaim,
  type SupervisorConfig,
  writeJsonAtomic,
} from './instance-files.ts';
import { isGroupAlive, processStartTime, signalGroup } from './process-tree.ts';

// Node's setTimeout holds at most 2^31-1 ms (about 24.8 days); longer deadlines re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

// Set for this process's own start-up only; the service gets the caller's environment without it.
delete process.env.NODE_COMPILE_CACHE;
const config = parseConfig(await readStdin());
const paths = instancePaths(config.stateDir, config.deploymentId);
const logFile = openSync(paths.logs, 'a', 0o600);
const timeoutBinary = findGnuTimeout();
let record: InstanceRecord = {
  deploymentId: config.deploymentId,
  name: config.name,
  owner: config.tags['bp:owner'],
  tags: config.tags,
  supervisorPid: process.pid,
  supervisorStartTime: processStartTime(process.pid),
  deadlineGuard: timeoutBinary ? 'timeout' : 'supervisor',
  port: config.port,
  endpoint: config.endpoint,
  deadline: config.deadline,
  startedAt: Date.now(),
  status: 'running',
};
let stopping: 'expired' | 'terminated' | undefined;
let killAt: number | undefined;

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop('terminated'));
// Detached, so no terminal can hang up on us.
process.on('SIGHUP', () => {});

const remainingSeconds = Math.max(0.001, (config.deadline - Date.now()) / 1000);
const argv = timeoutBinary
  ? [
      timeoutBinary,
      `--kill-after=${Math.max(0.1, config.stopGraceMs / 1000)}s`,
      `${remainingSeconds.toFixed(3)}s`,
      ...config.command,
    ]
  : config.command;
const child = spawn(argv[0]!, argv.slice(1), {
  cwd: config.workingDirectory,
  env: { ...process.env, ...config.env },
  detached: true,
  stdio: ['ignore', 'pipe', 'pipe'],
});
const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
  (resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  },
);
const outputDone = Promise.all([recordLines(child.stdout, 'stdout'), recordLines(child.stderr, 'stderr')]);

if (child.pid !== undefined) {
  save({ servicePid: child.pid, serviceStartTime: processStartTime(child.pid) });
  log(
    'system',
    `started pid ${child.pid}; expires ${new Date(config.deadline).toISOString()}` +
      (timeoutBinary ? ' (also enforced by timeout)' : ''),
  );
  armDeadline();
}
const { code, signal, error } = await exited;
const status = stopping ?? (Date.now() >= config.deadline - 100 ? 'expired' : 'exited');
// Whatever the command left in its group (children, daemons) goes with it.
if (child.pid !== undefined) await stopGroup(child.pid, record.serviceStartTime);
await Promise.race([outputDone, sleep(1000)]);
await releaseClaim(portLockPath(config.stateDir, config.port), config.deploymentId);
const message = error
  ? `could not start ${config.command[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}`
  : status === 'expired'
    ? `stopped at its deadline ${new Date(config.deadline).toISOString()}`
    : status === 'terminated'
      ? 'terminated on request'
      : code !== null
        ? `exited with code ${code}`
        : `killed by ${signal}`;
log('system', message);
save({ status, exitCode: code ?? undefined, exitSignal: signal ?? undefined, message, endedAt: Date.now() });
process.exit(0);

function log(stream: 'stdout' | 'stderr' | 'system', message: string): void {
  writeSync(logFile, `${JSON.stringify({ t: Date.now(), s: stream, m: message })}\n`);
}

function save(changes: Partial<InstanceRecord>): void {
  record = { ...record, ...changes };
  writeJsonAtomic(paths.state, record);
}

function recordLines(stream: Readable, name: 'stdout' | 'stderr'): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => log(name, line));
  return new Promise((resolve) => lines.once('close', resolve));
}

function armDeadline(): void {
  const remaining = config.deadline - Date.now();
  if (remaining <= 0) stop('expired');
  else setTimeout(armDeadline, Math.min(remaining, MAX_TIMER_MS));
}

function stop(reason: 'expired' | 'terminated'): void {
  if (stopping || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  stopping = reason;
  log('system', reason === 'expired' ? 'time to live reached: stopping' : 'terminate requested: stopping');
  save({ status: 'stopping' });
  // At the deadline timeout sends SIGTERM itself. A SIGTERM from here a moment before its alarm would make
  // that alarm send SIGKILL at once (a received SIGTERM arms its kill-after), skipping the grace; so here it
  // only stands by, with a SIGKILL a second later than timeout's.
  const timeoutStops = reason === 'expired' && timeoutBinary !== undefined;
  if (!timeoutStops) signalGroup(child.pid, record.serviceStartTime, 'SIGTERM');
  killAt = Date.now() + config.stopGraceMs + (timeoutStops ? 1000 : 0);
  const { pid } = child;
  setTimeout(() => signalGroup(pid, record.serviceStartTime, 'SIGKILL'), killAt - Date.now());
}

async function stopGroup(leaderPid: number, leaderStartTime: number | undefined): Promise<void> {
  signalGroup(leaderPid, leaderStartTime, 'SIGTERM');
  killAt ??= Date.now() + config.stopGraceMs;
  while (isGroupAlive(leaderPid, leaderStartTime)) {
    if (Date.now() >= killAt) signalGroup(leaderPid, leaderStartTime, 'SIGKILL');
    if (Date.now() >= killAt + 5000) return;
    await sleep(50);
  }
}

/** GNU timeout (or Homebrew's gtimeout), by absolute path so the service's PATH cannot change it. */
function findGnuTimeout(): string | undefined {
  for (const name of ['timeout', 'gtimeout']) {
    const path = findExecutable(name, process.env.PATH, '/');
    if (!path) continue;
    const version = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 2000 });
    if (version.stdout?.includes('GNU coreutils')) return path;
  }
  return undefined;
}

function parseConfig(text: string): SupervisorConfig {
  try {
    return JSON.parse(text) as SupervisorConfig;
  } catch {
    // Not the parser's message: it quotes the input, which holds secrets.
    console.error('bp supervisor: no valid configuration on stdin');
    process.exit(1);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
