import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import type { Socket } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  AbortedError,
  CapacityError,
  checkCommonDeployOptionsV1,
  checkHttpHealth,
  type DeployOptionsV1,
  type InstanceStatusV1,
  type LogEntryV1,
  type LogsOptionsV1,
  type ManagedResourceV1,
  NotFoundError,
  ProviderCallError,
  type RemoteInstanceV1,
  type RemoteProviderV1,
  throwIfAborted,
  UnsupportedCapabilityError,
  ValidationError,
  type WarningV1,
} from '@bp/provider';
import { findExecutable } from './find-executable.js';
import { findFreePort, scanPortsInUse } from './free-port.js';
import {
  claimFile,
  type InstanceRecord,
  instancePaths,
  RESERVED_NAMES,
  readRecord,
  readRecordSync,
  releaseClaim,
  releasePortLocks,
  type SupervisorConfig,
  uniqueSuffix,
  writeJsonAtomic,
} from './instance-files.js';
import { readLogEntries } from './log-entries.js';
import {
  isGroupAlive,
  isProcessAlive,
  processGroupOf,
  processStartTime,
  signalGroup,
  signalProcess,
} from './process-tree.js';

export interface LocalProviderSettings {
  /** Where instance directories live. Default: `$BP_HOME/local`, else `~/.config/bp/local`. */
  stateDir?: string;
  /** Address services are told to bind (`HOST`) and endpoints use. Default `127.0.0.1`. */
  host?: string;
  /** Grace between SIGTERM and SIGKILL on terminate and at expiry, in ms. Default 5000. */
  stopGraceMs?: number;
}

const PROVIDER = 'local';
const ID_PATTERN = /^[a-z0-9-]{1,63}$/;
/** state.json is written within this time of its instance directory being created. */
const START_TIMEOUT_MS = 10_000;
/**
 * Writes its pid to the file named by `$0` (service.pid), runs the command (`$@`) without fd 3, then
 * writes its exit status to fd 3 for the supervisor. The trap
 * keeps the shell alive through a SIGTERM to the group until the command is gone, so the status is
 * reported; a trap with a handler, unlike an ignored signal, is reset for the command it starts.
 */
const SERVICE_WRAPPER = 'echo "$$" > "$0"; trap : TERM INT HUP; "$@" 3>&-; echo "$?" >&3';
const POLL_MS = 50;
// How long logs() waits for a just-started supervisor to record the service's first output.
const SUPERVISED_WAIT_MS = 5000;
const PORT_ATTEMPTS = 20;
const SUPERVISOR_NICENESS = 10;
// Built, the supervisor sits beside this file in dist; from source (tests), Node runs the .ts itself.
const SUPERVISOR_PATH = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './supervisor.ts' : './supervisor.js', import.meta.url),
);
const OWN_START_TIME = processStartTime(process.pid);

interface Inspection {
  /** The instance directory exists. */
  exists: boolean;
  record?: InstanceRecord;
  status: InstanceStatusV1;
}

