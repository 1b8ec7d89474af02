// One ssh2 connection per host, opened on first use and reused until close(); through a jump host when one
// is set. Remote work is always `/bin/sh -c <fixed script> bp <quoted args...>`: values travel as quoted
// arguments or on stdin, never spliced into the script text.
import { readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AbortedError, CredentialsError, ProviderCallError, throwIfAborted } from '@bp/provider';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import {
  appendKnownHost,
  type HostKeyVerdict,
  hostKeyAlgorithms,
  knownHostName,
  readKnownHosts,
  verifyHostKey,
} from './known-hosts.js';
import { mapSshError, PROVIDER, remoteCommandError, type SshErrorContext } from './map-ssh-error.js';
import { shellCommand, shellQuote } from './shell-quote.js';

/** A host (or jump host) to log in to. */
export interface SshEndpoint {
  user: string;
  host: string;
  port: number;
  /** `user@host:port` (IPv6 in brackets): names the host in messages and resource ids. */
  label: string;
}

export interface SshConnectionSettings {
  /** Candidate private key files, the first readable one is used. */
  keyPaths: string[];
  passphrase?: string;
  knownHostsPath: string;
  trustUnknownHostKeys: boolean;
  connectTimeoutMs: number;
  jumpHost?: SshEndpoint;
}

/** One remote command: a fixed script, its arguments (each quoted), and stdin. */
export interface RemoteRequest {
  /** Names the step in errors, e.g. `docker run`. */
  operation: string;
  script: string;
  args?: string[];
  /** Written to the command's stdin, then closed. Secrets travel here, never in arguments. */
  input?: string;
  signal?: AbortSignal;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface RemoteResult {
  code: number | null;
  /** The signal that ended the command, when one did. */
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface RemoteLine {
  stream: 'stdout' | 'stderr';
  line: string;
}

interface Connection {
  client: Client;
  slots: Slots;
}

// OpenSSH's MaxSessions defaults to 10 sessions per connection; keep a margin.
const CHANNELS_PER_CONNECTION = 8;
const DEFAULT_TIMEOUT_MS = 60_000;

export class SshConnections {
  private readonly pool = new Map<string, Promise<Connection>>();
  private key?: Promise<{ path: string; data: Buffer }>;

  constructor(private readonly settings: SshConnectionSettings) {}

  /** Runs the script; resolves with its exit code and output (any exit code). */
  async exec(endpoint: SshEndpoint, request: RemoteRequest): Promise<RemoteResult> {
    let result!: Promise<RemoteResult>;
    const release = await this.open(endpoint, request, (channel) => {
      result = collect(channel, endpoint, request);
    });
    try {
      return await result;
    } finally {
      release();
    }
  }

  /** Runs the script and resolves with its stdout; a non-zero exit is a ProviderCallError. */
  async run(endpoint: SshEndpoint, request: RemoteRequest): Promise<string> {
    const result = await this.exec(endpoint, request);
    if (result.code !== 0)
      throw remoteCommandError({ label: endpoint.label, operation: request.operation }, result);
    return result.stdout;
  }

  /**
   * Streams the script's output line by line until it exits or the signal aborts. stdin stays open while
   * it runs, so a remote script can treat its EOF as "the reader has gone" and stop what it started.
   */
  async *lines(endpoint: SshEndpoint, request: RemoteRequest): AsyncGenerator<RemoteLine> {
    const queue: RemoteLine[] = [];
    let closed = false;
    let wake: (() => void) | undefined;
    const splitter = (stream: RemoteLine['stream']) => {
      let partial = '';
      return {
        data(chunk: string) {
          const parts = (partial + chunk).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) queue.push({ stream, line });
          wake?.();
        },
        flush() {
          if (partial) queue.push({ stream, line: partial });
          partial = '';
        },
      };
    };
    const out = splitter('stdout');
    const err = splitter('stderr');
    let channel!: ClientChannel;
    const release = await this.open(endpoint, request, (opened) => {
      channel = opened;
      opened.setEncoding('utf8');
      opened.stderr.setEncoding('utf8');
      opened.on('data', out.data);
      opened.stderr.on('data', err.data);
      opened.on('close', () => {
        out.flush();
        err.flush();
        closed = true;
        wake?.();
      });
    });
    const onAbort = () => wake?.();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (queue.length && !request.signal?.aborted) yield queue.shift()!;
        if (closed || request.signal?.aborted) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      request.signal?.removeEventListener('abort', onAbort);
      channel.end();
      channel.close();
      release();
    }
  }

