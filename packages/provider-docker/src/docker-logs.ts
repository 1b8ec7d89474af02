import type { LogEntryV1 } from '@bp/provider';

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;
const HEADER_BYTES = 8;
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) ?/;

/**
 * Reads the engine's log stream (requested with `timestamps: true`) as entries. A non-TTY container's
 * stream is multiplexed: 8-byte frames `[stream, 0, 0, 0, length (u32 big-endian)]` then the payload;
 * a TTY container's is raw stdout. Lines split across frames are joined; each line carries its timestamp.
 */
export async function* readDockerLogs(
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: { tty: boolean; since?: Date },
): AsyncGenerator<LogEntryV1> {
  const pending = { stdout: '', stderr: '' };
  const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  function* lines(stream: 'stdout' | 'stderr', text: string, flush: boolean): Generator<LogEntryV1> {
    const parts = (pending[stream] + text).split('\n');
    pending[stream] = flush ? '' : (parts.pop() ?? '');
    for (const line of parts) {
      if (flush && line === '') continue;
      const entry = toEntry(stream, line);
      if (entry.timestamp.getTime() >= since) yield entry;
    }
  }
  let buffer: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    if (options.tty) {
      yield* lines('stdout', chunk.toString('utf8'), false);
      continue;
    }
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    while (buffer.length >= HEADER_BYTES) {
      const length = buffer.readUInt32BE(4);
      if (buffer.length < HEADER_BYTES + length) break;
      const stream = STREAMS[buffer[0] as 1 | 2] ?? 'stdout';
      yield* lines(stream, buffer.subarray(HEADER_BYTES, HEADER_BYTES + length).toString('utf8'), false);
      buffer = buffer.subarray(HEADER_BYTES + length);
    }
  }
  yield* lines('stdout', '', true);
  yield* lines('stderr', '', true);
}

function toEntry(stream: 'stdout' | 'stderr', line: string): LogEntryV1 {
  const match = TIMESTAMP.exec(line);
  if (!match) return { timestamp: new Date(), stream, message: line.replace(/\r$/, '') };
  // Date keeps milliseconds; the engine writes nanoseconds.
  const fraction = (match[2] ?? '').slice(0, 4);
  return {
    timestamp: new Date(`${match[1]}${fraction}${match[3]}`),
    stream,
    message: line.slice(match[0].length).replace(/\r$/, ''),
  };
}