/** bp's default target: runs a blueprint's native command on this machine as a supervised process. */
export function createLocalProvider(settings: LocalProviderSettings = {}): RemoteProviderV1 {
  const stateDir = resolve(settings.stateDir ?? defaultStateDir());
  const host = settings.host ?? '127.0.0.1';
  const stopGraceMs = settings.stopGraceMs ?? 5000;
  if (!(Number.isFinite(stopGraceMs) && stopGraceMs >= 0)) {
    throw new ValidationError({ path: 'stopGraceMs', reason: 'must be 0 or more milliseconds' });
  }

  async function inspect(deploymentId: string): Promise<Inspection> {
    const paths = instancePaths(stateDir, deploymentId);
    // Synchronous: microseconds each, where the thread pool's round trip costs hundreds.
    const directory = statSync(paths.dir, { throwIfNoEntry: false });
    if (!directory) return { exists: false, status: { state: 'gone' } };
    const record = readRecordSync(paths.state);
    if (!record) {
      if (findOrphan(paths)) {
        return {
          exists: true,
          status: { state: 'running', message: 'started, but bp stopped before recording it: unsupervised' },
        };
      }
      const starting = Date.now() - directory.mtimeMs < START_TIMEOUT_MS;
      return {
        exists: true,
        status: starting ? { state: 'starting' } : { state: 'exited', message: 'never started' },
      };
    }
    return { exists: true, record, status: describeStatus(record) };
  }

  /** Runs `work` while holding the lock of one deployment id, across bp processes; `waited` if another held it. */
  async function withInstanceLock<T>(
    deploymentId: string,
    signal: AbortSignal | undefined,
    work: (waited: boolean) => Promise<T>,
  ): Promise<T> {
    const path = instancePaths(stateDir, deploymentId).lock;
    const content = JSON.stringify({ pid: process.pid, startTime: OWN_START_TIME, nonce: uniqueSuffix() });
    const holderIsGone = (held: string) => {
      try {
        const holder = JSON.parse(held) as { pid: number; startTime?: number };
        return !isProcessAlive(holder.pid, holder.startTime);
      } catch {
        return true;
      }
    };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const giveUpAt = Date.now() + START_TIMEOUT_MS + stopGraceMs + 10_000;
    let waited = false;
    while (!(await claimFile(path, content, holderIsGone))) {
      waited = true;
      if (Date.now() > giveUpAt) {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'lock',
          message: `deployment ${deploymentId} is kept busy by another bp process`,
          isRetryable: true,
        });
      }
      await pause(POLL_MS, signal);
    }
    try {
      return await work(waited);
    } finally {
      await releaseClaim(path, content);
    }
  }

  /** A free port locked for `deploymentId`; the first draw uses `scan` (started earlier) when given. */
  async function reservePort(deploymentId: string, scan?: Promise<Set<number> | undefined>): Promise<number> {
    mkdirSync(join(stateDir, 'ports'), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await findFreePort(host, attempt === 0 ? await scan : undefined).catch((error: Error) => {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'listen',
          message: `cannot bind ${host}: ${error.message}`,
          cause: error,
        });
      });
      // A lock is stale once its deployment no longer runs on that port.
      const holderIsGone = async (holder: string) => {
        const found = isInstanceId(holder) ? await inspect(holder) : undefined;
        if (!found?.exists || found.status.state === 'exited') return true;
        return found.record !== undefined && found.record.port !== port;
      };
      if (await claimFile(join(stateDir, 'ports', String(port)), deploymentId, holderIsGone)) return port;
    }
    throw new CapacityError({
      provider: PROVIDER,
      message: `no free port found in ${PORT_ATTEMPTS} attempts`,
    });
  }

  async function startInstance(
    options: DeployOptionsV1,
    warnings: WarningV1[],
    scan: Promise<Set<number> | undefined>,
  ): Promise<RemoteInstanceV1> {
    const { deploymentId, workload } = options;
    const command = workload.command!;
    const paths = instancePaths(stateDir, deploymentId);
    const timeoutBinary = findGnuTimeout(process.env.PATH ?? '', join(stateDir, '.timeout-binaries.json'));
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    try {
      const port = await reservePort(deploymentId, scan);
      const endpoint = `http://${endpointHost(host)}:${port}`;
      options.onProgress?.({ step: 'start', message: `starting ${command[0]} on port ${port}` });
      throwIfAborted(options.signal);
      const record = launch({
        paths,
        timeoutBinary: await timeoutBinary,
        command,
        // Absolute: the service runs elsewhere than bp's working directory may later be.
        workingDirectory: resolve(workload.workingDirectory ?? '.'),
        env: {
          ...workload.env,
          ...options.secrets,
          PORT: String(port),
          HOST: host,
          BP_DEPLOYMENT_ID: deploymentId,
        },
        record: {
          deploymentId,
          name: options.name,
          owner: options.tags['bp:owner'],
          tags: options.tags,
          port,
          endpoint,
          deadline: options.expiresAt.getTime(),
        },
      });
      return toInstance(record, false, warnings);
    } catch (error) {
      await removeInstance(deploymentId, await readRecord(paths.state), undefined);
      throw error;
    }
  }

  /**
   * Starts the supervisor, then the service itself, both detached, and writes state.json: the service
   * does not wait for the supervisor's own start-up. The service's output goes to the supervisor's fds 3
   * and 4 and its shell reports the exit status on fd 5 (see supervisor.ts); the supervisor learns the
   * rest from state.json and the config on its stdin (no secrets: those reach the service's environment
   * only).
   */
  function launch(start: {
    paths: ReturnType<typeof instancePaths>;
    timeoutBinary: string | undefined;
    command: string[];
    workingDirectory: string;
    env: Record<string, string>;
    record: Pick<
      InstanceRecord,
      'deploymentId' | 'name' | 'owner' | 'tags' | 'port' | 'endpoint' | 'deadline'
    >;
  }): InstanceRecord {
    const { paths, timeoutBinary, record } = start;
    // The supervisor appends to logs.jsonl once it runs; it exists from the start for readers.
    closeSync(openSync(paths.logs, 'a', 0o600));
    const remainingSeconds = Math.max(0.001, (record.deadline - Date.now()) / 1000);
    // timeout, when there, leads: a session leader's setpgid(0, 0) fails, so its kill(0) at the deadline
    // reaches the whole session's group (see supervisor.ts); the shell inside survives the SIGTERM to report.
    const wrapped = ['/bin/sh', '-c', SERVICE_WRAPPER, paths.servicePid, ...start.command];
    const argv = timeoutBinary
      ? [
          timeoutBinary,
          `--kill-after=${Math.max(0.1, stopGraceMs / 1000)}s`,
          `${remainingSeconds.toFixed(3)}s`,
          ...wrapped,
        ]
      : wrapped;
    // The service first, as it is what the deploy waits for; the supervisor gets the other ends of its
    // output and status pipes. Both start in this same synchronous turn, so bp itself never reads from them.
    const service = spawn(argv[0]!, argv.slice(1), {
      cwd: start.workingDirectory,
      env: { ...process.env, ...start.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    service.on('error', () => {});
    service.unref();
    const ends = service.stdio.slice(1) as Socket[];
    let supervisor: ReturnType<typeof spawn> | undefined;
    try {
      if (service.pid === undefined) {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'start',
          message: `could not start ${start.command[0]} for ${record.deploymentId}`,
        });
      }
      const stderr = openSync(paths.supervisorLog, 'a', 0o600);
      try {
        supervisor = spawn(process.execPath, [SUPERVISOR_PATH, paths.dir], {
          cwd: paths.dir,
          detached: true,
          stdio: ['pipe', 'ignore', stderr, ends[0]!, ends[1]!, ends[2]!],
          // The supervisor starts once per deploy: Node's compile cache saves it a few ms each time.
          env: { ...process.env, NODE_COMPILE_CACHE: join(stateDir, '.compile-cache') },
        });
      } finally {
        closeSync(stderr);
      }
      supervisor.on('error', () => {});
      // Its start-up yields the CPU to the service's: nothing waits for it (see checkHealth).
      if (supervisor.pid !== undefined && timeoutBinary) {
        try {
          os.setPriority(supervisor.pid, SUPERVISOR_NICENESS);
        } catch {}
      }
      if (supervisor.pid === undefined) {
        // Its group: the shell and whatever it started in this same turn.
        signalGroup(service.pid, undefined, 'SIGKILL');
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'start supervisor',
          message: `the supervisor of ${record.deploymentId} did not start`,
        });
      }
      const full: InstanceRecord = {
        ...record,
        supervisorPid: supervisor.pid,
        supervisorStartTime: processStartTime(supervisor.pid),
        servicePid: service.pid,
        serviceStartTime: processStartTime(service.pid),
        deadlineGuard: timeoutBinary ? 'timeout' : 'supervisor',
        startedAt: Date.now(),
        status: 'running',
      };
      writeJsonAtomic(paths.state, full);
      const config: SupervisorConfig = {
        stateDir,
        deploymentId: record.deploymentId,
        port: record.port,
        deadline: record.deadline,
        stopGraceMs,
      };
      supervisor.stdin?.on('error', () => {});
      supervisor.stdin?.end(JSON.stringify(config));
      return full;
    } finally {
      // Only the supervisor and the service keep these: the supervisor sees the end of the output
      // when the service's processes are gone.
      for (const end of ends) end.destroy();
      supervisor?.unref();
    }
  }

  /** Stops every process of the instance (bounded), releases its port and deletes its directory. */
  async function removeInstance(
    deploymentId: string,
    record: InstanceRecord | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    // Without state.json, the service a killed bp started may still run (see findOrphan).
    const processes = record
      ? processesOf(record)
      : { deploymentId, service: findOrphan(instancePaths(stateDir, deploymentId)) };
    await stopProcesses(processes, signal);
    await releasePortLocks(stateDir, deploymentId);
    // Renamed first, so the id is free at once even if deleting a large log takes a while.
    const trash = join(stateDir, `.trash-${deploymentId}-${uniqueSuffix()}`);
    const moved = await rename(instancePaths(stateDir, deploymentId).dir, trash).then(
      () => true,
      () => false,
    );
    if (moved) await rm(trash, { recursive: true, force: true });
  }

  /**
   * Stops the supervisor and the service's group (bounded): the supervisor stops the group and records
   * why; without one, the group is stopped from here.
   */
  async function stopProcesses(processes: InstanceProcesses, signal: AbortSignal | undefined): Promise<void> {
    const { deploymentId, supervisor, service } = processes;
    const supervisorAlive = () =>
      supervisor !== undefined && isProcessAlive(supervisor.pid, supervisor.startTime);
    const serviceAlive = () => service !== undefined && isGroupAlive(service.pid, service.startTime);
    const signalSupervisor = (name: NodeJS.Signals) => {
      if (supervisor) signalProcess(supervisor.pid, supervisor.startTime, name);
    };
    const signalService = (name: NodeJS.Signals) => {
      if (service) signalGroup(service.pid, service.startTime, name);
    };
    if (supervisorAlive()) signalSupervisor('SIGTERM');
    else signalService('SIGTERM');
    const killAt = Date.now() + stopGraceMs + 1000;
    while (supervisorAlive() || serviceAlive()) {
      if (Date.now() >= killAt + 5000) {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'terminate',
          message: `processes of ${deploymentId} are still alive after SIGKILL`,
          isRetryable: true,
        });
      }
      if (Date.now() >= killAt) {
        signalSupervisor('SIGKILL');
        signalService('SIGKILL');
      }
      await pause(POLL_MS, signal);
    }
  }

  function toInstance(record: InstanceRecord, reused: boolean, warnings: WarningV1[]): RemoteInstanceV1 {
    return {
      deploymentId: record.deploymentId,
      resourceIds: [instancePaths(stateDir, record.deploymentId).dir],
      endpoint: record.endpoint,
      hourlyUsd: 0,
      reused,
      warnings,
    };
  }

  /**
   * Waits (bounded) until the instance's supervisor has recorded what the service wrote before it ran,
   * so that logs read right after a deploy show the service's first lines.
   */
  async function untilSupervised(deploymentId: string, signal: AbortSignal | undefined): Promise<void> {
    const path = instancePaths(stateDir, deploymentId).state;
    for (let attempt = 0; attempt < SUPERVISED_WAIT_MS / 10; attempt++) {
      const record = await readRecord(path);
      if (!record || record.supervisedAt !== undefined || record.status !== 'running') return;
      if (!isProcessAlive(record.supervisorPid, record.supervisorStartTime)) return;
      await sleep(10, undefined, { signal });
    }
  }

  function isLive(deploymentId: string): () => Promise<boolean> {
    return async () =>
      ['starting', 'running', 'stopping'].includes((await inspect(deploymentId)).status.state);
  }

  return {
    specificationVersion: 'v1',
    provider: PROVIDER,
    capabilities: {
      nativeCommand: true,
      containerImage: false,
      gpu: false,
      spot: false,
      logsFollow: true,
      ttlOnTarget: true,
      tunnel: false,
      regions: false,
    },

    async deployInstance(options) {
      throwIfAborted(options.signal);
      const warnings = checkDeployOptions(options);
      const { deploymentId, signal } = options;
      // Reading the kernel's socket tables takes a few ms: on a thread-pool thread, while this thread loads
      // what the start will need (child_process, a few ms too) and takes the lock.
      const scan = scanPortsInUse();
      scan.catch(() => {});
      process.getBuiltinModule('node:child_process');
      return withInstanceLock(deploymentId, signal, async (waited) => {
        const existing = await inspect(deploymentId);
        // A deploy of the same id that ran while we waited made what we were asked to make, even if it died since.
        if (existing.record && (waited || existing.status.state === 'running')) {
          options.onProgress?.({ step: 'reuse', message: `instance ${deploymentId} already exists` });
          return toInstance(existing.record, true, warnings);
        }
        // What is left of an earlier instance that has ended is replaced.
        if (existing.exists) await removeInstance(deploymentId, existing.record, signal);
        return startInstance(options, warnings, scan);
      });
    },

    async getInstanceStatus({ deploymentId, signal }) {
      throwIfAborted(signal);
      if (!isInstanceId(deploymentId)) return { state: 'gone' };
      return (await inspect(deploymentId)).status;
    },

    async terminateInstance({ deploymentId, signal }) {
      throwIfAborted(signal);
      if (!isInstanceId(deploymentId) || !(await inspect(deploymentId)).exists) return;
      await withInstanceLock(deploymentId, signal, async () => {
        const found = await inspect(deploymentId);
        if (found.exists) await removeInstance(deploymentId, found.record, signal);
      });
    },

    async *logs(options: LogsOptionsV1): AsyncGenerator<LogEntryV1> {
      throwIfAborted(options.signal);
      const { deploymentId, tail } = options;
      if (!isInstanceId(deploymentId) || !(await inspect(deploymentId)).exists) {
        throw new NotFoundError({ kind: 'instance', id: deploymentId });
      }
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
        throw new ValidationError({ path: 'tail', reason: 'must be a whole number, 0 or more' });
      }
      await untilSupervised(deploymentId, options.signal);
      yield* readLogEntries(instancePaths(stateDir, deploymentId).logs, {
        ...options,
        isLive: isLive(deploymentId),
      });
    },

    async checkHealth({ deploymentId, path, timeoutMs, signal }) {
      throwIfAborted(signal);
      const record = isInstanceId(deploymentId)
        ? await readRecord(instancePaths(stateDir, deploymentId).state)
        : undefined;
      if (!record) return { healthy: false, reason: `instance ${deploymentId} not found` };
      // The service's health does not wait for its supervisor's start-up (its output waits in the pipes,
      // and logs() waits for the supervisor), unless the supervisor alone holds the deadline.
      if (record.supervisedAt === undefined) {
        const starting = isProcessAlive(record.supervisorPid, record.supervisorStartTime);
        if (!starting) {
          return {
            healthy: false,
            reason: `its supervisor did not start (see ${instancePaths(stateDir, deploymentId).supervisorLog})`,
          };
        }
        if (record.deadlineGuard === 'supervisor') {
          return { healthy: false, reason: 'its supervisor, which holds its deadline, is starting' };
        }
      }
      const result = await checkHttpHealth(record.endpoint, path, { timeoutMs, signal });
      throwIfAborted(signal);
      return result;
    },

    async getAvailableResources(options = {}) {
      throwIfAborted(options.signal);
      let directory = stateDir;
      while (!(await stat(directory).catch(() => undefined)) && dirname(directory) !== directory) {
        directory = dirname(directory);
      }
      const disk = await statfs(directory);
      return {
        cpu: os.cpus().length,
        memoryGb: toGib(os.freemem()),
        storageGb: toGib(disk.bavail * disk.bsize),
        gpus: [],
      };
    },

    async estimateCost({ signal }) {
      throwIfAborted(signal);
      return { hourlyUsd: 0, totalUsd: 0, source: 'free: this machine' };
    },

    async listManagedResources(options = {}) {
      throwIfAborted(options.signal);
      const names = await readdir(stateDir).catch(() => [] as string[]);
      const resources: ManagedResourceV1[] = [];
      for (const name of names.filter(isInstanceId).sort()) {
        const { exists, record, status } = await inspect(name);
        if (!exists || (options.owner !== undefined && record?.owner !== options.owner)) continue;
        resources.push({
          resourceId: instancePaths(stateDir, name).dir,
          deploymentId: name,
          expiresAt: record ? new Date(record.deadline) : undefined,
          owner: record?.owner,
          state: status.state,
        });
      }
      return resources;
    },
  };
}

