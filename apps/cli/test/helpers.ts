import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/bp.js', import.meta.url));
export const HELLO = fileURLToPath(new URL('../../../examples/hello', import.meta.url));

export interface BpResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh BP_HOME for one test. */
export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'bp-cli-'));
}

/** Starts `bp ARGS` as its own process, with BP_HOME isolated. */
export function startBp(
  args: string[],
  home: string,
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    env: { ...process.env, BP_HOME: home, CI: 'true', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `bp ARGS` to completion (bounded by timeoutMs). */
export function runBp(
  args: string[],
  home: string,
  options: { env?: Record<string, string>; nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<BpResult> {
  const child = startBp(args, home, options.env, options.nodeArgs);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`bp ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms\n${stderr}`),
      );
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One HTTP GET; resolves to the status code, or the error code (ECONNREFUSED) when nothing answers. */
export function httpGet(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

/**
 * Ground truth, bypassing bp: the pids of every process whose environment
 * carries BP_DEPLOYMENT_ID=<id> (the service and anything it started).
 */
export function processesOf(deploymentId: string): number[] {
  const needle = `BP_DEPLOYMENT_ID=${deploymentId}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environment = readFileSync(`/proc/${entry}/environ`, 'latin1');
      // Zombies keep no environment; a process counts only while it can still run.
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (environment.includes(needle) && !/\) Z /.test(stat)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Polls until the predicate holds; bounded. */
export async function waitUntil(
  predicate: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
