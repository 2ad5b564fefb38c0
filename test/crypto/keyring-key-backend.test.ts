import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/crypto/envelope.js';
import { DecryptionFailedError, KeyNotFoundError } from '../../src/crypto/errors.js';
import { KeyringKeyBackend, type KeyringKey } from '../../src/crypto/keyring-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

const context: EncryptionContext = {
  organizationId: '2f9e1c44-6b0a-4d7e-8c3f-5a1b9d2e7f60',
  recordId: '8c4d2e1f-3a5b-4c6d-9e7f-0a1b2c3d4e5f',
  purpose: 'provider-key-credentials',
};
const secret = Buffer.from('{"apiKey":"sk-test-keyring-round-trip"}', 'utf8');

const keyA: KeyringKey = { id: 'key-a', key: randomBytes(32) };
const keyB: KeyringKey = { id: 'key-b', key: randomBytes(32) };

function keyringBox(keys: KeyringKey[], currentKeyId = keys[0]!.id): SecretBox {
  return new SecretBox(new KeyringKeyBackend({ keys, currentKeyId }));
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('Expected a rejection, but the promise resolved.');
    },
    (error: unknown) => error,
  );
}

describe('KeyringKeyBackend', () => {
  it('round-trips a secret', async () => {
    const secretBox = keyringBox([keyA]);

    const plaintext = await secretBox.decrypt(await secretBox.encrypt(secret, context), context);

    expect(plaintext.equals(secret)).toBe(true);
  });

  it('round-trips an empty secret', async () => {
    const secretBox = keyringBox([keyA]);

    const plaintext = await secretBox.decrypt(await secretBox.encrypt(Buffer.alloc(0), context), context);

    expect(plaintext.length).toBe(0);
  });

  it('uses a fresh data key and IV per encryption', async () => {
    const secretBox = keyringBox([keyA]);

    const first = decodeEnvelope(await secretBox.encrypt(secret, context));
    const second = decodeEnvelope(await secretBox.encrypt(secret, context));

    expect(first.wrappedKey.equals(second.wrappedKey)).toBe(false);
    expect(first.iv.equals(second.iv)).toBe(false);
    expect(first.ciphertext.equals(second.ciphertext)).toBe(false);
  });

  it('wraps new data keys with the current key', async () => {
    const envelope = await keyringBox([keyA, keyB], keyB.id).encrypt(secret, context);

    expect(decodeEnvelope(envelope).keyId).toBe(keyB.id);
  });

  it('decrypts with a decrypt-only key after rotation', async () => {
    const before = await keyringBox([keyA]).encrypt(secret, context);

    const plaintext = await keyringBox([keyB, keyA], keyB.id).decrypt(before, context);

    expect(plaintext.equals(secret)).toBe(true);
  });

  it('loses nothing over a rotation', async () => {
    const secrets = Array.from({ length: 20 }, (_, index) => Buffer.from(`secret-${index}`));
    const contexts = secrets.map((_, index) => ({ ...context, recordId: `record-${index}` }));
    const oldBox = keyringBox([keyA]);
    const envelopes = await Promise.all(secrets.map((item, index) => oldBox.encrypt(item, contexts[index]!)));

    const rotatingBox = keyringBox([keyB, keyA], keyB.id);
    const rewrapped = await Promise.all(envelopes.map((item, index) => rotatingBox.rewrap(item, contexts[index]!)));
    const newBox = keyringBox([keyB]);
    const decrypted = await Promise.all(rewrapped.map((item, index) => newBox.decrypt(item, contexts[index]!)));

    expect(rewrapped.map((item) => decodeEnvelope(item).keyId)).toEqual(secrets.map(() => keyB.id));
    expect(decrypted.map((item) => item.toString())).toEqual(secrets.map((item) => item.toString()));
  });

  it('rejects an envelope of a key not in the keyring', async () => {
    const envelope = await keyringBox([keyA]).encrypt(secret, context);

    const error = await rejectionOf(keyringBox([keyB]).decrypt(envelope, context));

    expect(error).toBeInstanceOf(KeyNotFoundError);
    expect((error as KeyNotFoundError).keyId).toBe(keyA.id);
    expect((error as KeyNotFoundError).message).toContain('KEYRING_KEYS');
  });

  it('rejects a wrapped key moved to another record', async () => {
    const secretBox = keyringBox([keyA]);
    const first = decodeEnvelope(await secretBox.encrypt(secret, context));
    const otherContext = { ...context, recordId: 'another-record' };
    const second = decodeEnvelope(await secretBox.encrypt(secret, otherContext));
    // The first record's ciphertext with the second record's wrapped data key.
    const spliced = encodeEnvelope({ ...first, wrappedKey: second.wrappedKey });

    const error = await rejectionOf(secretBox.decrypt(spliced, context));

    expect(error).toBeInstanceOf(DecryptionFailedError);
  });

  it('rejects a wrapped key of the wrong length', async () => {
    const secretBox = keyringBox([keyA]);
    const envelope = decodeEnvelope(await secretBox.encrypt(secret, context));
    const shortened = encodeEnvelope({ ...envelope, wrappedKey: envelope.wrappedKey.subarray(1) });

    const error = await rejectionOf(secretBox.decrypt(shortened, context));

    expect(error).toBeInstanceOf(DecryptionFailedError);
  });

  it('rejects an empty context field', async () => {
    const error = await rejectionOf(keyringBox([keyA]).encrypt(secret, { ...context, recordId: '' }));

    expect(error).toBeInstanceOf(TypeError);
  });

  it('rejects a key of the wrong length', () => {
    expect(() => new KeyringKeyBackend({ keys: [{ id: 'short', key: randomBytes(16) }], currentKeyId: 'short' })).toThrow(
      /32 bytes/,
    );
  });

  it('rejects a current key outside the keyring', () => {
    expect(() => new KeyringKeyBackend({ keys: [keyA], currentKeyId: 'missing' })).toThrow(/"missing"/);
  });

  it('copies the key material', async () => {
    const key = Buffer.from(keyA.key);
    const backend = new KeyringKeyBackend({ keys: [{ id: keyA.id, key }], currentKeyId: keyA.id });
    const envelope = await new SecretBox(backend).encrypt(secret, context);
    key.fill(0);

    const plaintext = await new SecretBox(backend).decrypt(envelope, context);

    expect(plaintext.equals(secret)).toBe(true);
  });

  it('rejects use after close', async () => {
    const backend = new KeyringKeyBackend({ keys: [keyA], currentKeyId: keyA.id });
    backend.close();

    await expect(new SecretBox(backend).encrypt(secret, context)).rejects.toThrow(/closed/);
  });
});

