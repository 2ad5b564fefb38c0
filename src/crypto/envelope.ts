import { InvalidEnvelopeError } from './errors.js';
import type { KeyBackendKind } from './key-backend.js';

/**
 * Secret envelope, format version 1: the bytes stored in a `bytea` column for one secret.
 *
 * All integers are unsigned big-endian. K is the key id length and W the wrapped key length.
 *
 * | offset   | size | field                                                        |
 * |----------|------|--------------------------------------------------------------|
 * | 0        | 2    | magic, ASCII "KR" (0x4b 0x52)                                |
 * | 2        | 1    | format version, 0x01                                         |
 * | 3        | 1    | key backend: 0x01 AWS KMS, 0x02 local keyring                |
 * | 4        | 2    | K, from 1 to 2048                                            |
 * | 6        | K    | backend key id, UTF-8 (the key ARN for AWS KMS)              |
 * | 6+K      | 2    | W, from 1 to 4096                                            |
 * | 8+K      | W    | wrapped data key, opaque to this module                      |
 * | 8+K+W    | 12   | AES-GCM IV                                                   |
 * | 20+K+W   | 16   | AES-GCM authentication tag                                   |
 * | 36+K+W   | rest | AES-256-GCM ciphertext, as long as the plaintext (may be 0)  |
 *
 * The ciphertext is encrypted with a fresh 256-bit data key. Its additional data is
 * `encodeAdditionalData(ENVELOPE_ADDITIONAL_DATA_DOMAIN, context)`: the length-prefixed domain
 * label, organization id, record id and purpose. The header is deliberately not part of the
 * additional data, so that re-wrapping can replace key id and wrapped key while the IV, tag and
 * ciphertext stay byte for byte the same.
 *
 * test/crypto/golden-envelope.test.ts pins this layout with a committed envelope that must keep
 * decrypting. A change to the layout needs a new format version, and this build must keep reading
 * version 1.
 */
export const ENVELOPE_FORMAT_VERSION = 1;

export const ENVELOPE_ADDITIONAL_DATA_DOMAIN = 'keyroute/secret-envelope/v1';

/** AES-256 key length in bytes. */
export const DATA_KEY_LENGTH = 32;
/** AES-GCM IV length in bytes: 96 bits, the length NIST SP 800-38D recommends. */
export const IV_LENGTH = 12;
/** AES-GCM authentication tag length in bytes: the full 128 bits. */
export const AUTH_TAG_LENGTH = 16;

const MAGIC = Buffer.from('KR', 'ascii');
const MAX_KEY_ID_LENGTH = 2048;
const MAX_WRAPPED_KEY_LENGTH = 4096;

const backendCodes: Record<KeyBackendKind, number> = { 'aws-kms': 0x01, keyring: 0x02 };

/** The fields of a decoded envelope. The buffers are views into the decoded bytes, not copies. */
export interface Envelope {
  backend: KeyBackendKind;
  keyId: string;
  wrappedKey: Buffer;
  iv: Buffer;
  authTag: Buffer;
  ciphertext: Buffer;
}

export function encodeEnvelope(envelope: Envelope): Buffer {
  const keyId = Buffer.from(envelope.keyId, 'utf8');
  if (keyId.length === 0 || keyId.length > MAX_KEY_ID_LENGTH) {
    throw new RangeError(`Key id must be 1 to ${MAX_KEY_ID_LENGTH} bytes, got ${keyId.length}.`);
  }
  if (envelope.wrappedKey.length === 0 || envelope.wrappedKey.length > MAX_WRAPPED_KEY_LENGTH) {
    throw new RangeError(
      `Wrapped key must be 1 to ${MAX_WRAPPED_KEY_LENGTH} bytes, got ${envelope.wrappedKey.length}.`,
    );
  }
  if (envelope.iv.length !== IV_LENGTH || envelope.authTag.length !== AUTH_TAG_LENGTH) {
    throw new RangeError(`IV must be ${IV_LENGTH} bytes and authentication tag ${AUTH_TAG_LENGTH} bytes.`);
  }

  const header = Buffer.from([...MAGIC, ENVELOPE_FORMAT_VERSION, backendCodes[envelope.backend]]);
  return Buffer.concat([
    header,
    uint16(keyId.length),
    keyId,
    uint16(envelope.wrappedKey.length),
    envelope.wrappedKey,
    envelope.iv,
    envelope.authTag,
    envelope.ciphertext,
  ]);
}

/** Decodes envelope bytes, or throws InvalidEnvelopeError naming what is wrong with them. */
export function decodeEnvelope(bytes: Buffer): Envelope {
  const reader = new EnvelopeReader(bytes);

  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new InvalidEnvelopeError('the bytes do not start with the envelope prefix "KR"');
  }
  reader.skip(MAGIC.length);

  const version = reader.uint8('format version');
  if (version !== ENVELOPE_FORMAT_VERSION) {
    throw new InvalidEnvelopeError(
      `format version ${version} is not supported by this build, which reads version ${ENVELOPE_FORMAT_VERSION}`,
    );
  }

  const backendCode = reader.uint8('key backend');
  const backend = (Object.keys(backendCodes) as KeyBackendKind[]).find((kind) => backendCodes[kind] === backendCode);
  if (backend === undefined) {
    throw new InvalidEnvelopeError(`key backend code ${backendCode} is unknown`);
  }

  const keyIdLength = reader.uint16('key id length');
  if (keyIdLength === 0 || keyIdLength > MAX_KEY_ID_LENGTH) {
    throw new InvalidEnvelopeError(`key id length ${keyIdLength} is outside 1 to ${MAX_KEY_ID_LENGTH}`);
  }
  const keyId = decodeUtf8(reader.bytes(keyIdLength, 'key id'));

  const wrappedKeyLength = reader.uint16('wrapped key length');
  if (wrappedKeyLength === 0 || wrappedKeyLength > MAX_WRAPPED_KEY_LENGTH) {
    throw new InvalidEnvelopeError(
      `wrapped key length ${wrappedKeyLength} is outside 1 to ${MAX_WRAPPED_KEY_LENGTH}`,
    );
  }
  const wrappedKey = reader.bytes(wrappedKeyLength, 'wrapped key');
  const iv = reader.bytes(IV_LENGTH, 'IV');
  const authTag = reader.bytes(AUTH_TAG_LENGTH, 'authentication tag');
  const ciphertext = reader.rest();

  return { backend, keyId, wrappedKey, iv, authTag, ciphertext };
}

function uint16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function decodeUtf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidEnvelopeError('the key id is not valid UTF-8');
  }
}

/** Reads fields in order and throws InvalidEnvelopeError when the bytes end before a field does. */
class EnvelopeReader {
  #offset = 0;

  constructor(private readonly buffer: Buffer) {}

  skip(length: number): void {
    this.#offset += length;
  }

  uint8(field: string): number {
    return this.bytes(1, field).readUInt8(0);
  }

  uint16(field: string): number {
    return this.bytes(2, field).readUInt16BE(0);
  }

  bytes(length: number, field: string): Buffer {
    if (this.#offset + length > this.buffer.length) {
      throw new InvalidEnvelopeError(
        `the envelope ends inside the ${field} (${this.buffer.length} bytes in total)`,
      );
    }
    const slice = this.buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }

  rest(): Buffer {
    const slice = this.buffer.subarray(this.#offset);
    this.#offset = this.buffer.length;
    return slice;
  }
}
