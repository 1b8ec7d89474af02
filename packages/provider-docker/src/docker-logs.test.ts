import { describe, expect, it } from 'vitest';
import { readDockerLogs } from './docker-logs.js';

/** One frame of the engine's multiplexed stream: [stream, 0, 0, 0, length (u32 BE)] then the payload. */
function frame(stream: 1 | 2, payload: string): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

async function read(chunks: Buffer[], options: { tty?: boolean; since?: Date } = {}) {
  const entries = [];
  for await (const entry of readDockerLogs(chunks, { tty: false, ...options })) entries.push(entry);
  return entries;
}

describe('readDockerLogs', () => {
  it('demultiplexes frames split anywhere, with their timestamps', async () => {
    const bytes = Buffer.concat([
      frame(1, '2026-01-02T03:04:05.123456789Z ready\n'),
      frame(2, '2026-01-02T03:04:06.5Z oops\n'),
    ]);
    const entries = await read([bytes.subarray(0, 5), bytes.subarray(5, 47), bytes.subarray(47)]);
    expect(entries).toEqual([
      { stream: 'stdout', message: 'ready', timestamp: new Date('2026-01-02T03:04:05.123Z') },
      { stream: 'stderr', message: 'oops', timestamp: new Date('2026-01-02T03:04:06.500Z') },
    ]);
  });

  it('keeps a last line without a newline, drops lines before since, and reads a TTY stream raw', async () => {
    const entries = await read(
      [frame(1, '2026-01-02T03:04:05Z old\n'), frame(1, '2026-01-02T03:04:07Z last')],
      { since: new Date('2026-01-02T03:04:06Z') },
    );
    expect(entries.map((entry) => entry.message)).toEqual(['last']);
    const tty = await read([Buffer.from('2026-01-02T03:04:05Z a\r\n2026-01-02T03:04:05Z b\r\n')], {
      tty: true,
    });
    expect(tty.map((entry) => [entry.stream, entry.message])).toEqual([
      ['stdout', 'a'],
      ['stdout', 'b'],
    ]);
  });
});
