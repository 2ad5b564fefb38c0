import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope } from '../../src/crypto/envelope.js';
import {
  CryptoError,
  DecryptionFailedError,
  KeyAccessDeniedError,
  KeyBackendThrottledError,
  KeyBackendTimeoutError,
  KeyBackendUnavailableError,
  KeyDisabledError,
  KeyNotFoundError,
} from '../../src/crypto/errors.js';
import { KmsKeyBackend, createKmsClient, type KmsClientSettings } from '../../src/crypto/kms-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { FAKE_KMS_CREDENTIALS, FAKE_KMS_REGION, FakeKmsServer, type FakeKmsFault } from '../support/fake-kms-server.js';

const context: EncryptionContext = {
  organizationId: '1d1c7a52-0f0e-4a8e-9b1b-3f7f2d0b9c11',
  recordId: '7b0e4c33-2a8f-4f57-8d6e-5c4b3a291807',
  purpose: 'provider-key-credentials',
};
const secret = Buffer.from('{"apiKey":"sk-test-kms-round-trip"}', 'utf8');

let server: FakeKmsServer;
const backends: KmsKeyBackend[] = [];

function kmsSecretBox(keyId: string, settings: Partial<KmsClientSettings> = {}): SecretBox {
  const client = createKmsClient({
    region: FAKE_KMS_REGION,
    endpoint: server.endpoint,
    timeoutMs: 300,
    maxAttempts: 2,
    credentials: FAKE_KMS_CREDENTIALS,
    ...settings,
  });
  const backend = new KmsKeyBackend(client, keyId);
  backends.push(backend);
  return new SecretBox(backend);
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('Expected a rejection, but the promise resolved.');
    },
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  server = await FakeKmsServer.start({ keys: [{ aliases: ['alias/keyroute'] }, { aliases: ['alias/keyroute-next'] }] });
});

afterEach(() => {
  server.clearFaults();
  for (const backend of backends.splice(0)) backend.close();
});

afterAll(async () => {
  await server.close();
});