/** An instance's processes: its supervisor, and the leader of its service's process group. */
interface InstanceProcesses {
  deploymentId: string;
  supervisor?: { pid: number; startTime?: number };
  service?: { pid: number; startTime?: number };
}

function processesOf(record: InstanceRecord): InstanceProcesses {
  return {
    deploymentId: record.deploymentId,
    supervisor: { pid: record.supervisorPid, startTime: record.supervisorStartTime },
    service:
      record.servicePid === undefined
        ? undefined
        : { pid: record.servicePid, startTime: record.serviceStartTime },
  };
}

/**
 * The process group of a service started without a state.json, from the pid its shell wrote: only
 * while that process is alive and its command line names that very file (so a reused pid is not
 * taken for it).
 */
function findOrphan(
  paths: ReturnType<typeof instancePaths>,
): { pid: number; startTime?: number } | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.servicePid, 'utf8').trim());
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!Number.isInteger(pid) || !commandLine.includes(paths.servicePid)) return undefined;
  } catch {
    return undefined;
  }
  const leader = processGroupOf(pid);
  return leader === undefined ? undefined : { pid: leader, startTime: processStartTime(leader) };
}

function describeStatus(record: InstanceRecord): InstanceStatusV1 {
  const supervisorAlive = isProcessAlive(record.supervisorPid, record.supervisorStartTime);
  const serviceAlive =
    record.servicePid !== undefined && isGroupAlive(record.servicePid, record.serviceStartTime);
  const known = { endpoint: record.endpoint, expiresAt: new Date(record.deadline) };
  if (record.status === 'running' && serviceAlive) {
    if (supervisorAlive) return { ...known, state: 'running' };
    const guard =
      record.deadlineGuard === 'timeout'
        ? 'timeout still enforces the deadline'
        : 'nothing enforces the deadline';
    return {
      ...known,
      state: 'running',
      message: `the supervisor is gone: output is not recorded (a write may end the service) and ${guard}`,
    };
  }
  if (supervisorAlive || serviceAlive) return { ...known, state: 'stopping' };
  if (record.status !== 'running' && record.status !== 'stopping') {
    return { ...known, state: 'exited', exitCode: record.exitCode, message: record.message };
  }
  const ending = Date.now() >= record.deadline ? 'stopped at its deadline' : 'ended';
  return {
    ...known,
    state: 'exited',
    message: `the supervisor was killed; the service ${ending} unrecorded`,
  };
}

