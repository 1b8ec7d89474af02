// Probes for tests that bypass the provider: what really runs on this machine? Linux (/proc) only.
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { InstanceRecord } from './instance-files.js';

/** state.json of an instance, as the supervisor wrote it. */
export function readInstanceRecord(stateDir: string, deploymentId: string): InstanceRecord {
  return JSON.parse(readFileSync(join(stateDir, deploymentId, 'state.json'), 'utf8')) as InstanceRecord;
}

interface ProcessInfo {
  pid: number;
  processGroup: number;
  zombie: boolean;
  commandLine: string[];
  environment: string[];
}

function listProcesses(): ProcessInfo[] {
  const processes: ProcessInfo[] = [];
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const commandLine = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const environment = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').filter(Boolean);
      processes.push({
        pid: Number(name),
        processGroup: Number(fields[2]),
        zombie: fields[0] === 'Z',
        commandLine,
        environment,
      });
    } catch {
      // Ended while listing.
    }
  }
  return processes;
}

/** Live (non-zombie) processes whose command line contains `text`. */
export function processesMatching(text: string): ProcessInfo[] {
  return listProcesses().filter(
    (info) => !info.zombie && info.commandLine.some((argument) => argument.includes(text)),
  );
}

/** Live (non-zombie) node processes bp started for `deploymentId` (its BP_DEPLOYMENT_ID), wherever they run. */
export function nodeProcessesOf(deploymentId: string): ProcessInfo[] {
  return listProcesses().filter(
    (info) =>
      !info.zombie &&
      info.commandLine[0] === process.execPath &&
      info.environment.includes(`BP_DEPLOYMENT_ID=${deploymentId}`),
  );
}

/** Live (non-zombie) processes in a process group. */
export function processesInGroup(processGroup: number): ProcessInfo[] {
  return listProcesses().filter((info) => !info.zombie && info.processGroup === processGroup);
}

export function isPidAlive(pid: number): boolean {
  // From stat alone: a process on its way out can no longer show its environ or cmdline, yet it is
  // not gone until it is a zombie or reaped (listProcesses would drop it early).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `probe` until it returns true; false if `timeoutMs` passes first. */
export async function waitUntil(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return probe();
}
