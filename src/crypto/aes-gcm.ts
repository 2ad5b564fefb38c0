import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AUTH_TAG_LENGTH, IV_LENGTH } from './envelope.js';

export interface SealedData {
  iv: Buffer;
  authTag: Buffer;
  ciphertext: Buffer;
}

/** Encrypts with AES-256-GCM under a fresh random 96-bit IV and a 128-bit tag. */
export function sealAesGcm(key: Buffer, plaintext: Buffer, additionalData: Buffer): SealedData {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: AUTH_TAG_LENGTH });
  cipher.setAAD(additionalData);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, authTag: cipher.getAuthTag(), ciphertext };
}

/**
 * Decrypts AES-256-GCM data and returns the plaintext, which the caller zeroes after use. Throws
 * Node's error when the tag does not authenticate ciphertext and additional data.
 */
export function openAesGcm(key: Buffer, sealed: SealedData, additionalData: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: AUTH_TAG_LENGTH });
  decipher.setAAD(additionalData);
  decipher.setAuthTag(sealed.authTag);

  // GCM releases plaintext before final() checks the tag, so this part is zeroed on failure.
  const head = decipher.update(sealed.ciphertext);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch (error) {
    head.fill(0);
    throw error;
  }

  const plaintext = Buffer.concat([head, tail]);
  head.fill(0);
  tail.fill(0);
  return plaintext;
}
