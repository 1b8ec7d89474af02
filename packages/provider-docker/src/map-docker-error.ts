import {
  AbortedError,
  BpError,
  CapacityError,
  CredentialsError,
  NotFoundError,
  ProviderCallError,
  ValidationError,
} from '@bp/provider';
import type { DockerTarget } from './docker-connection.js';

const PROVIDER = 'docker';

/** What was being done when a dockerode call failed; names things, never holds a secret. */
export interface DockerErrorContext {
  /** The engine operation, e.g. `create container`, `pull`. */
  operation: string;
  target: DockerTarget;
  /** The image concerned (pull, create). */
  image?: string;
  /** The setting that named the image, for a ValidationError when it does not exist. Default `workload.image`. */
  imageSetting?: string;
  /** The container concerned, for not-found errors. */
  container?: string;
  /** Values that must never appear in a message (secrets, env values); replaced by `***`. */
  redact?: readonly string[];
}

const SERVER_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
]);
const UNAUTHORIZED =
  /unauthorized|authentication required|no basic auth credentials|denied: requested access/i;
const IMAGE_MISSING = /manifest unknown|not found|repository does not exist|no such image/i;

/**
 * Turns a dockerode / engine / TLS / socket error into one of the spec's errors, once, for every call.
 * Messages name the engine, the operation and the file concerned, never a file's contents or a secret.
 */
export function mapDockerError(error: unknown, context: DockerErrorContext): BpError {
  if (BpError.isInstance(error)) return error;
  const failure = (error ?? {}) as { code?: string; statusCode?: number; json?: unknown; name?: string };
  const raw = error instanceof Error ? error.message : String(error);
  const redact = (text: string) =>
    (context.redact ?? [])
      .filter((value) => value.length >= 3)
      .reduce((message, value) => message.split(value).join('***'), text);
  const unredacted = extractEngineMessage(failure.json, raw);
  const engineMessage = redact(unredacted);
  // The original error would carry what was redacted: it is then not kept as the cause.
  const cause = engineMessage === unredacted ? error : undefined;
  const { target, operation } = context;
  const where = `${operation} on ${target.description}`;
  const tls = target.tls;

  if (failure.name === 'AbortError' || failure.code === 'ABORT_ERR') return new AbortedError();
  const code = failure.code ?? '';
  if (SERVER_CERT_CODES.has(code)) {
    return new CredentialsError({
      provider: PROVIDER,
      source: tls?.ca,
      message: `${where}: the engine's certificate does not verify against ${tls?.ca ?? 'the CA'} (${code})`,
      cause,
    });
  }
  if (
    /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ACCESS_DENIED)/.test(code)
  ) {
    const file = tls?.cert ?? 'none given (tls.cert)';
    return new CredentialsError({
      provider: PROVIDER,
      source: tls?.cert,
      message: `${where}: the engine refused the client certificate ${file} (${code})`,
      cause,
    });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new CredentialsError({
      provider: PROVIDER,
      source: target.source,
      message: `${where}: no TLS answers there (${code}); is this the engine's TLS port?`,
      cause,
    });
  }
  if (code.startsWith('ERR_OSSL') || code.startsWith('ERR_SSL')) {
    return new CredentialsError({
      provider: PROVIDER,
      source: tls?.key ?? tls?.cert,
      message: `${where}: TLS failed with the client key ${tls?.key ?? '(none)'} and certificate ${tls?.cert ?? '(none)'} (${code})`,
      cause,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new CredentialsError({
      provider: PROVIDER,
      source: target.socketPath ?? target.description,
      message: `${where}: permission denied (is this user allowed to use the Docker socket?)`,
      cause,
    });
  }
  if (NETWORK_CODES.has(code) || /socket hang up/i.test(raw)) {
    return new ProviderCallError({
      provider: PROVIDER,
      operation,
      message: `${where}: cannot reach the engine (${code || 'connection closed'})`,
      isRetryable: true,
      cause,
    });
  }

  const status = failure.statusCode;
  if (/HTTP request to an HTTPS server/i.test(engineMessage)) {
    return new CredentialsError({
      provider: PROVIDER,
      source: target.source,
      message: `${where}: the engine speaks TLS; give tls = { ca, cert, key }`,
      cause,
    });
  }
  if (operation === 'pull' && UNAUTHORIZED.test(engineMessage)) {
    return new CredentialsError({
      provider: PROVIDER,
      source: `registryAuth[${registryOf(context.image ?? '')}]`,
      message: `${where}: the registry refused to serve ${context.image}: ${engineMessage}`,
      cause,
    });
  }
  if ((operation === 'pull' || operation === 'create container') && IMAGE_MISSING.test(engineMessage)) {
    if (status === 404 || operation === 'pull') {
      return new ValidationError({
        path: context.imageSetting ?? 'workload.image',
        reason: `image ${context.image} not found (${engineMessage})`,
        cause,
      });
    }
  }
  if (status === 404) {
    return new NotFoundError({
      kind: 'container',
      id: context.container ?? 'unknown',
      message: `${where}: ${engineMessage}`,
      cause,
    });
  }
  if (status === 400 && /Range of CPUs|only \d+ CPUs available/i.test(engineMessage)) {
    return new CapacityError({ provider: PROVIDER, message: `${where}: ${engineMessage}`, cause: error });
  }
  if (status === 400) {
    return new ValidationError({ reason: `${where}: ${engineMessage}`, cause: error });
  }
  return new ProviderCallError({
    provider: PROVIDER,
    operation,
    statusCode: status,
    // A pull that failed to reach its registry may well work later; so may any 5xx.
    isRetryable: status === undefined || status >= 500 || status === 408 || status === 429,
    message: `${where}: ${status ? `HTTP ${status}: ` : ''}${engineMessage}`,
    cause,
  });
}

/** The engine's own words: the JSON `message`, else dockerode's text without its `(HTTP code N) reason -` prefix. */
function extractEngineMessage(json: unknown, raw: string): string {
  const message = (json as { message?: unknown } | null | undefined)?.message;
  const text = typeof message === 'string' ? message : raw.replace(/^\(HTTP code \d+\)[^-]*- /, '');
  return text.trim().replace(/\s+/g, ' ').slice(0, 500);
}

/** The registry host of an image reference (`docker.io` when none is named). */
export function registryOf(image: string): string {
  const first = image.split('/')[0] ?? '';
  const named = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return named ? first : 'docker.io';
}

/** True when the engine refused a name because a container already holds it. */
export function isConflict(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 409;
}

/** True for a 404 from the engine. */
export function isMissing(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 404;
}

/** True for 304 Not Modified (start of a running container, stop of a stopped one). */
export function isNotModified(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 304;
}
