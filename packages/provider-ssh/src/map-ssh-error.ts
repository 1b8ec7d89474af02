// ssh2 and remote-command failures -> @bp/provider errors, in one place.
import { BpError, CredentialsError, ProviderCallError } from '@bp/provider';
import { type HostKeyVerdict, knownHostName } from './known-hosts.js';

export const PROVIDER = 'ssh';

/** Where a failure happened, for the message. */
export interface SshErrorContext {
  /** `user@host:port`. */
  label: string;
  host: string;
  port: number;
  user: string;
  /** e.g. `connect`, `docker run`. */
  operation: string;
  keyPath?: string;
  knownHostsPath?: string;
  /** Set when the host key check refused the host. */
  hostKey?: HostKeyVerdict;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'EAI_AGAIN',
]);

/** Maps an ssh2 (or socket) error; bp errors pass through unchanged. */
export function mapSshError(error: unknown, context: SshErrorContext): BpError {
  if (BpError.isInstance(error)) return error;
  const { label, operation } = context;
  if (context.hostKey && context.hostKey.status !== 'known') return hostKeyError(context.hostKey, context);
  const details = error as { code?: string; level?: string; message?: string };
  const message = details.message ?? String(error);
  if (details.level === 'client-authentication') {
    return new CredentialsError({
      provider: PROVIDER,
      source: context.keyPath,
      message: `${label} refused the key ${context.keyPath} for user ${context.user}`,
      cause: error,
    });
  }
  if (/privateKey|private key|passphrase/i.test(message)) {
    return new CredentialsError({
      provider: PROVIDER,
      source: context.keyPath,
      message: `cannot use the key ${context.keyPath}: ${message}`,
      cause: error,
    });
  }
  const code = details.code ?? '';
  if (UNREACHABLE.has(code) || details.level === 'client-timeout' || /timed out/i.test(message)) {
    return new ProviderCallError({
      provider: PROVIDER,
      operation,
      message: `cannot reach ${label} (${operation}): ${code || message}`,
      isRetryable: true,
      cause: error,
    });
  }
  if (code === 'ENOTFOUND') {
    return new ProviderCallError({
      provider: PROVIDER,
      operation,
      message: `cannot resolve ${context.host} (${operation})`,
      cause: error,
    });
  }
  return new ProviderCallError({
    provider: PROVIDER,
    operation,
    message: `${operation} on ${label} failed: ${message}`,
    // A dropped or closed connection is reopened by the next call.
    isRetryable: /not connected|closed|No response|keepalive/i.test(message),
    cause: error,
  });
}

function hostKeyError(
  verdict: Exclude<HostKeyVerdict, { status: 'known' }>,
  context: SshErrorContext,
): BpError {
  const { label, knownHostsPath } = context;
  const presented = `${verdict.presented.keyType} ${verdict.presented.fingerprint}`;
  const name = knownHostName(context.host, context.port);
  const text = {
    changed: () =>
      `host key of ${label} CHANGED: ${knownHostsPath} holds ${verdict.status === 'changed' ? verdict.expected.map((key) => `${key.keyType} ${key.fingerprint}`).join(', ') : ''} but the host presented ${presented}; refused, nothing was run (if the host was reinstalled, remove its line: ssh-keygen -R '${name}' -f ${knownHostsPath})`,
    unknown: () =>
      `host ${label} is not in ${knownHostsPath}; it presented ${presented}; refused, nothing was run (check the fingerprint and add it with ssh-keyscan, or trust unknown host keys explicitly to record it)`,
    revoked: () =>
      `host key ${presented} of ${label} is marked @revoked in ${knownHostsPath}; refused, nothing was run`,
  }[verdict.status];
  return new CredentialsError({ provider: PROVIDER, source: knownHostsPath, message: text() });
}

/** A remote command that ran but failed: its exit code and last stderr lines name what went wrong. */
export function remoteCommandError(
  context: Pick<SshErrorContext, 'label' | 'operation'>,
  result: { code: number | null; signal?: string; stderr: string },
  options: { isRetryable?: boolean } = {},
): ProviderCallError {
  const detail = result.stderr.trim().split('\n').slice(-3).join(' | ');
  return new ProviderCallError({
    provider: PROVIDER,
    operation: context.operation,
    message: `${context.operation} on ${context.label} failed (${result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exit ${result.code}`})${detail ? `: ${detail}` : ''}`,
    isRetryable: options.isRetryable ?? false,
  });
}
