/**
 * Expected failures of secret encryption. Each class has a stable `code` for callers to branch on
 * and a `retryable` flag: true only when the same request may succeed later without a change of
 * configuration (network failure, timeout, throttling).
 *
 * Messages name key ids, record ids and organization ids only. They never contain a plaintext, a
 * data key or a wrapped key, and they do not copy a key service's own message text, which stays
 * available in `cause`.
 */
export abstract class CryptoError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;
}

/** Identifies the key and, for per-record operations, the record that a failure concerns. */
export interface KeyFailureDetails {
  keyId: string;
  recordId?: string;
  cause?: unknown;
}

function describeRecord(recordId: string | undefined): string {
  return recordId === undefined ? '' : ` (record ${recordId})`;
}

/** A failure that concerns one key and, for per-record operations, one record. */
export abstract class KeyFailureError extends CryptoError {
  readonly keyId: string;
  readonly recordId: string | undefined;

  protected constructor(message: string, details: KeyFailureDetails) {
    super(message, { cause: details.cause });
    this.keyId = details.keyId;
    this.recordId = details.recordId;
  }
}

/**
 * The key backend could not be reached (connection refused, reset or closed) or reported a
 * transient failure of its own.
 */
export class KeyBackendUnavailableError extends KeyFailureError {
  override readonly name = 'KeyBackendUnavailableError';
  readonly code = 'key_backend_unavailable';
  readonly retryable = true;

  constructor(details: KeyFailureDetails & { reason: string }) {
    super(
      `The key backend could not be reached for key "${details.keyId}"${describeRecord(details.recordId)}: ` +
        `${details.reason}. Retry later.`,
      details,
    );
  }
}

/** A key backend request did not complete within the configured timeout. */
export class KeyBackendTimeoutError extends KeyFailureError {
  override readonly name = 'KeyBackendTimeoutError';
  readonly code = 'key_backend_timeout';
  readonly retryable = true;

  constructor(details: KeyFailureDetails) {
    super(
      `The key backend request for key "${details.keyId}"${describeRecord(details.recordId)} timed out. Retry later.`,
      details,
    );
  }
}

/** The key backend rejected the request because of its request rate quota. */
export class KeyBackendThrottledError extends KeyFailureError {
  override readonly name = 'KeyBackendThrottledError';
  readonly code = 'key_backend_throttled';
  readonly retryable = true;

  constructor(details: KeyFailureDetails) {
    super(
      `The key backend throttled the request for key "${details.keyId}"${describeRecord(details.recordId)}. ` +
        'Retry later, or raise the request quota of the key service.',
      details,
    );
  }
}

/** The credentials of this server are missing, invalid or lack permission on the key. */
export class KeyAccessDeniedError extends KeyFailureError {
  override readonly name = 'KeyAccessDeniedError';
  readonly code = 'key_access_denied';
  readonly retryable = false;

  constructor(details: KeyFailureDetails) {
    super(
      `Access to key "${details.keyId}" was denied${describeRecord(details.recordId)}. ` +
        'Check the AWS credentials of this server and that the key policy allows kms:GenerateDataKey, ' +
        'kms:Decrypt and kms:ReEncrypt* for them.',
      details,
    );
  }
}

/** The key exists but cannot be used: disabled, pending deletion or pending import. */
export class KeyDisabledError extends KeyFailureError {
  override readonly name = 'KeyDisabledError';
  readonly code = 'key_disabled';
  readonly retryable = false;

  constructor(details: KeyFailureDetails) {
    super(
      `Key "${details.keyId}" is disabled or not in a usable state${describeRecord(details.recordId)}. ` +
        'Enable the key, or cancel its scheduled deletion.',
      details,
    );
  }
}

/** The configured key backend has no key with this id. */
export class KeyNotFoundError extends KeyFailureError {
  override readonly name = 'KeyNotFoundError';
  readonly code = 'key_not_found';
  readonly retryable = false;

