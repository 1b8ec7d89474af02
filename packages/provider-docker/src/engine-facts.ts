// What a deploy learns of an engine from its info (its slowest answer, and one that slows the engine's
// other work), kept for the deploys of the next hour: one small JSON file per bp installation, by engine
// address. A deploy that reuses them still checks the engine's clock against the Date of the answers it
// gets anyway (see clockAgrees); a jump shows there and has the info asked again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What a deploy needs of the engine's info before its create. */
export interface EngineFacts {
  ncpu: number;
  memTotal: number;
  osType: string;
  driver: string;
  /** Whether the storage driver limits a container's disk: false known not to, true seen to, undefined untried. */
  storageLimits?: boolean;
  /** The engine's clock minus ours, in ms, measured with the info call. */
  clockOffsetMs: number;
  /** When the info was asked (ms since the epoch). */
  measuredAt: number;
}

export const ENGINE_FACTS_FILE = 'docker-engines.json';
/** Facts older than this are asked again. */
export const FACTS_MAX_AGE_MS = 60 * 60 * 1000;
/** Engines remembered at most (the most recently measured are kept). */
const MAX_ENGINES = 16;
/** Slack around the range a Date header allows (whole seconds, and the call's own time). */
const CLOCK_SLACK_MS = 50;

type FactsFile = Record<string, EngineFacts>;

function readAll(file: string): FactsFile {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as FactsFile) : {};
  } catch {
    return {};
  }
}

/** The facts remembered for `engine`, when they are whole and measured less than an hour before `now`. */
export function readEngineFacts(file: string, engine: string, now: number): EngineFacts | undefined {
  const facts = readAll(file)[engine];
  const numbers = [facts?.ncpu, facts?.memTotal, facts?.clockOffsetMs, facts?.measuredAt];
  if (
    !facts ||
    !numbers.every((value) => typeof value === 'number' && Number.isFinite(value)) ||
    typeof facts.osType !== 'string' ||
    typeof facts.driver !== 'string' ||
    !(facts.storageLimits === undefined || typeof facts.storageLimits === 'boolean') ||
    !(now - facts.measuredAt >= 0 && now - facts.measuredAt < FACTS_MAX_AGE_MS)
  ) {
    return undefined;
  }
  const { ncpu, memTotal, osType, driver, storageLimits, clockOffsetMs, measuredAt } = facts;
  return { ncpu, memTotal, osType, driver, storageLimits, clockOffsetMs, measuredAt };
}

/** Remembers `facts` for `engine` (0600, replaced in one step); a failure to write is ignored. */
export function writeEngineFacts(file: string, engine: string, facts: EngineFacts): void {
  try {
    const all = readAll(file);
    all[engine] = facts;
    const kept = Object.entries(all)
      .sort(([, left], [, right]) => (right.measuredAt ?? 0) - (left.measuredAt ?? 0))
      .slice(0, MAX_ENGINES);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(Object.fromEntries(kept))}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch {
    // Only a later deploy's speed depends on it.
  }
}

/**
 * Whether the remembered clock offset still fits what an answer's Date header says now: the engine's
 * clock read `range` (engine minus ours) at some moment of the call. A clock that jumped by more than
 * about a second since the facts were measured does not fit.
 */
export function clockAgrees(facts: EngineFacts, range: { low: number; high: number } | undefined): boolean {
  return (
    range !== undefined &&
    facts.clockOffsetMs >= range.low - CLOCK_SLACK_MS &&
    facts.clockOffsetMs <= range.high + CLOCK_SLACK_MS
  );
}
