import { AbortedError, BpError, CredentialsError, ProviderCallError } from '@bp/provider';

const CREDENTIAL_ERRORS = new Set([
  'AccessDeniedException',
  'AuthFailure',
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
]);
const THROTTLING_ERRORS = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
]);

interface AwsSdkError {
  name?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** AWS SDK errors -> @bp/provider errors: refused credentials, throttling and 5xx (retryable), the rest. */
export function mapAwsError(
  error: unknown,
  operation: string,
  credentialsSource: string,
  signal?: AbortSignal,
): BpError {
  if (BpError.isInstance(error)) return error;
  const sdkError = (error ?? {}) as AwsSdkError;
  if (signal?.aborted || sdkError.name === 'AbortError') return new AbortedError();
  const name = sdkError.name ?? 'Error';
  const status = sdkError.$metadata?.httpStatusCode;
  const detail = `${name}${status ? `, HTTP ${status}` : ''}: ${sdkError.message ?? ''}`.trim();
  if (CREDENTIAL_ERRORS.has(name) || status === 401 || status === 403)
    return new CredentialsError({
      message: `aws ${operation}: credentials refused (${detail})`,
      provider: 'aws',
      source: credentialsSource,
      cause: error,
    });
  const retryable =
    THROTTLING_ERRORS.has(name) || status === 429 || (status ?? 0) >= 500 || Boolean(sdkError.$retryable);
  return new ProviderCallError({
    message: `aws ${operation} failed (${detail})`,
    provider: 'aws',
    operation,
    statusCode: status,
    requestId: sdkError.$metadata?.requestId,
    isRetryable: retryable,
    cause: error,
  });
}