  /** An SFTP session on the host; call `done()` when finished. */
  async sftp(endpoint: SshEndpoint): Promise<{ sftp: SFTPWrapper; done: () => void }> {
    const connection = await this.connection(endpoint);
    const release = await connection.slots.acquire();
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        connection.client.sftp((error, session) => (error ? reject(error) : resolve(session))),
      );
      return {
        sftp,
        done: () => {
          sftp.end();
          release();
        },
      };
    } catch (error) {
      release();
      throw mapSshError(error, this.context(endpoint, 'sftp'));
    }
  }

  /** Ends every open connection; later calls open new ones. */
  async close(): Promise<void> {
    const pending = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(
      pending.map(async (connecting) => {
        const connection = await connecting.catch(() => undefined);
        connection?.client.end();
      }),
    );
  }

  /**
   * Opens an exec channel and hands it to `attach` at once, inside ssh2's callback: a short command's exit
   * status can arrive in the same packet as the channel's confirmation, before any later listener exists.
   * Resolves with the function that frees the channel's slot.
   */
  private async open(
    endpoint: SshEndpoint,
    request: RemoteRequest,
    attach: (channel: ClientChannel) => void,
  ): Promise<() => void> {
    throwIfAborted(request.signal);
    const connection = await this.connection(endpoint);
    const release = await connection.slots.acquire();
    const command = `/bin/sh -c ${shellQuote(request.script)} bp ${shellCommand(request.args ?? [])}`;
    try {
      throwIfAborted(request.signal);
      await new Promise<void>((resolve, reject) =>
        connection.client.exec(command, (error, channel) => {
          if (error) return reject(error);
          attach(channel);
          resolve();
        }),
      );
      return release;
    } catch (error) {
      release();
      throw mapSshError(error, this.context(endpoint, request.operation));
    }
  }

  private connection(endpoint: SshEndpoint): Promise<Connection> {
    let pending = this.pool.get(endpoint.label);
    if (!pending) {
      const connecting = this.connect(endpoint);
      pending = connecting;
      this.pool.set(endpoint.label, connecting);
      const forget = () => {
        if (this.pool.get(endpoint.label) === connecting) this.pool.delete(endpoint.label);
      };
      connecting.then((connection) => connection.client.once('close', forget), forget);
    }
    return pending;
  }

  private async connect(endpoint: SshEndpoint): Promise<Connection> {
    const { settings } = this;
    const via =
      settings.jumpHost && settings.jumpHost.label !== endpoint.label ? settings.jumpHost : undefined;
    // The TCP connection is made while ssh2 loads and the key and known_hosts are read. Nothing is sent on
    // it before all three are there; when one of them fails, that error is the one reported and the
    // connection is closed.
    const socket = via ? this.forward(via, endpoint) : this.dial(endpoint);
    socket.catch(() => {});
    const [{ default: Client }, key, knownHosts] = await Promise.all([
      import('ssh2/lib/client.js'),
      this.privateKey(),
      readKnownHosts(settings.knownHostsPath),
    ]).catch((error: unknown) => {
      socket.then(
        (opened) => opened.destroy(),
        () => {},
      );
      throw error;
    });
    const sock = await socket;
    const name = knownHostName(endpoint.host, endpoint.port);
    let verdict: HostKeyVerdict | undefined;
    let presented: Buffer | undefined;
    const accepted = () =>
      verdict?.status === 'known' || (verdict?.status === 'unknown' && settings.trustUnknownHostKeys);
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      const onError = (error: unknown) => {
        client.end();
        const context = {
          ...this.context(endpoint, 'connect', key.path),
          hostKey: accepted() ? undefined : verdict,
        };
        reject(mapSshError(error, context));
      };
      client.once('error', onError);
      client.once('ready', () => {
        client.off('error', onError);
        resolve();
      });
      try {
        client.connect({
          host: endpoint.host,
          port: endpoint.port,
          username: endpoint.user,
          privateKey: key.data,
          passphrase: settings.passphrase,
          sock,
          // Only public key authentication, asked for at once: ssh2 would first try `none`, one more
          // round trip (about 10 ms of sshd's time) for a method bp never uses.
          authHandler: ['publickey'],
          readyTimeout: settings.connectTimeoutMs,
          keepaliveInterval: 15_000,
          keepaliveCountMax: 4,
          algorithms: { serverHostKey: hostKeyAlgorithms(knownHosts, name) },
          hostVerifier: (hostKey: Buffer) => {
            presented = hostKey;
            verdict = verifyHostKey(knownHosts, name, hostKey);
            return accepted();
          },
        });
      } catch (error) {
        onError(error);
      }
    });
    // Later failures reach the calls in flight; 'close' drops the connection from the pool.
    client.on('error', () => {});
    if (verdict?.status === 'unknown' && presented) {
      await appendKnownHost(settings.knownHostsPath, name, presented);
    }
    return { client, slots: new Slots(CHANNELS_PER_CONNECTION) };
  }

  /**
   * The TCP connection, with Nagle's algorithm off: every remote command is a few small request/reply
   * packets, and with it on each waits for delayed ACKs (about 90 ms per command instead of 3).
   */
  private dial(endpoint: SshEndpoint): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: endpoint.host, port: endpoint.port, noDelay: true });
      const fail = (error: unknown) => {
        socket.destroy();
        reject(mapSshError(error, this.context(endpoint, 'connect')));
      };
      socket.setTimeout(this.settings.connectTimeoutMs, () =>
        fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
      );
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        resolve(socket);
      });
    });
  }

  /** A TCP stream to the target, opened by the jump host (ssh -J). */
  private async forward(via: SshEndpoint, endpoint: SshEndpoint): Promise<Duplex> {
    const bastion = await this.connection(via);
    return new Promise((resolve, reject) =>
      bastion.client.forwardOut('127.0.0.1', 0, endpoint.host, endpoint.port, (error, stream) =>
        error
          ? reject(
              new ProviderCallError({
                provider: PROVIDER,
                operation: 'connect',
                message: `jump host ${via.label} cannot reach ${endpoint.host}:${endpoint.port}: ${error.message}`,
                isRetryable: true,
                cause: error,
              }),
            )
          : resolve(stream),
      ),
    );
  }

  private privateKey(): Promise<{ path: string; data: Buffer }> {
    this.key ??= (async () => {
      for (const path of this.settings.keyPaths) {
        const data = await readFile(path).catch(() => undefined);
        if (data) return { path, data };
      }
      this.key = undefined;
      throw new CredentialsError({
        provider: PROVIDER,
        source: this.settings.keyPaths.join(', '),
        message: `no readable SSH private key at ${this.settings.keyPaths.join(' or ')}`,
      });
    })();
    return this.key;
  }

  private context(endpoint: SshEndpoint, operation: string, keyPath?: string): SshErrorContext {
    return {
      label: endpoint.label,
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      operation,
      keyPath: keyPath ?? this.settings.keyPaths[0],
      knownHostsPath: this.settings.knownHostsPath,
    };
  }
}

/** Counts channels in use on one connection; callers wait for a free one. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async acquire(): Promise<() => void> {
    while (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.waiting.shift()?.();
    };
  }
}

/** Collects a command's output and exit status; writes its stdin. Listeners are attached synchronously. */
function collect(
  channel: ClientChannel,
  endpoint: SshEndpoint,
  request: RemoteRequest,
): Promise<RemoteResult> {
  return new Promise<RemoteResult>((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let code: number | null = null;
    let signalName: string | undefined;
    const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const fail = (error: Error) => {
      cleanup();
      channel.close();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new ProviderCallError({
            provider: PROVIDER,
            operation: request.operation,
            message: `${request.operation} on ${endpoint.label} did not finish within ${timeoutMs} ms`,
            isRetryable: true,
          }),
        ),
      timeoutMs,
    );
    const onAbort = () => fail(new AbortedError());
    const cleanup = () => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });
    channel.on('data', (chunk: Buffer) => stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    channel.on('exit', (exitCode: number | null, signal?: string) => {
      code = exitCode ?? null;
      signalName = signal ?? undefined;
    });
    channel.on('close', () => {
      cleanup();
      resolve({
        code,
        signal: signalName,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    channel.end(request.input);
  });
}
