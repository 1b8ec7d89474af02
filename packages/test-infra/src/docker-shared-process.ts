import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where the test servers keep their certificates, data, logs and bookkeeping. Fixed, so re-runs reuse it. */
export const TEST_INFRA_DIR = process.env.BP_TEST_INFRA_DIR || '/tmp/bp-test-infra';

/** A long-running server that several test projects and processes may share. */
export interface SharedProcessOptions {
  /** Names its bookkeeping files, e.g. `dockerd`, `registry-5000`. */
  name: string;
  /** Answers true once the server serves requests (whoever started it). */
  isUp: () => Promise<boolean>;
  /** The program and arguments to start when nothing answers; run without a shell. */
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Bound on the wait from spawn to `isUp`. */
  readyTimeoutMs: number;
  /** Bound on the wait from SIGTERM to exit before SIGKILL. */
  stopTimeoutMs: number;
}

/** A use of a shared server; `release` stops it only if this process started it and no other live process uses it. */
export interface SharedProcess {
  /** The pid when this process started the server, else undefined. */
  readonly pid?: number;
  release(): Promise<void>;
}

interface Entry {
  users: number;
  acquired: Promise<{ child?: ChildProcess }>;
}

// Per process, on globalThis: vitest runs several projects' global setups in one process, and may load
// this module once per project.
const ENTRIES = Symbol.for('bp.test-infra.shared-processes');
const processGlobals = globalThis as { [ENTRIES]?: Map<string, Entry> };
processGlobals[ENTRIES] ??= new Map();
const entries = processGlobals[ENTRIES];

/** Finds the server answering, or starts it (once across processes, under a lock); reference-counted. */
export async function acquireSharedProcess(options: SharedProcessOptions): Promise<SharedProcess> {
  let entry = entries.get(options.name);
  if (!entry) {
    entry = { users: 0, acquired: startOrReuse(options) };
    entries.set(options.name, entry);
    entry.acquired.catch(() => entries.delete(options.name));
  }
  entry.users += 1;
  const { child } = await entry.acquired.catch((error: unknown) => {
    entry.users -= 1;
    throw error;
  });
  let released = false;
  return {
    pid: child?.pid,
    async release() {
      if (released) return;
      released = true;
      entry.users -= 1;
      if (entry.users > 0) return;
      entries.delete(options.name);
      const usersDir = join(TEST_INFRA_DIR, 'users', options.name);
      await rm(join(usersDir, String(process.pid)), { force: true });
      if (!child || (await otherLiveUsers(usersDir)) > 0) return;
      await stopChild(child, options.stopTimeoutMs);
    },
  };
}

async function startOrReuse(options: SharedProcessOptions): Promise<{ child?: ChildProcess }> {
  const usersDir = join(TEST_INFRA_DIR, 'users', options.name);
  await mkdir(usersDir, { recursive: true });
  await (await open(join(usersDir, String(process.pid)), 'w')).close();
  if (await options.isUp()) return {};
  return withLock(join(TEST_INFRA_DIR, 'locks', options.name), async () => {
    // Another process may have started it while this one waited for the lock.
    if (await options.isUp()) return {};
    await mkdir(join(TEST_INFRA_DIR, 'logs'), { recursive: true });
    const logPath = join(TEST_INFRA_DIR, 'logs', `${options.name}.log`);
    const log = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      // Detached: a Ctrl-C in the terminal must not kill a server other processes may share.
      child = spawn(options.command, options.args, {
        detached: true,
        stdio: ['ignore', log, log],
        env: options.env ?? process.env,
      });
    } finally {
      closeSync(log);
    }
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
    });
    child.once('error', (error) => {
      exited = error.message;
    });
    child.unref();
    const giveUpAt = Date.now() + options.readyTimeoutMs;
    while (!(await options.isUp())) {
      if (exited || Date.now() > giveUpAt) {
        if (!exited) await stopChild(child, options.stopTimeoutMs);
        const tail = (await readFile(logPath, 'utf8').catch(() => '')).trim().split('\n').slice(-5);
        throw new Error(
          `${options.command} ${exited ?? `did not answer within ${options.readyTimeoutMs} ms`}; ${logPath}:\n${tail.join('\n')}`,
        );
      }
      await sleep(100);
    }
    return { child };
  });
}

/** Runs `work` holding a lock file shared by processes; a lock whose holder died is taken over. Bounded. */
export async function withLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  await mkdir(join(path, '..'), { recursive: true });
  const giveUpAt = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(path, 'utf8').catch(() => ''));
      if (holder && !isAlive(holder)) await rm(path, { force: true });
      else if (Date.now() > giveUpAt) throw new Error(`${path} is held by pid ${holder} for too long`);
      else await sleep(100);
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

async function otherLiveUsers(usersDir: string): Promise<number> {
  let live = 0;
  for (const name of await readdir(usersDir).catch(() => [] as string[])) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    if (pid && isAlive(pid)) live += 1;
    else await rm(join(usersDir, name), { force: true });
  }
  return live;
}

/** SIGTERM by pid, then SIGKILL after the bound; resolves once the child has exited (or 5 s after SIGKILL). */
async function stopChild(child: ChildProcess, stopTimeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  // A referenced timer: it keeps this process alive until the (unreferenced) child is gone.
  const bounded = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      timer = setTimeout(resolve, 5000);
    }, stopTimeoutMs);
  });
  child.kill('SIGTERM');
  await Promise.race([exited, bounded]);
  clearTimeout(timer);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
