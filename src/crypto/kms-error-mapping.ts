import {
  CryptoError,
  DecryptionFailedError,
  KeyAccessDeniedError,
  KeyBackendError,
  KeyBackendThrottledError,
  KeyBackendTimeoutError,
  KeyBackendUnavailableError,
  KeyDisabledError,
  KeyNotFoundError,
  type KeyFailureDetails,
} from './errors.js';

// The names come from the error classes of @aws-sdk/client-kms 3.x (models/errors.js) and the
// "Common Errors" pages of the AWS API references. JSON-protocol services such as KMS also return
// UnrecognizedClientException for an unknown access key id. The throttling and transient names
// follow the retry classification of @smithy/core, and CredentialsProviderError is what the SDK's
// credential chain throws when it finds no credentials.
const accessDeniedNames = new Set([
  'AccessDeniedException',
  'NotAuthorized',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);
const disabledNames = new Set(['DisabledException', 'KMSInvalidStateException']);
const decryptionFailedNames = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
const throttledNames = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);
const timeoutNames = new Set(['TimeoutError', 'DependencyTimeoutException', 'RequestTimeout', 'RequestTimeoutException']);
const unavailableNames = new Set([
  'KMSInternalException',
  'KeyUnavailableException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
]);
const timeoutCodes = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const networkCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
]);

interface SdkErrorFields {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/**
 * Maps a failure of an AWS KMS request to a CryptoError. Failures that are neither a KMS error
 * response nor a network failure (a programming error, an aborted request) are returned unchanged,
 * for the caller to rethrow.
 *
 * @param operation the KMS operation name, such as `Decrypt`, used in messages only.
 */
export function mapKmsError(error: unknown, operation: string, details: Omit<KeyFailureDetails, 'cause'>): unknown {
  if (error instanceof CryptoError || typeof error !== 'object' || error === null) return error;

  const fields = error as SdkErrorFields;
  const name = typeof fields.name === 'string' ? fields.name : '';
  const code = typeof fields.code === 'string' ? fields.code : '';
  const failure = { ...details, cause: error };

  if (accessDeniedNames.has(name)) return new KeyAccessDeniedError(failure);
  if (disabledNames.has(name)) return new KeyDisabledError(failure);
  if (name === 'NotFoundException') {
    return new KeyNotFoundError({ ...failure, remedy: 'Check KMS_KEY_ID and KMS_REGION.' });
  }
  if (decryptionFailedNames.has(name)) return new DecryptionFailedError(failure);
  if (throttledNames.has(name)) return new KeyBackendThrottledError(failure);
  // The SDK's HTTP handler (@smithy/node-http-handler 4.x) names ECONNRESET and EPIPE failures
  // "TimeoutError" too, so the network error code is checked before the name.
  if (networkCodes.has(code)) {
    return new KeyBackendUnavailableError({ ...failure, reason: `network error ${code}${describeAttempts(fields)}` });
  }
  if (timeoutNames.has(name) || timeoutCodes.has(code)) return new KeyBackendTimeoutError(failure);
  if (unavailableNames.has(name)) {
    return new KeyBackendUnavailableError({ ...failure, reason: `AWS KMS reported ${name}` });
  }

  const status = fields.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) {
    return new KeyBackendUnavailableError({ ...failure, reason: `AWS KMS responded with HTTP ${status}` });
  }
  if (fields.$metadata !== undefined) {
    return new KeyBackendError({ ...failure, operation, errorName: name || 'an unnamed error' });
  }
  return error;
}

function describeAttempts(fields: SdkErrorFields): string {
  const attempts = fields.$metadata?.attempts;
  return attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';
}
