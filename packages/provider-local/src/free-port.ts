import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';

/** The ephemeral range most Linux systems use, when /proc does not say. */
const DEFAULT_RANGE: [number, number] = [32768, 60999];
const DRAWS = 64;

/**
 * A TCP port that no socket on this machine holds now. On Linux, one drawn from the ephemeral range that
 * no TCP socket of this network namespace has as its local port (see portsInUse). Elsewhere, or when /proc
 * cannot be read, the port a probe listener on `host` gets. Either way the port is free only until someone
 * binds it: callers lock it for themselves (see reservePort).
 */
export async function findFreePort(host: string, scanned?: Set<number>): Promise<number> {
  const used = scanned ?? portsInUse();
  if (used) {
    const [low, high] = ephemeralRange();
    for (let draw = 0; draw < DRAWS; draw++) {
      const port = low + Math.floor(Math.random() * (high - low + 1));
      if (!used.has(port)) return port;
    }
  }
  return probeFreePort(host);
}

/**
 * The local ports of every TCP socket of this network namespace, whatever its state, or undefined off
 * Linux. Not only listeners: a connection's own end in the ephemeral range, open or in TIME_WAIT after it
 * closed first, stops a server from listening on that port even with SO_REUSEADDR (the connection's
 * socket did not set it), and bp's own health checks leave such ends behind. Reading every row makes the
 * kernel walk its whole connection table (about 2 ms a file): deploys read it on the thread pool while
 * they do other work (scanPortsInUse).
 */
export function portsInUse(): Set<number> | undefined {
  const used = new Set<number>();
  let readAny = false;
  for (const table of TABLES) {
    const found = localPorts(table, used);
    readAny ||= found;
  }
  return readAny ? used : undefined;
}

/**
 * portsInUse, read on the thread pool (the kernel's time goes to another core): a caller starts it,
 * does other work, then draws from it.
 */
export async function scanPortsInUse(): Promise<Set<number> | undefined> {
  const used = new Set<number>();
  const found = await Promise.all(
    TABLES.map(async (table) => {
      const file = await open(table, 'r').catch(() => undefined);
      if (!file) return false;
      try {
        const rows = rowReader(used);
        const buffer = Buffer.alloc(CHUNK);
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, CHUNK, null);
          if (bytesRead === 0) return true;
          rows.add(buffer.toString('latin1', 0, bytesRead));
        }
      } catch {
        return false;
      } finally {
        await file.close();
      }
    }),
  );
  return found.some(Boolean) ? used : undefined;
}

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];
const CHUNK = 64 * 1024;

/** Adds the local ports of one /proc table to `used`; false if it cannot be read. */
function localPorts(table: string, used: Set<number>): boolean {
  let fd: number;
  try {
    fd = openSync(table, 'r');
  } catch {
    return false;
  }
  try {
    const rows = rowReader(used);
    const buffer = Buffer.alloc(CHUNK);
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK, null);
      if (read === 0) return true;
      rows.add(buffer.toString('latin1', 0, read));
    }
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** A reader of one table's text, piece by piece, that records every row's local port in `used`. */
function rowReader(used: Set<number>): { add(text: string): void } {
  let pending = '';
  let header = true;
  return {
    add(text) {
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        // "  0: 0100007F:1F90 00000000:0000 0A ...": local address (port in hex), remote address, state.
        const local = line.trim().split(' ').filter(Boolean)[1] ?? '';
        const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
        if (Number.isInteger(port)) used.add(port);
      }
    },
  };
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high && low <= high) return [low, high];
  } catch {
    // Not Linux: the default.
  }
  return DEFAULT_RANGE;
}

function probeFreePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
