import { openAesGcm, sealAesGcm } from './aes-gcm.js';
import { assertEncryptionContext, encodeAdditionalData, type EncryptionContext } from './encryption-context.js';
import { ENVELOPE_ADDITIONAL_DATA_DOMAIN, decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.js';
import { DecryptionFailedError, KeyNotFoundError } from './errors.js';
import type { KeyBackend, KeyBackendKind } from './key-backend.js';

const backendNames: Record<KeyBackendKind, string> = { 'aws-kms': 'AWS KMS', keyring: 'the local keyring' };

/**
 * Encrypts secrets into envelopes (layout in envelope.ts) and decrypts and re-wraps them, with a
 * fresh AES-256-GCM data key per encryption that the key backend wraps.
 *
 * Every method takes the encryption context of the record the secret belongs to. Decryption with
 * any other context fails with DecryptionFailedError, so an envelope copied to another record or
 * organization cannot be read there. Methods reject with the CryptoError subclasses of errors.ts.
 */
export class SecretBox {
  constructor(readonly backend: KeyBackend) {}

  /** Encrypts `plaintext` under a fresh data key. The caller still owns and zeroes `plaintext`. */
  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    assertEncryptionContext(context);
    const dataKey = await this.backend.generateDataKey(context);

    try {
      const additionalData = encodeAdditionalData(ENVELOPE_ADDITIONAL_DATA_DOMAIN, context);
      const sealed = sealAesGcm(dataKey.plaintextKey, plaintext, additionalData);
      return encodeEnvelope({
        backend: this.backend.kind,
        keyId: dataKey.keyId,
        wrappedKey: dataKey.wrappedKey,
        ...sealed,
      });
    } finally {
      dataKey.plaintextKey.fill(0);
    }
  }

  /** Decrypts an envelope and returns the plaintext, which the caller zeroes after use. */
  async decrypt(envelopeBytes: Buffer, context: EncryptionContext): Promise<Buffer> {
    assertEncryptionContext(context);
    const envelope = decodeEnvelope(envelopeBytes);
    this.#assertSameBackend(envelope, context);

    const dataKey = await this.backend.unwrapDataKey(envelope, context);
    try {
      return openAesGcm(dataKey, envelope, encodeAdditionalData(ENVELOPE_ADDITIONAL_DATA_DOMAIN, context));
    } catch (error) {
      throw new DecryptionFailedError({ keyId: envelope.keyId, recordId: context.recordId, cause: error });
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Re-wraps the envelope's data key under the backend's current key. Only key id and wrapped key
   * change, while IV, authentication tag and ciphertext stay byte for byte the same. Returns the
   * same Buffer instance when the data key is already wrapped by the current key.
   *
   * The ciphertext is not decrypted, so a modified ciphertext still re-wraps and fails later in
   * `decrypt`. A wrong context fails here, because the backend binds it to the wrapped key, except
   * in the no-op case, which calls no backend.
   */
  async rewrap(envelopeBytes: Buffer, context: EncryptionContext): Promise<Buffer> {
    assertEncryptionContext(context);
    const envelope = decodeEnvelope(envelopeBytes);
    this.#assertSameBackend(envelope, context);

    if (this.backend.isCurrentKey(envelope.keyId)) return envelopeBytes;

    const rewrapped = await this.backend.rewrapDataKey(envelope, context);
    if (rewrapped.keyId === envelope.keyId) return envelopeBytes;

    return encodeEnvelope({ ...envelope, keyId: rewrapped.keyId, wrappedKey: rewrapped.wrappedKey });
  }

  #assertSameBackend(envelope: Envelope, context: EncryptionContext): void {
    if (envelope.backend === this.backend.kind) return;
    throw new KeyNotFoundError({
      keyId: envelope.keyId,
      recordId: context.recordId,
      remedy:
        `The envelope was wrapped by ${backendNames[envelope.backend]}, but the configured key backend is ` +
        `${backendNames[this.backend.kind]}. Configure the key backend that encrypted the stored secrets.`,
    });
  }
}