describe('SecretBox.rewrap with a keyring', () => {
  it('keeps IV, tag and ciphertext bytes', async () => {
    const envelope = await keyringBox([keyA]).encrypt(secret, context);

    const before = decodeEnvelope(envelope);
    const after = decodeEnvelope(await keyringBox([keyB, keyA], keyB.id).rewrap(envelope, context));

    expect(after.keyId).toBe(keyB.id);
    expect(after.iv.equals(before.iv)).toBe(true);
    expect(after.authTag.equals(before.authTag)).toBe(true);
    expect(after.ciphertext.equals(before.ciphertext)).toBe(true);
    expect(after.wrappedKey.equals(before.wrappedKey)).toBe(false);
  });

  it('returns the same bytes under the current key', async () => {
    const secretBox = keyringBox([keyA]);
    const envelope = await secretBox.encrypt(secret, context);

    const rewrapped = await secretBox.rewrap(envelope, context);

    expect(rewrapped).toBe(envelope);
  });

  it('rejects another record id', async () => {
    const envelope = await keyringBox([keyA]).encrypt(secret, context);

    const error = await rejectionOf(
      keyringBox([keyB, keyA], keyB.id).rewrap(envelope, { ...context, recordId: 'another-record' }),
    );

    expect(error).toBeInstanceOf(DecryptionFailedError);
  });
});
