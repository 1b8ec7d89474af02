// Network namespaces that stand in for separate machines: a namespace with a veth pair, 10.200.N.1/24 on
// the root side and 10.200.N.2/24 inside. Files, PIDs and unix sockets stay shared with this machine; only
// the network is the "host's" own. N is claimed under /run/bp-test-netns (one directory per N holding the
// claiming PID), so parallel test runs on one machine never pick the same subnet or names.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const CLAIMS_DIR = '/run/bp-test-netns';
const TOOL_TIMEOUT_MS = 30_000;

/** A network namespace with its own address, reachable from the root namespace. */
export interface Netns {
  /** `ip netns` name, e.g. `bpt-12`. */
  name: string;
  /** For `nsenter --net=...`. */
  path: string;
  /** The address inside the namespace (10.200.N.2): where the "host" listens. */
  address: string;
  /** The root namespace's end of the veth pair (10.200.N.1). */
  gatewayAddress: string;
  /** Kills what still runs inside (all of it started by the test), deletes the namespace, veth pair and claim. */
  remove(): Promise<void>;
}

/**
 * Runs a tool without a shell and resolves with its stdout; rejects with its stderr. Bounded by a timeout.
 * `input` is written to its stdin.
 */
export function runNetnsTool(
  file: string,
  args: string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? TOOL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, env: options.env },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(options.input);
  });
}

/** Creates a namespace on a free 10.200.N.0/24 subnet (N from 1 to 254). */
export async function createNetns(): Promise<Netns> {
  await mkdir(CLAIMS_DIR, { recursive: true, mode: 0o700 });
  const used = await subnetsInUse();
  const candidates = shuffle(Array.from({ length: 254 }, (_, index) => index + 1)).filter(
    (n) => !used.has(n),
  );
  for (const n of candidates) {
    if (!(await claim(n))) continue;
    const netns = await setUp(n).catch(async () => {
      await rm(`${CLAIMS_DIR}/${n}`, { recursive: true, force: true });
      return undefined;
    });
    if (netns) return netns;
  }
  throw new Error('createNetns: no free 10.200.N.0/24 subnet');
}

async function setUp(n: number): Promise<Netns> {
  const name = `bpt-${n}`;
  const outside = `bpt${n}o`;
  const inside = `bpt${n}i`;
  const address = `10.200.${n}.2`;
  const gatewayAddress = `10.200.${n}.1`;
  const ip = (...args: string[]) => runNetnsTool('ip', args);
  await ip('netns', 'add', name);
  try {
    await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    await ip('link', 'set', inside, 'netns', name);
    await ip('addr', 'add', `${gatewayAddress}/24`, 'dev', outside);
    await ip('link', 'set', outside, 'up');
    await ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', inside);
    await ip('-n', name, 'link', 'set', inside, 'up');
    await ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (error) {
    await ip('link', 'del', outside).catch(() => {});
    await ip('netns', 'del', name).catch(() => {});
    throw error;
  }
  let removed = false;
  return {
    name,
    path: `/var/run/netns/${name}`,
    address,
    gatewayAddress,
    async remove() {
      if (removed) return;
      removed = true;
      await killInside(name);
      await ip('netns', 'del', name).catch(() => {});
      // Deleting the namespace destroys the pair; this only matters if it was left half made.
      await ip('link', 'del', outside).catch(() => {});
      await rm(`${CLAIMS_DIR}/${n}`, { recursive: true, force: true });
    },
  };
}

/** SIGKILLs every process still in the namespace (bounded wait), so it can really go away. */
async function killInside(name: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = (await runNetnsTool('ip', ['netns', 'pids', name]).catch(() => ''))
      .split(/\s+/)
      .filter((pid) => /^\d+$/.test(pid))
      .map(Number);
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await sleep(100);
  }
}

/** Third octets of 10.200.N.0/24 subnets already on an interface of the root namespace. */
async function subnetsInUse(): Promise<Set<number>> {
  const text = await runNetnsTool('ip', ['-4', '-o', 'addr', 'show']);
  return new Set([...text.matchAll(/inet 10\.200\.(\d+)\./g)].map((match) => Number(match[1])));
}

/** mkdir is the atomic claim; a claim whose process is gone is taken over. */
async function claim(n: number): Promise<boolean> {
  const dir = `${CLAIMS_DIR}/${n}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(dir);
      await writeFile(`${dir}/pid`, String(process.pid));
      return true;
    } catch {
      const holder = Number(await readFile(`${dir}/pid`, 'utf8').catch(() => ''));
      // A claim just being written has no pid yet: leave it to its owner.
      if (!holder || isAlive(holder)) return false;
      // The namespace of a crashed run may still exist; its name is then taken and setUp moves on.
      await rm(dir, { recursive: true, force: true });
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}