  /** @param remedy one sentence, specific to the backend, that names the setting to change. */
  constructor(details: KeyFailureDetails & { remedy: string }) {
    super(`Key "${details.keyId}" was not found${describeRecord(details.recordId)}. ${details.remedy}`, details);
  }
}

/**
 * Authenticated decryption failed: the envelope or wrapped key was modified, the envelope belongs
 * to another record or organization, or the key that wrapped it is not the one named.
 */
export class DecryptionFailedError extends KeyFailureError {
  override readonly name = 'DecryptionFailedError';
  readonly code = 'decryption_failed';
  readonly retryable = false;

  constructor(details: KeyFailureDetails) {
    super(
      `Decryption failed for key "${details.keyId}"${describeRecord(details.recordId)}: the envelope was modified, ` +
        'belongs to another record or organization, or was not wrapped by this key.',
      details,
    );
  }
}

/** The stored bytes are not an envelope of a format version this build reads. */
export class InvalidEnvelopeError extends CryptoError {
  override readonly name = 'InvalidEnvelopeError';
  readonly code = 'invalid_envelope';
  readonly retryable = false;

  /** @param reason what is wrong with the bytes, without quoting them. */
  constructor(reason: string) {
    super(`Invalid secret envelope: ${reason}.`);
  }
}

/** The key file of the embedded database exists but cannot be used. */
export class InvalidKeyFileError extends CryptoError {
  override readonly name = 'InvalidKeyFileError';
  readonly code = 'invalid_key_file';
  readonly retryable = false;
  readonly path: string;

  /** @param reason what is wrong with the file, without quoting it. */
  constructor(path: string, reason: string) {
    super(
      `The local encryption key file ${path} is invalid: ${reason}. Restore the file from a backup; ` +
        'deleting it makes every secret stored in the embedded database unreadable.',
    );
    this.path = path;
  }
}

/** The key service returned an error that none of the other classes describes. */
export class KeyBackendError extends KeyFailureError {
  override readonly name = 'KeyBackendError';
  readonly code = 'key_backend_error';
  readonly retryable = false;

  /** @param errorName the key service's error name, such as `ValidationException`. */
  constructor(details: KeyFailureDetails & { operation: string; errorName: string }) {
    super(
      `The key backend request ${details.operation} for key "${details.keyId}"${describeRecord(details.recordId)} ` +
        `failed with ${details.errorName}.`,
      details,
    );
  }
}

/** The server uses PostgreSQL but no key backend is configured. */
export class KeyBackendNotConfiguredError extends CryptoError {
  override readonly name = 'KeyBackendNotConfiguredError';
  readonly code = 'key_backend_not_configured';
  readonly retryable = false;

  constructor() {
    super(
      'No encryption key backend is configured for PostgreSQL (DATABASE_URL is set). ' +
        'Set KMS_KEY_ID and KMS_REGION to use AWS KMS, or KEYRING_KEYS to use a local keyring. ' +
        'The generated local key is only used with the embedded database, when DATABASE_URL is not set.',
    );
  }
}

/**
 * The configured key backend cannot decrypt the key check stored in the database, so the secrets
 * in this database were encrypted with another key.
 */
export class KeyCheckFailedError extends CryptoError {
  override readonly name = 'KeyCheckFailedError';
  readonly code = 'key_check_failed';
  readonly retryable = false;
  /** Backend and key id that encrypted the stored key check. */
  readonly expectedBackend: string;
  readonly expectedKeyId: string;

  /**
   * @param reason why the check failed, such as an error code.
   * @param remedy which settings to change.
   */
  constructor(details: {
    expectedBackend: string;
    expectedKeyId: string;
    reason: string;
    remedy: string;
    cause?: unknown;
  }) {
    super(
      `The encryption key check failed: the secrets in this database were encrypted with ` +
        `${details.expectedBackend} key "${details.expectedKeyId}", which the configured key backend ` +
        `cannot decrypt (${details.reason}). ${details.remedy}`,
      { cause: details.cause },
    );
    this.expectedBackend = details.expectedBackend;
    this.expectedKeyId = details.expectedKeyId;
  }
}
