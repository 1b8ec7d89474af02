// The files of the local provider's state directory, shared by the provider and the supervisor:
//   <stateDir>/<deploymentId>/state.json    InstanceRecord: written by the provider when it starts the
//                                           service, then only by the supervisor (atomic rename)
//   <stateDir>/<deploymentId>/logs.jsonl    {"t": ms, "s": "stdout"|"stderr"|"system", "m": line}
//   <stateDir>/<deploymentId>/supervisor.log the supervisor's own stderr
//   <stateDir>/<deploymentId>/service.pid   the pid of the service's shell, written by that shell
//   <stateDir>/ports/<port>                 port lock, holding the deployment id
//   <stateDir>/locks/<deploymentId>         held while a deploy or terminate of that id runs
// Imports builtins only (the supervisor runs it straight from source in tests).
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A name part no other process or call uses at the same time: this process's pid, the time and a random
 * part. Nothing depends on it being unpredictable, so node:crypto (~5 ms to load) is not needed.
 */
export function uniqueSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Names in the state directory that are not instances. */
export const RESERVED_NAMES = ['ports', 'locks'];

/** What the supervisor last recorded. */
export type InstanceStatus = 'running' | 'stopping' | 'exited' | 'expired' | 'terminated';

/** state.json: never holds environment values or secrets. */
export interface InstanceRecord {
  deploymentId: string;
  name: string;
  /** `tags['bp:owner']`, for `listManagedResources({ owner })`. */
  owner?: string;
  tags: Record<string, string>;
  supervisorPid: number;
  supervisorStartTime?: number;
  /**
   * Leader of the service's own process group: the shell that runs the command (under GNU timeout when
   * it guards the deadline) and reports its exit status.
   */
  servicePid?: number;
  serviceStartTime?: number;
  /** `timeout` when the deadline also holds if the supervisor dies; `supervisor` when only it enforces it. */
  deadlineGuard: 'timeout' | 'supervisor';
  port: number;
  endpoint: string;
  /** Expiry, ms since the epoch. */
  deadline: number;
  startedAt: number;
  /**
   * When the supervisor took over: it reads the service's output from then on, including what the
   * service wrote before. Until then the provider reports the instance unhealthy.
   */
  supervisedAt?: number;
  status: InstanceStatus;
  exitCode?: number;
  exitSignal?: string;
  message?: string;
  endedAt?: number;
}

/** What the provider writes to the supervisor's stdin, once state.json exists. Holds no secrets. */
export interface SupervisorConfig {
  stateDir: string;
  deploymentId: string;
  port: number;
  deadline: number;
  stopGraceMs: number;
}

export function instancePaths(stateDir: string, deploymentId: string) {
  const dir = join(stateDir, deploymentId);
  return {
    dir,
    state: join(dir, 'state.json'),
    logs: join(dir, 'logs.jsonl'),
    supervisorLog: join(dir, 'supervisor.log'),
    /** The service's shell writes its pid here first thing, so a bp killed before state.json still leaves it found. */
    servicePid: join(dir, 'service.pid'),
    lock: join(stateDir, 'locks', deploymentId),
  };
}

export function portLockPath(stateDir: string, port: number): string {
  return join(stateDir, 'ports', String(port));
}

export async function readRecord(path: string): Promise<InstanceRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as InstanceRecord;
  } catch {
    return undefined;
  }
}

export function readRecordSync(path: string): InstanceRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as InstanceRecord;
  } catch {
    return undefined;
  }
}

/** Replaces `path` in one step, so a reader sees the old or the new content, never a part. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * Creates `path` holding `content`, atomically and only if it does not exist. An existing claim whose
 * holder `isStale` says is gone is taken over. Returns false while someone else holds it. Its file
 * operations are synchronous: each takes microseconds on a local disk, where a round trip through
 * Node's thread pool costs a few hundred.
 */
export async function claimFile(
  path: string,
  content: string,
  isStale: (heldContent: string) => boolean | Promise<boolean>,
): Promise<boolean> {
  const readHeld = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    // link() of a complete file: a reader never sees a claim without its content.
    const temporary = `${path}.${uniqueSuffix()}.tmp`;
    writeFileSync(temporary, content, { mode: 0o600 });
    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(temporary, { force: true });
    }
    const held = readHeld(path);
    if (held === undefined) continue;
    if (!(await isStale(held))) return false;
    // Move the stale claim aside, then make sure it was that one and not a claim made meanwhile.
    const aside = `${path}.${uniqueSuffix()}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    if ((readHeld(aside) ?? held) !== held) {
      try {
        linkSync(aside, path);
      } catch {}
    }
    rmSync(aside, { force: true });
  }
  return false;
}

/** Removes the claim at `path` if it still holds `content`. */
export async function releaseClaim(path: string, content: string): Promise<void> {
  if ((await readFile(path, 'utf8').catch(() => undefined)) === content) await unlink(path).catch(() => {});
}

/** Removes every port lock held by `deploymentId`. */
export async function releasePortLocks(stateDir: string, deploymentId: string): Promise<void> {
  const portsDir = join(stateDir, 'ports');
  const names = await readdir(portsDir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      .map((name) => releaseClaim(join(portsDir, name), deploymentId)),
  );
}
