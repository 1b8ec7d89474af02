import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
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
import {
  claimFile,
  type InstanceRecord,
  instancePaths,
  RESERVED_NAMES,
  readRecord,
  releaseClaim,
  releasePortLocks,
  type SupervisorConfig,
} from './instance-files.js';
import { readLogEntries } from './log-entries.js';
import {
  isGroupAlive,
  isProcessAlive,
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
/** A supervisor writes state.json within this time of its instance directory being created. */
const START_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const PORT_ATTEMPTS = 20;
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
    const directory = await stat(paths.dir).catch(() => undefined);
    if (!directory) return { exists: false, status: { state: 'gone' } };
    const record = await readRecord(paths.state);
    if (!record) {
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
    const content = JSON.stringify({ pid: process.pid, startTime: OWN_START_TIME, nonce: randomUUID() });
    const holderIsGone = (held: string) => {
      try {
        const holder = JSON.parse(held) as { pid: number; startTime?: number };
        return !isProcessAlive(holder.pid, holder.startTime);
      } catch {
        return true;
      }
    };
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
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

  async function reservePort(deploymentId: string): Promise<number> {
    await mkdir(join(stateDir, 'ports'), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await findFreePort(host);
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

  async function startInstance(options: DeployOptionsV1, warnings: WarningV1[]): Promise<RemoteInstanceV1> {
    const { deploymentId, workload } = options;
    const command = workload.command!;
    const paths = instancePaths(stateDir, deploymentId);
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    try {
      const port = await reservePort(deploymentId);
      const endpoint = `http://${endpointHost(host)}:${port}`;
      const config: SupervisorConfig = {
        stateDir,
        deploymentId,
        name: options.name,
        tags: options.tags,
        command,
        // Absolute: the supervisor runs elsewhere (in the instance directory).
        workingDirectory: resolve(workload.workingDirectory ?? '.'),
        env: {
          ...workload.env,
          ...options.secrets,
          PORT: String(port),
          HOST: host,
          BP_DEPLOYMENT_ID: deploymentId,
        },
        port,
        endpoint,
        deadline: options.expiresAt.getTime(),
        stopGraceMs,
      };
      options.onProgress?.({ step: 'start', message: `starting ${command[0]} on port ${port}` });
      return toInstance(await startSupervisor(config, options.signal), false, warnings);
    } catch (error) {
      await removeInstance(deploymentId, await readRecord(paths.state), undefined);
      throw error;
    }
  }

  /** Starts the supervisor detached, hands it the config on stdin and waits until it has started the service. */
  async function startSupervisor(
    config: SupervisorConfig,
    signal: AbortSignal | undefined,
  ): Promise<InstanceRecord> {
    const paths = instancePaths(stateDir, config.deploymentId);
    const stderr = openSync(paths.supervisorLog, 'a', 0o600);
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(process.execPath, [SUPERVISOR_PATH, paths.dir], {
        cwd: paths.dir,
        detached: true,
        stdio: ['pipe', 'ignore', stderr],
        // The supervisor starts once per deploy: Node's compile cache saves it a few ms each time.
        env: { ...process.env, NODE_COMPILE_CACHE: join(stateDir, '.compile-cache') },
      });
    } finally {
      closeSync(stderr);
    }
    let ended = false;
    child.once('exit', () => {
      ended = true;
    });
    child.once('error', () => {
      ended = true;
    });
    // A supervisor that dies at once is reported below, from its log.
    child.stdin?.on('error', () => {});
    child.stdin?.end(JSON.stringify(config));
    child.unref();
    const giveUpAt = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const record = await readRecord(paths.state);
      if (record) return record;
      if (signal?.aborted) {
        // Its SIGTERM handler stops a service it may have started; the caller then removes the rest.
        child.kill('SIGTERM');
        const stopBy = Date.now() + stopGraceMs + 5000;
        while (!ended && Date.now() < stopBy) await sleep(POLL_MS);
        throw new AbortedError();
      }
      if (ended || Date.now() > giveUpAt) break;
      await sleep(POLL_MS / 2);
    }
    child.kill('SIGKILL');
    const output = await readFile(paths.supervisorLog, 'utf8').catch(() => '');
    const reason = output.trim().split('\n').slice(-3).join(' | ');
    throw new ProviderCallError({
      provider: PROVIDER,
      operation: 'start supervisor',
      message: `the supervisor of ${config.deploymentId} did not start${reason ? `: ${reason}` : ''}`,
    });
  }

  /** Stops every process of the instance (bounded), releases its port and deletes its directory. */
  async function removeInstance(
    deploymentId: string,
    record: InstanceRecord | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (record) await stopProcesses(record, signal);
    await releasePortLocks(stateDir, deploymentId);
    // Renamed first, so the id is free at once even if deleting a large log takes a while.
    const trash = join(stateDir, `.trash-${deploymentId}-${randomUUID()}`);
    const moved = await rename(instancePaths(stateDir, deploymentId).dir, trash).then(
      () => true,
      () => false,
    );
    if (moved) await rm(trash, { recursive: true, force: true });
  }

  async function stopProcesses(record: InstanceRecord, signal: AbortSignal | undefined): Promise<void> {
    const supervisorAlive = () => isProcessAlive(record.supervisorPid, record.supervisorStartTime);
    const serviceAlive = () =>
      record.servicePid !== undefined && isGroupAlive(record.servicePid, record.serviceStartTime);
    const signalService = (name: NodeJS.Signals) => {
      if (record.servicePid !== undefined) signalGroup(record.servicePid, record.serviceStartTime, name);
    };
    // The supervisor stops the whole tree and records why; without it, the group is stopped from here.
    if (supervisorAlive()) signalProcess(record.supervisorPid, record.supervisorStartTime, 'SIGTERM');
    else signalService('SIGTERM');
    const killAt = Date.now() + stopGraceMs + 1000;
    while (supervisorAlive() || serviceAlive()) {
      if (Date.now() >= killAt + 5000) {
        throw new ProviderCallError({
          provider: PROVIDER,
          operation: 'terminate',
          message: `processes of ${record.deploymentId} are still alive after SIGKILL`,
          isRetryable: true,
        });
      }
      if (Date.now() >= killAt) {
        signalProcess(record.supervisorPid, record.supervisorStartTime, 'SIGKILL');
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
      return withInstanceLock(deploymentId, signal, async (waited) => {
        const existing = await inspect(deploymentId);
        // A deploy of the same id that ran while we waited made what we were asked to make, even if it died since.
        if (existing.record && (waited || existing.status.state === 'running')) {
          options.onProgress?.({ step: 'reuse', message: `instance ${deploymentId} already exists` });
          return toInstance(existing.record, true, warnings);
        }
        // What is left of an earlier instance that has ended is replaced.
        if (existing.exists) await removeInstance(deploymentId, existing.record, signal);
        return startInstance(options, warnings);
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
function findFreePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (error) =>
      reject(
        new ProviderCallError({
          provider: PROVIDER,
          operation: 'listen',
          message: `cannot bind ${host}: ${error.message}`,
          cause: error,
        }),
      ),
    );
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

async function pause(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  try {
    await sleep(milliseconds, undefined, { signal });
  } catch {
    throw new AbortedError();
  }
}
