import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeLengthPrefixed } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/crypto/envelope.js';
import { InvalidEnvelopeError } from '../../src/crypto/errors.js';

const envelope: Envelope = {
  backend: 'aws-kms',
  keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  wrappedKey: randomBytes(184),
  iv: randomBytes(12),
  authTag: randomBytes(16),
  ciphertext: randomBytes(57),
};

function invalidReason(bytes: Buffer): string {
  try {
    decodeEnvelope(bytes);
  } catch (error) {
    if (error instanceof InvalidEnvelopeError) return error.message;
    throw error;
  }
  throw new Error('Expected InvalidEnvelopeError, but the bytes decoded.');
}

describe('envelope encoding', () => {
  it('decodes what it encodes', () => {
    const decoded = decodeEnvelope(encodeEnvelope(envelope));

    expect(decoded.backend).toBe(envelope.backend);
    expect(decoded.keyId).toBe(envelope.keyId);
    expect(decoded.wrappedKey.equals(envelope.wrappedKey)).toBe(true);
    expect(decoded.iv.equals(envelope.iv)).toBe(true);
    expect(decoded.authTag.equals(envelope.authTag)).toBe(true);
    expect(decoded.ciphertext.equals(envelope.ciphertext)).toBe(true);
  });

  it('adds 36 bytes and the key id to wrapped key and ciphertext', () => {
    const encoded = encodeEnvelope(envelope);

    expect(encoded.length).toBe(36 + envelope.keyId.length + 184 + 57);
  });

  it('decodes an empty ciphertext', () => {
    const decoded = decodeEnvelope(encodeEnvelope({ ...envelope, ciphertext: Buffer.alloc(0) }));

    expect(decoded.ciphertext.length).toBe(0);
  });

  it('rejects bytes without the prefix', () => {
    expect(invalidReason(Buffer.from('{"apiKey":"plaintext stored by mistake"}'))).toContain('prefix "KR"');
  });

  it('rejects an empty buffer', () => {
    expect(invalidReason(Buffer.alloc(0))).toContain('prefix "KR"');
  });

  it('rejects a buffer that ends after the prefix', () => {
    expect(invalidReason(Buffer.from('KR', 'ascii'))).toContain('ends inside the format version');
  });

  it('rejects an unknown backend code', () => {
    const encoded = encodeEnvelope(envelope);
    encoded[3] = 0x7f;

    expect(invalidReason(encoded)).toContain('key backend code 127');
  });

  it('rejects a key id longer than the bytes', () => {
    const encoded = encodeEnvelope(envelope).subarray(0, 20);

    expect(invalidReason(encoded)).toContain('ends inside the key id');
  });

  it('rejects a truncated tag', () => {
    const encoded = encodeEnvelope({ ...envelope, ciphertext: Buffer.alloc(0) });

    expect(invalidReason(encoded.subarray(0, encoded.length - 1))).toContain('ends inside the authentication tag');
  });

  it('rejects a zero wrapped key length', () => {
    const encoded = encodeEnvelope(envelope);
    encoded.writeUInt16BE(0, 6 + envelope.keyId.length);

    expect(invalidReason(encoded)).toContain('wrapped key length 0');
  });

  it('rejects a key id that is not UTF-8', () => {
    const encoded = encodeEnvelope({ ...envelope, keyId: 'ab' });
    encoded[6] = 0xff;

    expect(invalidReason(encoded)).toContain('not valid UTF-8');
  });

  it('rejects a short IV on encode', () => {
    expect(() => encodeEnvelope({ ...envelope, iv: randomBytes(8) })).toThrow(RangeError);
  });
});

describe('encodeLengthPrefixed', () => {
  it('keeps field boundaries apart', () => {
    const joined = encodeLengthPrefixed(['ab', 'c']);
    const shifted = encodeLengthPrefixed(['a', 'bc']);

    expect(joined.equals(shifted)).toBe(false);
  });

  it('writes a 32-bit big-endian byte length before each field', () => {
    expect(encodeLengthPrefixed(['é', '']).toString('hex')).toBe('00000002c3a900000000');
  });
});