function checkDeployOptions(options: DeployOptionsV1): WarningV1[] {
  const { workload, resources } = options;
  const invalid = (path: string, reason: string) => new ValidationError({ path, reason });
  if (!isInstanceId(options.deploymentId)) {
    throw invalid(
      'deploymentId',
      `must be 1 to 63 of a-z, 0-9 and -, and not ${RESERVED_NAMES.join(' or ')}`,
    );
  }
  const command = workload.command;
  if (!command?.length && workload.image) {
    throw new UnsupportedCapabilityError({
      provider: PROVIDER,
      capability: 'containerImage',
      message: 'provider local runs native commands; container images on this machine are not supported yet',
    });
  }
  if (!Array.isArray(command) || !command.length || !command.every(isCleanString) || !command[0]) {
    throw invalid('workload.command', 'must be a non-empty list of strings without NUL bytes');
  }
  const workingDirectory = workload.workingDirectory ?? process.cwd();
  if (!isDirectory(workingDirectory))
    throw invalid('workload.workingDirectory', `${workingDirectory} is not a directory`);
  if (!findExecutable(command[0], workload.env?.PATH ?? process.env.PATH, workingDirectory)) {
    throw invalid('workload.command', `${command[0]} is not an executable file here or on PATH`);
  }
  checkCommonDeployOptionsV1(options);
  for (const [group, values] of [
    ['workload.env', workload.env],
    ['secrets', options.secrets],
  ] as const) {
    for (const [key, value] of Object.entries(values ?? {})) {
      if (!/^[^=\0]+$/.test(key) || !isCleanString(value)) {
        throw invalid(`${group}.${key}`, 'must be a name without = holding a string without NUL bytes');
      }
    }
  }
  if (resources.gpuCount > 0) throw new UnsupportedCapabilityError({ provider: PROVIDER, capability: 'gpu' });

  const warnings: WarningV1[] = [];
  const warn = (setting: string, message: string) => warnings.push({ setting, message });
  if (resources.spot)
    warn('resources.spot', 'this machine has no spot capacity: runs as an ordinary process');
  if (workload.image) warn('workload.image', 'ignored: provider local runs the native command');
  if (options.region) warn('region', 'ignored: this machine has no regions');
  if (options.instanceType) warn('instanceType', 'ignored: this machine has no instance types');
  const cpus = os.cpus().length;
  if (resources.cpu > cpus) warn('resources.cpu', `asks for ${resources.cpu} CPUs; this machine has ${cpus}`);
  const memoryGb = toGib(os.totalmem());
  if (resources.memoryGb > memoryGb)
    warn('resources.memoryGb', `asks for ${resources.memoryGb} GiB; this machine has ${memoryGb}`);
  return warnings;
}

