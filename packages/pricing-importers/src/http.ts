import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, CredentialsError, ProviderCallError } from '@bp/provider';

/** Options every importer takes. */
export interface ImportOptionsBase {
  /** Cancels the import; it then rejects with AbortedError. */
  signal?: AbortSignal;
  /** Retries of one request after HTTP 408/429/5xx or a network error. Default 3. */
  maxRetries?: number;
  /** First retry delay in ms, doubled on each retry (at most 30 s); a Retry-After header wins. Default 1000. */
  retryDelayMs?: number;
  /** Most pages read from one listing before giving up with a ProviderCallError. Default 1000. */
  maxPages?: number;
  /** The clock (fetch time, spot price time); for tests. */
  now?: () => Date;
}

/** What one importer run needs to send requests and count them. */
export interface RequestContext {
  provider: string;
  signal?: AbortSignal;
  maxRetries: number;
  retryDelayMs: number;
  maxPages: number;
  /** Names the credentials used, for CredentialsError (never their value). */
  credentialsSource?: string;
  /** HTTP requests sent so far, retries included. */
  requests: number;
  /** The same, per API operation. */
  requestsByOperation: Record<string, number>;
}

export function requestContext(
  provider: string,
  options: ImportOptionsBase,
  credentialsSource?: string,
): RequestContext {
  return {
    provider,
    signal: options.signal,
    maxRetries: options.maxRetries ?? 3,
    retryDelayMs: options.retryDelayMs ?? 1000,
    maxPages: options.maxPages ?? 1000,
    credentialsSource,
    requests: 0,
    requestsByOperation: {},
  };
}

const MAX_DELAY_MS = 30_000;
const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_DELAY_MS) : undefined;
}

async function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw new AbortedError();
  }
}

/** The provider's own error text from a JSON error body (GCP `error.message`, Azure `Error.Message`). */
function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, Record<string, unknown> | undefined>;
    const message = parsed.error?.message ?? parsed.Error?.Message ?? parsed.error?.Message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * GETs `url` and parses its JSON body, retrying HTTP 408/429/5xx and network errors with
 * exponential backoff (or the server's Retry-After). Throws CredentialsError on 401/403 (or a bad
 * Google API key) when the API takes credentials, ProviderCallError otherwise, AbortedError when `signal` fires. `url` never
 * appears in a message: it may carry an API key.
 */
export async function getJson(
  context: RequestContext,
  operation: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const { provider, signal } = context;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new AbortedError();
    const backoff = Math.min(context.retryDelayMs * 2 ** attempt, MAX_DELAY_MS);
    countRequests(context, operation, 1);
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal });
    } catch (error) {
      if (signal?.aborted) throw new AbortedError();
      if (attempt < context.maxRetries) {
        await wait(backoff, signal);
        continue;
      }
      throw new ProviderCallError({
        message: `${provider} ${operation}: request failed: ${(error as Error).message}`,
        provider,
        operation,
        isRetryable: true,
        cause: error,
      });
    }
    if (response.ok) {
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new ProviderCallError({
          message: `${provider} ${operation}: the response is not JSON`,
          provider,
          operation,
          statusCode: response.status,
          cause: error,
        });
      }
    }
    const retryable = isRetryableStatus(response.status);
    if (retryable && attempt < context.maxRetries) {
      await response.body?.cancel();
      await wait(retryAfterMs(response.headers.get('retry-after')) ?? backoff, signal);
      continue;
    }
    const body = await response.text().catch(() => '');
    const detail = errorDetail(body);
    const status = `HTTP ${response.status}${detail ? `: ${detail}` : ''}`;
    // Google answers a bad API key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    const refused = response.status === 401 || response.status === 403 || body.includes('API_KEY_INVALID');
    if (refused && context.credentialsSource)
      throw new CredentialsError({
        message: `${provider} ${operation}: credentials refused (${status})`,
        provider,
        source: context.credentialsSource,
      });
    throw new ProviderCallError({
      message: `${provider} ${operation} failed${retryable ? ` after ${attempt + 1} attempts` : ''} (${status})`,
      provider,
      operation,
      statusCode: response.status,
      requestId: response.headers.get('x-ms-request-id') ?? response.headers.get('x-request-id') ?? undefined,
      isRetryable: retryable,
    });
  }
}

export function countRequests(context: RequestContext, operation: string, count: number): void {
  context.requests += count;
  context.requestsByOperation[operation] = (context.requestsByOperation[operation] ?? 0) + count;
}

/** Throws once a listing has returned more than `maxPages` pages: a runaway paging loop. */
export function checkPageLimit(context: RequestContext, operation: string, pages: number): void {
  if (pages > context.maxPages)
    throw new ProviderCallError({
      message: `${context.provider} ${operation}: more than ${context.maxPages} pages; stopped (raise maxPages if the listing is really that long)`,
      provider: context.provider,
      operation,
    });
}

/** The UTC date of `date`, YYYY-MM-DD. */
export const isoDate = (date: Date): string => date.toISOString().slice(0, 10);