describe('KmsKeyBackend with the fake KMS', () => {
  it('round-trips a secret', async () => {
    const secretBox = kmsSecretBox('alias/keyroute');

    const envelope = await secretBox.encrypt(secret, context);
    const plaintext = await secretBox.decrypt(envelope, context);

    expect(plaintext.equals(secret)).toBe(true);
  });

  it('stores the key ARN for an alias', async () => {
    const envelope = await kmsSecretBox('alias/keyroute').encrypt(secret, context);

    expect(decodeEnvelope(envelope).keyId).toBe(server.keyArn('alias/keyroute'));
    expect(decodeEnvelope(envelope).backend).toBe('aws-kms');
  });

  it('signs every request with the test access key', async () => {
    const before = server.requests.length;
    const secretBox = kmsSecretBox('alias/keyroute');
    await secretBox.decrypt(await secretBox.encrypt(secret, context), context);

    const received = server.requests.slice(before);
    expect(received.map((request) => request.operation)).toEqual(['GenerateDataKey', 'Decrypt']);
    expect(received.map((request) => request.accessKeyId)).toEqual([
      FAKE_KMS_CREDENTIALS.accessKeyId,
      FAKE_KMS_CREDENTIALS.accessKeyId,
    ]);
  });

  it('sends the encryption context', async () => {
    const before = server.requests.length;
    await kmsSecretBox('alias/keyroute').encrypt(secret, context);

    expect(server.requests[before]?.encryptionContext).toEqual({ ...context });
  });

  it('rejects another record id', async () => {
    const secretBox = kmsSecretBox('alias/keyroute');
    const envelope = await secretBox.encrypt(secret, context);
    const otherRecord = { ...context, recordId: '0c6a3b1e-9d8f-4e7a-b6c5-d4e3f2a1b0c9' };

    const error = await rejectionOf(secretBox.decrypt(envelope, otherRecord));

    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect(server.requests.at(-1)?.status).toBe(400);
  });

  it('rejects another organization id', async () => {
    const secretBox = kmsSecretBox('alias/keyroute');
    const envelope = await secretBox.encrypt(secret, context);
    const otherOrganization = { ...context, organizationId: '4f5e6d7c-8b9a-4c1d-9e2f-3a4b5c6d7e8f' };

    const error = await rejectionOf(secretBox.decrypt(envelope, otherOrganization));

    expect(error).toBeInstanceOf(DecryptionFailedError);
  });

  it('rejects a wrong secret access key', async () => {
    const secretBox = kmsSecretBox('alias/keyroute', {
      credentials: { accessKeyId: FAKE_KMS_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-test-secret' },
    });

    const error = await rejectionOf(secretBox.encrypt(secret, context));

    expect(error).toBeInstanceOf(KeyAccessDeniedError);
    expect((error as KeyAccessDeniedError).retryable).toBe(false);
  });

  it('rejects an unknown access key id', async () => {
    const secretBox = kmsSecretBox('alias/keyroute', {
      credentials: { accessKeyId: 'AKIAKEYROUTEUNKNOWN1', secretAccessKey: FAKE_KMS_CREDENTIALS.secretAccessKey },
    });

    const error = await rejectionOf(secretBox.encrypt(secret, context));

    expect(error).toBeInstanceOf(KeyAccessDeniedError);
  });

  it('reports an unknown key as not found', async () => {
    const error = await rejectionOf(kmsSecretBox('alias/does-not-exist').encrypt(secret, context));

    expect(error).toBeInstanceOf(KeyNotFoundError);
    expect((error as KeyNotFoundError).keyId).toBe('alias/does-not-exist');
  });

  it('reports a disabled key', async () => {
    const arn = server.addKey({ aliases: ['alias/soon-disabled'] });
    const secretBox = kmsSecretBox('alias/soon-disabled');
    const envelope = await secretBox.encrypt(secret, context);
    server.setKeyEnabled(arn, false);

    const error = await rejectionOf(secretBox.decrypt(envelope, context));

    expect(error).toBeInstanceOf(KeyDisabledError);
    expect((error as KeyDisabledError).keyId).toBe(arn);
  });
});

describe('KmsKeyBackend failures', () => {
  const cases: [FakeKmsFault, new (...args: never[]) => CryptoError, boolean][] = [
    ['network', KeyBackendUnavailableError, true],
    ['timeout', KeyBackendTimeoutError, true],
    ['throttling', KeyBackendThrottledError, true],
    ['internal', KeyBackendUnavailableError, true],
    ['access-denied', KeyAccessDeniedError, false],
    ['disabled', KeyDisabledError, false],
  ];

  it.each(cases)('maps a %s failure of Decrypt', async (fault, errorClass, retryable) => {
    const secretBox = kmsSecretBox('alias/keyroute');
    const envelope = await secretBox.encrypt(secret, context);
    server.injectFault(fault);

    const error = await rejectionOf(secretBox.decrypt(envelope, context));

    expect(error).toBeInstanceOf(errorClass);
    expect((error as CryptoError).retryable).toBe(retryable);
    expect((error as KeyBackendUnavailableError).recordId).toBe(context.recordId);
  });

  it.each(cases)('maps a %s failure of GenerateDataKey', async (fault, errorClass, retryable) => {
    const secretBox = kmsSecretBox('alias/keyroute');
    server.injectFault(fault);

    const error = await rejectionOf(secretBox.encrypt(secret, context));

    expect(error).toBeInstanceOf(errorClass);
    expect((error as CryptoError).retryable).toBe(retryable);
  });

  it('maps a failure of ReEncrypt', async () => {
    const envelope = await kmsSecretBox('alias/keyroute').encrypt(secret, context);
    server.injectFault('access-denied', { operations: ['ReEncrypt'] });

    const error = await rejectionOf(kmsSecretBox('alias/keyroute-next').rewrap(envelope, context));

    expect(error).toBeInstanceOf(KeyAccessDeniedError);
  });

  it('gives up after maxAttempts on a network failure', async () => {
    const before = server.countRequests('GenerateDataKey');
    server.injectFault('network');

    await rejectionOf(kmsSecretBox('alias/keyroute', { maxAttempts: 3 }).encrypt(secret, context));

    expect(server.countRequests('GenerateDataKey') - before).toBe(3);
  });

  it('does not retry access denied', async () => {
    const before = server.countRequests('GenerateDataKey');
    server.injectFault('access-denied');

    await rejectionOf(kmsSecretBox('alias/keyroute', { maxAttempts: 3 }).encrypt(secret, context));

    expect(server.countRequests('GenerateDataKey') - before).toBe(1);
  });

  it('retries one throttled request', async () => {
    const secretBox = kmsSecretBox('alias/keyroute', { maxAttempts: 3 });
    const envelope = await secretBox.encrypt(secret, context);
    server.injectFault('throttling', { count: 1 });

    const plaintext = await secretBox.decrypt(envelope, context);

    expect(plaintext.equals(secret)).toBe(true);
  });

  it('times out within the configured bound', async () => {
    const secretBox = kmsSecretBox('alias/keyroute', { timeoutMs: 200, maxAttempts: 1 });
    server.injectFault('timeout');
    const started = performance.now();

    const error = await rejectionOf(secretBox.encrypt(secret, context));

    expect(error).toBeInstanceOf(KeyBackendTimeoutError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('KmsKeyBackend rewrap', () => {
  it('moves the data key to the current key', async () => {
    const envelope = await kmsSecretBox('alias/keyroute').encrypt(secret, context);
    const next = kmsSecretBox('alias/keyroute-next');

    const rewrapped = await next.rewrap(envelope, context);

    expect(decodeEnvelope(rewrapped).keyId).toBe(server.keyArn('alias/keyroute-next'));
    expect((await next.decrypt(rewrapped, context)).equals(secret)).toBe(true);
  });

  it('keeps IV, tag and ciphertext bytes', async () => {
    const envelope = await kmsSecretBox('alias/keyroute').encrypt(secret, context);

    const before = decodeEnvelope(envelope);
    const after = decodeEnvelope(await kmsSecretBox('alias/keyroute-next').rewrap(envelope, context));

    expect(after.iv.equals(before.iv)).toBe(true);
    expect(after.authTag.equals(before.authTag)).toBe(true);
    expect(after.ciphertext.equals(before.ciphertext)).toBe(true);
    expect(after.wrappedKey.equals(before.wrappedKey)).toBe(false);
  });

  it('returns the same bytes under an alias of the current key', async () => {
    const secretBox = kmsSecretBox('alias/keyroute');
    const envelope = await secretBox.encrypt(secret, context);

    const rewrapped = await secretBox.rewrap(envelope, context);

    expect(rewrapped).toBe(envelope);
  });

  it('calls no KMS operation when configured with the key ARN', async () => {
    const secretBox = kmsSecretBox(server.keyArn('alias/keyroute'));
    const envelope = await secretBox.encrypt(secret, context);
    const before = server.requests.length;

    const rewrapped = await secretBox.rewrap(envelope, context);

    expect(rewrapped).toBe(envelope);
    expect(server.requests.length).toBe(before);
  });

  it('follows an alias moved to another key', async () => {
    const firstArn = server.addKey({ aliases: ['alias/moving'] });
    const secondArn = server.addKey({});
    const secretBox = kmsSecretBox('alias/moving');
    const envelope = await secretBox.encrypt(secret, context);
    server.retargetAlias('alias/moving', secondArn);

    const rewrapped = await secretBox.rewrap(envelope, context);

    expect(decodeEnvelope(envelope).keyId).toBe(firstArn);
    expect(decodeEnvelope(rewrapped).keyId).toBe(secondArn);
  });

  it('rejects another record id', async () => {
    const envelope = await kmsSecretBox('alias/keyroute').encrypt(secret, context);
    const otherRecord = { ...context, recordId: 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d' };

    const error = await rejectionOf(kmsSecretBox('alias/keyroute-next').rewrap(envelope, otherRecord));

    expect(error).toBeInstanceOf(DecryptionFailedError);
  });
});
