import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';

/** The ephemeral range most Linux systems use, when /proc does not say. */
const DEFAULT_RANGE: [number, number] = [32768, 60999];
const DRAWS = 64;

/**
 * A TCP port that nothing on this machine uses now. On Linux, one drawn from the ephemeral range
 * that no socket of this network namespace holds (read from /proc/net/tcp and tcp6: a quarter of a
 * millisecond, where a probe `listen` costs 5 to 9 ms in Node). Elsewhere, or when /proc cannot be
 * read, the port a probe listener on `host` gets. Either way the port is free only until someone
 * binds it: callers lock it for themselves (see reservePort).
 */
export async function findFreePort(host: string): Promise<number> {
  const used = portsInUse();
  if (used) {
    const [low, high] = ephemeralRange();
    for (let draw = 0; draw < DRAWS; draw++) {
      const port = low + Math.floor(Math.random() * (high - low + 1));
      if (!used.has(port)) return port;
    }
  }
  return probeFreePort(host);
}

/** Local ports of every TCP socket in this network namespace (any state), or undefined off Linux. */
export function portsInUse(): Set<number> | undefined {
  const used = new Set<number>();
  let readAny = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    readAny = true;
    // "  0: 0100007F:1F90 00000000:0000 0A ..." : the local address's port, in hex.
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local ? Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) : Number.NaN;
      if (Number.isInteger(port)) used.add(port);
    }
  }
  return readAny ? used : undefined;
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
