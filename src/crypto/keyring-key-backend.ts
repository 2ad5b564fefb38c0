import { randomBytes } from 'node:crypto';
import { openAesGcm, sealAesGcm } from './aes-gcm.js';
import { encodeAdditionalData, type EncryptionContext } from './encryption-context.js';
import { AUTH_TAG_LENGTH, DATA_KEY_LENGTH, IV_LENGTH } from './envelope.js';
import { DecryptionFailedError, KeyNotFoundError } from './errors.js';
import type { GeneratedDataKey, KeyBackend, WrappedDataKey } from './key-backend.js';

/** One keyring entry: a key id and 32 bytes of AES-256 key material. */
export interface KeyringKey {
  id: string;
  key: Buffer;
}

/** Keys of a local keyring. The current key wraps new data keys; the others only unwrap. */
export interface Keyring {
  keys: readonly KeyringKey[];
  currentKeyId: string;
}

/**
 * Additional data label of the keyring wrap. The additional data is the length-prefixed label, key
 * id, organization id, record id and purpose, so a wrapped key unwraps only for its own context and
 * only as the key id it names.
 */
const KEYRING_WRAP_DOMAIN = 'keyroute/keyring-wrap/v1';

/** Wrapped key layout: IV (12 bytes), authentication tag (16 bytes), encrypted data key (32 bytes). */
const WRAPPED_KEY_LENGTH = IV_LENGTH + AUTH_TAG_LENGTH + DATA_KEY_LENGTH;

/** Wraps data keys with AES-256-GCM under keys held in this process. */
export class KeyringKeyBackend implements KeyBackend {
  readonly kind = 'keyring';
  readonly currentKeyId: string;
  readonly #keys = new Map<string, Buffer>();

  /** Copies the key material, so the caller may zero its buffers afterwards. */
  constructor(keyring: Keyring) {
    for (const { id, key } of keyring.keys) {
      if (key.length !== DATA_KEY_LENGTH) {
        throw new RangeError(`Keyring key "${id}" must be ${DATA_KEY_LENGTH} bytes, got ${key.length}.`);
      }
      if (this.#keys.has(id)) throw new RangeError(`Keyring key id "${id}" appears more than once.`);
      this.#keys.set(id, Buffer.from(key));
    }
    if (!this.#keys.has(keyring.currentKeyId)) {
      throw new RangeError(`The current keyring key "${keyring.currentKeyId}" is not in the keyring.`);
    }
    this.currentKeyId = keyring.currentKeyId;
  }

  /** Ids of every key in the keyring, the current one included. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.#assertOpen();
    const plaintextKey = randomBytes(DATA_KEY_LENGTH);
    return { keyId: this.currentKeyId, plaintextKey, wrappedKey: this.#wrap(plaintextKey, context) };
  }

  async unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer> {
    this.#assertOpen();
    const key = this.#keys.get(dataKey.keyId);
    if (key === undefined) {
      throw new KeyNotFoundError({
        keyId: dataKey.keyId,
        recordId: context.recordId,
        remedy:
          `The keyring contains ${this.keyIds.map((id) => `"${id}"`).join(', ')}. Add the missing key to ` +
          'KEYRING_KEYS as a decrypt-only entry, or restore the key file of the embedded database.',
      });
    }
    if (dataKey.wrappedKey.length !== WRAPPED_KEY_LENGTH) {
      throw new DecryptionFailedError({ keyId: dataKey.keyId, recordId: context.recordId });
    }

    const sealed = {
      iv: dataKey.wrappedKey.subarray(0, IV_LENGTH),
      authTag: dataKey.wrappedKey.subarray(IV_LENGTH, IV_LENGTH + AUTH_TAG_LENGTH),
      ciphertext: dataKey.wrappedKey.subarray(IV_LENGTH + AUTH_TAG_LENGTH),
    };
    try {
      return openAesGcm(key, sealed, additionalData(dataKey.keyId, context));
    } catch (error) {
      throw new DecryptionFailedError({ keyId: dataKey.keyId, recordId: context.recordId, cause: error });
    }
  }

  async rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<WrappedDataKey> {
    const plaintextKey = await this.unwrapDataKey(dataKey, context);
    try {
      return { keyId: this.currentKeyId, wrappedKey: this.#wrap(plaintextKey, context) };
    } finally {
      plaintextKey.fill(0);
    }
  }

  isCurrentKey(keyId: string): boolean {
    return keyId === this.currentKeyId;
  }

  close(): void {
    for (const key of this.#keys.values()) key.fill(0);
    this.#keys.clear();
  }

  #assertOpen(): void {
    if (this.#keys.size === 0) throw new Error('The keyring key backend is closed.');
  }

  #wrap(plaintextKey: Buffer, context: EncryptionContext): Buffer {
    this.#assertOpen();
    // The constructor checked that the current key is in the map, and only close() empties it.
    const key = this.#keys.get(this.currentKeyId)!;
    const sealed = sealAesGcm(key, plaintextKey, additionalData(this.currentKeyId, context));
    return Buffer.concat([sealed.iv, sealed.authTag, sealed.ciphertext]);
  }
}

function additionalData(keyId: string, context: EncryptionContext): Buffer {
  return encodeAdditionalData(KEYRING_WRAP_DOMAIN, context, [keyId]);
}