function isInstanceId(name: string): boolean {
  return ID_PATTERN.test(name) && !RESERVED_NAMES.includes(name);
}

function isCleanString(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\0');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function toGib(bytes: number): number {
  return Math.round((bytes / 2 ** 30) * 100) / 100;
}

/** Where a client on this machine reaches a service bound to `host`. */
function endpointHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function defaultStateDir(): string {
  if (process.env.BP_HOME) return join(process.env.BP_HOME, 'local');
  return join(process.env.XDG_CONFIG_HOME || join(os.homedir(), '.config'), 'bp', 'local');
}

/** Binds port 0 to let the OS pick a free port, then releases it for the service. */
const gnuTimeouts = new Map<string, Promise<string | undefined>>();

/**
 * GNU timeout (or Homebrew's gtimeout) on `pathVariable`, by absolute path so the service's PATH cannot
 * change it. Asking a binary whether it is GNU's costs a process start, so the answer is remembered in
 * `cacheFile` with the binary's identity (device, inode, size, modification time): a changed binary is asked again.
 */
function findGnuTimeout(pathVariable: string, cacheFile: string): Promise<string | undefined> {
  let found = gnuTimeouts.get(pathVariable);
  if (!found) {
    found = (async () => {
      let known: Record<string, string> = {};
      try {
        known = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, string>;
      } catch {
        // None yet, or unreadable: ask.
      }
      for (const name of ['timeout', 'gtimeout']) {
        const path = findExecutable(name, pathVariable, '/');
        if (!path) continue;
        const info = statSync(path, { throwIfNoEntry: false });
        const identity = info && `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
        if (identity && known[path] !== undefined) {
          if (known[path] === `gnu ${identity}`) return path;
          if (known[path] === `other ${identity}`) continue;
        }
        const version = await new Promise<string>((resolveVersion) => {
          execFile(path, ['--version'], { timeout: 2000 }, (_error, stdout) =>
            resolveVersion(String(stdout)),
          );
        });
        const isGnu = version.includes('GNU coreutils');
        if (identity) {
          known[path] = `${isGnu ? 'gnu' : 'other'} ${identity}`;
          try {
            writeJsonAtomic(cacheFile, known);
          } catch {
            // Not remembered: the next deploy asks again.
          }
        }
        if (isGnu) return path;
      }
      return undefined;
    })();
    gnuTimeouts.set(pathVariable, found);
  }
  return found;
}

async function pause(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  try {
    await sleep(milliseconds, undefined, { signal });
  } catch {
    throw new AbortedError();
  }
}
