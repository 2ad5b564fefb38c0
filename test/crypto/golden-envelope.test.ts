import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { DecryptionFailedError, InvalidEnvelopeError, KeyNotFoundError } from '../../src/crypto/errors.js';
import { KeyringKeyBackend } from '../../src/crypto/keyring-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

// Frozen output of format version 1. These tests must pass unchanged for as long as databases may
// hold version 1 envelopes; see the layout table in src/crypto/envelope.ts.
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/golden-envelope.json', import.meta.url), 'utf8'),
) as {
  keyring: { keyId: string; key: string };
  context: EncryptionContext;
  plaintext: string;
  envelopeHex: string;
};

const goldenEnvelope = Buffer.from(fixture.envelopeHex, 'hex');
const goldenKey = Buffer.from(fixture.keyring.key, 'base64');

function goldenSecretBox(extraKeys: { id: string; key: Buffer }[] = []): SecretBox {
  return new SecretBox(
    new KeyringKeyBackend({
      keys: [{ id: fixture.keyring.keyId, key: goldenKey }, ...extraKeys],
      currentKeyId: fixture.keyring.keyId,
    }),
  );
}

/** Returns a copy of the golden envelope with one byte XOR-ed with 0x01. */
function flipByte(offset: number): Buffer {
  const copy = Buffer.from(goldenEnvelope);
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

function lengthPrefixed(fields: string[]): Buffer {
  return Buffer.concat(
    fields.flatMap((field) => {
      const bytes = Buffer.from(field, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return [length, bytes];
    }),
  );
}

function gcmDecrypt(key: Buffer, iv: Buffer, tag: Buffer, ciphertext: Buffer, additionalData: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(additionalData);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

// Offsets of the golden envelope, computed from the documented layout.
const keyIdLength = Buffer.byteLength(fixture.keyring.keyId, 'utf8');
const wrappedKeyOffset = 8 + keyIdLength;
const wrappedKeyLength = 60;
const ivOffset = wrappedKeyOffset + wrappedKeyLength;
const tagOffset = ivOffset + 12;
const ciphertextOffset = tagOffset + 16;

describe('golden envelope', () => {
  it('decrypts with the fixed test key', async () => {
    const plaintext = await goldenSecretBox().decrypt(goldenEnvelope, fixture.context);

    expect(plaintext.toString('utf8')).toBe(fixture.plaintext);
  });

  it('has the documented header', () => {
    expect(goldenEnvelope.subarray(0, 2).toString('ascii')).toBe('KR');
    expect(goldenEnvelope[2]).toBe(1);
    expect(goldenEnvelope[3]).toBe(0x02);
    expect(goldenEnvelope.readUInt16BE(4)).toBe(keyIdLength);
    expect(goldenEnvelope.subarray(6, 6 + keyIdLength).toString('utf8')).toBe(fixture.keyring.keyId);
    expect(goldenEnvelope.readUInt16BE(6 + keyIdLength)).toBe(wrappedKeyLength);
  });

  it('has a ciphertext as long as the plaintext', () => {
    expect(goldenEnvelope.length - ciphertextOffset).toBe(Buffer.byteLength(fixture.plaintext, 'utf8'));
  });

  it('decrypts by the documented layout without the module', () => {
    const { organizationId, recordId, purpose } = fixture.context;
    const wrapped = goldenEnvelope.subarray(wrappedKeyOffset, ivOffset);
    const dataKey = gcmDecrypt(
      goldenKey,
      wrapped.subarray(0, 12),
      wrapped.subarray(12, 28),
      wrapped.subarray(28),
      lengthPrefixed(['keyroute/keyring-wrap/v1', fixture.keyring.keyId, organizationId, recordId, purpose]),
    );

    const plaintext = gcmDecrypt(
      dataKey,
      goldenEnvelope.subarray(ivOffset, tagOffset),
      goldenEnvelope.subarray(tagOffset, ciphertextOffset),
      goldenEnvelope.subarray(ciphertextOffset),
      lengthPrefixed(['keyroute/secret-envelope/v1', organizationId, recordId, purpose]),
    );

    expect(dataKey.length).toBe(32);
    expect(plaintext.toString('utf8')).toBe(fixture.plaintext);
  });

  it.each([
    ['ciphertext', () => flipByte(goldenEnvelope.length - 1)],
    ['authentication tag', () => flipByte(tagOffset)],
    ['IV', () => flipByte(ivOffset)],
    ['wrapped key', () => flipByte(wrappedKeyOffset + 30)],
    ['wrapped key IV', () => flipByte(wrappedKeyOffset)],
  ])('rejects a modified %s', async (_field, tamper) => {
    const error = await goldenSecretBox().decrypt(tamper(), fixture.context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).code).toBe('decryption_failed');
    expect((error as DecryptionFailedError).retryable).toBe(false);
  });

  it.each([
    ['organization id', { organizationId: '6a1d4f0e-2b3c-4d5e-8f90-a1b2c3d4e5f6' }],
    ['record id', { recordId: '9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4' }],
    ['purpose', { purpose: 'other-purpose' }],
  ])('rejects another %s', async (_field, change) => {
    const context = { ...fixture.context, ...change };
    const error = await goldenSecretBox().decrypt(goldenEnvelope, context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).recordId).toBe(context.recordId);
  });

  it('rejects a key id swapped for another keyring key', async () => {
    const otherKeyId = fixture.keyring.keyId.replace(/1$/, '2');
    const swapped = Buffer.from(goldenEnvelope);
    swapped.write(otherKeyId, 6, 'utf8');
    const secretBox = goldenSecretBox([{ id: otherKeyId, key: Buffer.alloc(32, 7) }]);

    const error = await secretBox.decrypt(swapped, fixture.context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).keyId).toBe(otherKeyId);
  });

  it('rejects a keyring without the key', async () => {
    const secretBox = new SecretBox(
      new KeyringKeyBackend({ keys: [{ id: 'other', key: Buffer.alloc(32, 1) }], currentKeyId: 'other' }),
    );

    const error = await secretBox.decrypt(goldenEnvelope, fixture.context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(KeyNotFoundError);
    expect((error as KeyNotFoundError).message).toContain(`"${fixture.keyring.keyId}"`);
  });

  it('rejects a truncated envelope', async () => {
    const error = await goldenSecretBox()
      .decrypt(goldenEnvelope.subarray(0, ivOffset + 5), fixture.context)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    expect((error as InvalidEnvelopeError).code).toBe('invalid_envelope');
  });

  it('rejects an unknown format version', async () => {
    const version2 = Buffer.from(goldenEnvelope);
    version2[2] = 2;

    const error = await goldenSecretBox().decrypt(version2, fixture.context).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidEnvelopeError);
    expect((error as InvalidEnvelopeError).message).toContain('format version 2');
  });
});
