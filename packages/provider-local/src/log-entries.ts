import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogEntryV1 } from '@bp/provider';

const FOLLOW_POLL_MS = 200;
const CHUNK_BYTES = 64 * 1024;

export interface ReadLogEntriesOptions {
  since?: Date;
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
  /** Whether lines may still come; following ends after one more read once it says no. */
  isLive: () => Promise<boolean>;
}

/** The entries of a logs.jsonl file, oldest first; with `follow`, polls for new ones until aborted or not live. */
export async function* readLogEntries(
  path: string,
  options: ReadLogEntriesOptions,
): AsyncGenerator<LogEntryV1> {
  const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  let offset = 0;
  // Bytes after the last newline: a line the supervisor is still writing.
  let partial = Buffer.alloc(0);

  async function* readNew(): AsyncGenerator<LogEntryV1> {
    const file = await open(path, 'r').catch(() => undefined);
    if (!file) return;
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        const data = Buffer.concat([partial, buffer.subarray(0, bytesRead)]);
        const end = data.lastIndexOf(0x0a);
        partial = data.subarray(end + 1);
        if (end < 0) continue;
        for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
          const entry = parseLine(line);
          if (entry && entry.timestamp.getTime() >= since) yield entry;
        }
      }
    } finally {
      await file.close();
    }
  }

  if (options.tail === undefined) {
    yield* readNew();
  } else {
    const last: LogEntryV1[] = [];
    for await (const entry of readNew()) {
      last.push(entry);
      if (last.length > options.tail) last.shift();
    }
    yield* last;
  }
  while (options.follow && !options.signal?.aborted) {
    // Asked before reading, so the lines written before the instance stopped are still drained.
    const live = await options.isLive();
    await sleep(FOLLOW_POLL_MS, undefined, { signal: options.signal }).catch(() => {});
    if (options.signal?.aborted) return;
    yield* readNew();
    if (!live) return;
  }
}

function parseLine(line: string): LogEntryV1 | undefined {
  try {
    const { t, s, m } = JSON.parse(line) as { t: unknown; s: unknown; m: unknown };
    if (typeof t !== 'number' || typeof m !== 'string') return undefined;
    if (s !== 'stdout' && s !== 'stderr' && s !== 'system') return undefined;
    return { timestamp: new Date(t), stream: s, message: m };
  } catch {
    return undefined;
  }
}
