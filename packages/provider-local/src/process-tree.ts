// Liveness and signalling of pids that were recorded earlier, possibly by another process.
// A recorded pid may since have been reused, so where /proc exists every check compares the start
// time recorded with the pid; zombies count as dead. Imports builtins only (the supervisor runs it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const hasProc = existsSync('/proc/self/stat');

interface ProcStat {
  state: string;
  processGroup: number;
  startTime: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, processGroup: Number(fields[2]), startTime: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); undefined without /proc. */
export function processStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

function signalExists(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process group of a live process, or undefined (also without /proc). */
export function processGroupOf(pid: number): number | undefined {
  const stat = readProcStat(pid);
  return stat && stat.state !== 'Z' ? stat.processGroup : undefined;
}

/** True while `pid` is a live process that started at `startTime` (when one was recorded). */
export function isProcessAlive(pid: number, startTime?: number): boolean {
  if (!hasProc) return signalExists(pid);
  const stat = readProcStat(pid);
  return (
    stat !== undefined && stat.state !== 'Z' && (startTime === undefined || stat.startTime === startTime)
  );
}

/** True while any live process remains in the process group whose leader was `leaderPid` (started at `leaderStartTime`). */
export function isGroupAlive(leaderPid: number, leaderStartTime?: number): boolean {
  if (!signalExists(-leaderPid)) return false;
  if (!hasProc) return true;
  const leader = readProcStat(leaderPid);
  // Linux never hands out a number still in use as a process group id: a leader with another start time
  // means our group ended and the number was reused.
  if (leader && leaderStartTime !== undefined && leader.startTime !== leaderStartTime) return false;
  if (leader && leader.state !== 'Z' && leader.processGroup === leaderPid) return true;
  // The leader is gone or a zombie; for the same reason, any live member left is one of ours.
  return readdirSync('/proc').some((name) => {
    if (!/^\d+$/.test(name)) return false;
    const stat = readProcStat(Number(name));
    return stat !== undefined && stat.processGroup === leaderPid && stat.state !== 'Z';
  });
}

/** Sends `signal` to the whole group if it is still ours and alive. */
export function signalGroup(
  leaderPid: number,
  leaderStartTime: number | undefined,
  signal: NodeJS.Signals,
): void {
  if (!isGroupAlive(leaderPid, leaderStartTime)) return;
  try {
    process.kill(-leaderPid, signal);
  } catch {
    // Ended between the check and the signal.
  }
}

/** Sends `signal` to one process if it is still the one recorded. */
export function signalProcess(pid: number, startTime: number | undefined, signal: NodeJS.Signals): void {
  if (!isProcessAlive(pid, startTime)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Ended between the check and the signal.
  }
}
