import type { EncryptionContext } from './encryption-context.js';

export type KeyBackendKind = 'aws-kms' | 'keyring';

/** A data key wrapped by a backend key. */
export interface WrappedDataKey {
  /** Id of the backend key that wrapped the data key: the key ARN for AWS KMS, the entry id for a keyring. */
  keyId: string;
  wrappedKey: Buffer;
}

/** A fresh data key in plaintext and wrapped. The caller zeroes `plaintextKey` after use. */
export interface GeneratedDataKey extends WrappedDataKey {
  plaintextKey: Buffer;
}

/**
 * Wraps and unwraps 256-bit data keys with a key that never leaves the backend (AWS KMS) or never
 * leaves this process (a local keyring). Every operation binds the encryption context, so a
 * wrapped key only unwraps with the context it was wrapped with.
 *
 * Methods reject with the CryptoError subclasses of errors.ts. A failure from the backend's
 * transport that none of them describes is rethrown as it is.
 */
export interface KeyBackend {
  readonly kind: KeyBackendKind;
  /** Key that wraps new data keys, as configured (for AWS KMS possibly an alias). */
  readonly currentKeyId: string;

  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey>;

  /** Returns the plaintext data key. The caller zeroes it after use. */
  unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer>;

  /** Wraps the data key again under the current key, with the same context. */
  rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<WrappedDataKey>;

  /**
   * Returns true when `keyId` is known to be the current key. False can also mean "unknown",
   * because an AWS KMS alias resolves only on the service. Then `rewrapDataKey` returns the same
   * key id, and the caller treats the re-wrap as a no-op.
   */
  isCurrentKey(keyId: string): boolean;

  /** Releases sockets and zeroes key material held in memory. The backend is unusable afterwards. */
  close(): void;
}
