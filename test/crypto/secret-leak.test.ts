import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoEnvironment, toCryptoConfig } from '../../src/config/crypto.config.js';
import { createKeyBackend } from '../../src/crypto/create-key-backend.js';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/crypto/envelope.js';
import { runKeyCheck, type KeyCheckDatabase } from '../../src/crypto/key-check.js';
import type { KeyBackend } from '../../src/crypto/key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FAKE_KMS_CREDENTIALS, FakeKmsServer, type FakeKmsFault } from '../support/fake-kms-server.js';
import { captureLogs } from '../support/log-capture.js';

// Drives both backends through success and failure paths with one marker secret, logs every
// error the way an error handler would, and then searches all output for the marker and for every
// key that took part.

const marker = `sk-ant-LEAKMARKER-${randomBytes(12).toString('hex')}`;
const context: EncryptionContext = {
  organizationId: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
  recordId: 'e9d8c7b6-a5f4-4e3d-9c2b-1a0f9e8d7c6b',
  purpose: 'provider-key-credentials',
};
const otherRecord = { ...context, recordId: '0f1e2d3c-4b5a-4697-8877-665544332211' };
const keyringKeys = [randomBytes(32), randomBytes(32)];

let kms: FakeKmsServer;
let testDatabase: TestDatabase;
const logs = captureLogs('trace');
const errors: unknown[] = [];
const steps: string[] = [];
const failedSteps: string[] = [];
const backends: KeyBackend[] = [];

/** Runs a step that may fail, and logs its error at error level like the application's error handler. */
async function attempt(step: string, run: () => Promise<unknown>): Promise<void> {
  steps.push(step);
  try {
    await run();
  } catch (error) {
    failedSteps.push(step);
    errors.push(error);
    logs.logger.error({ err: error, step }, `Step ${step} failed`);
  }
}

function modifyCiphertext(envelopeBytes: Buffer): Buffer {
  const envelope = decodeEnvelope(envelopeBytes);
  const modified = Buffer.from(envelope.ciphertext);
  modified[0] = modified[0]! ^ 0xff;
  return encodeEnvelope({ ...envelope, ciphertext: modified });
}

function forms(bytes: Buffer): string[] {
  return [bytes.toString('utf8'), bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

function capturedText(): string {
  const errorTexts = errors.flatMap((error) => [
    String(error),
    (error as Error).message,
    (error as Error).stack ?? '',
    inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
  ]);
  return [logs.text(), ...errorTexts].join('\n');
}

beforeAll(async () => {
  kms = await FakeKmsServer.start({ keys: [{ aliases: ['alias/keyroute'] }, { aliases: ['alias/other'] }] });
  testDatabase = await createTestDatabase();
  const db = testDatabase.db as unknown as Kysely<KeyCheckDatabase>;
  const plaintext = () => Buffer.from(marker, 'utf8');

  const keyringVariables = {
    KEYRING_KEYS: `current:${keyringKeys[0]!.toString('base64')},next:${keyringKeys[1]!.toString('base64')}`,
  };
  const keyring = await createKeyBackend(toCryptoConfig(cryptoEnvironment.parse(keyringVariables)), {
    dataDirectory: '',
    embedded: false,
    logger: logs.logger,
  });
  const nextKeyring = await createKeyBackend(
    toCryptoConfig(cryptoEnvironment.parse({ ...keyringVariables, KEYRING_CURRENT_KEY_ID: 'next' })),
    { dataDirectory: '', embedded: false, logger: logs.logger },
  );
  backends.push(keyring, nextKeyring);
  const keyringBox = new SecretBox(keyring);
  const keyringEnvelope = await keyringBox.encrypt(plaintext(), context);
  await runKeyCheck(db, keyringBox, logs.logger);

  await attempt('keyring decrypt, other record', () => keyringBox.decrypt(keyringEnvelope, otherRecord));
  await attempt('keyring rewrap, other record', () => new SecretBox(nextKeyring).rewrap(keyringEnvelope, otherRecord));
  await attempt('keyring decrypt, modified ciphertext', () =>
    keyringBox.decrypt(modifyCiphertext(keyringEnvelope), context),
  );
  await attempt('keyring decrypt, truncated', () => keyringBox.decrypt(keyringEnvelope.subarray(0, 30), context));

  const kmsConfig = toCryptoConfig(
    cryptoEnvironment.parse({ KMS_KEY_ID: 'alias/keyroute', KMS_REGION: 'us-east-1', KMS_ENDPOINT: kms.endpoint, KMS_TIMEOUT_MS: '200' }),
  );
  const kmsBackend = await createKeyBackend(kmsConfig, {
    dataDirectory: '',
    embedded: false,
    logger: logs.logger,
    kmsClient: { credentials: FAKE_KMS_CREDENTIALS, maxAttempts: 1 },
  });
  backends.push(kmsBackend);
  const kmsBox = new SecretBox(kmsBackend);
  const kmsEnvelope = await kmsBox.encrypt(plaintext(), context);
  await kmsBox.decrypt(kmsEnvelope, context);

  await attempt('kms decrypt, other record', () => kmsBox.decrypt(kmsEnvelope, otherRecord));
  await attempt('kms decrypt, modified ciphertext', () => kmsBox.decrypt(modifyCiphertext(kmsEnvelope), context));
  await attempt('kms decrypt, keyring envelope', () => kmsBox.decrypt(keyringEnvelope, context));
  await attempt('key check, keyring check with kms', () => runKeyCheck(db, kmsBox, logs.logger));
  const faults: FakeKmsFault[] = ['network', 'timeout', 'throttling', 'access-denied', 'disabled', 'internal'];
  for (const fault of faults) {
    kms.injectFault(fault);
    await attempt(`kms decrypt, ${fault}`, () => kmsBox.decrypt(kmsEnvelope, context));
    await attempt(`kms encrypt, ${fault}`, () => kmsBox.encrypt(plaintext(), context));
    kms.clearFaults();
  }
  kms.injectFault('access-denied', { operations: ['ReEncrypt'] });
  const otherKmsBackend = await createKeyBackend(
    toCryptoConfig(cryptoEnvironment.parse({ KMS_KEY_ID: 'alias/other', KMS_REGION: 'us-east-1', KMS_ENDPOINT: kms.endpoint })),
    { dataDirectory: '', embedded: false, logger: logs.logger, kmsClient: { credentials: FAKE_KMS_CREDENTIALS, maxAttempts: 1 } },
  );
  backends.push(otherKmsBackend);
  await attempt('kms rewrap, access denied', () => new SecretBox(otherKmsBackend).rewrap(kmsEnvelope, context));
  kms.clearFaults();

  await new Promise((resolve) => setImmediate(resolve));
});

afterAll(async () => {
  for (const backend of backends) backend.close();
  await kms?.close();
  await testDatabase?.destroy();
});

describe('secret leaks', () => {
  it('exercised the failure paths', () => {
    expect(failedSteps).toEqual(steps);
    expect(kms.issuedDataKeys.length).toBeGreaterThan(0);
  });

  it('keeps the marker out of logs and errors', () => {
    const text = capturedText();

    for (const form of forms(Buffer.from(marker, 'utf8'))) expect(text).not.toContain(form);
  });

  it('keeps KMS data keys out of logs and errors', () => {
    const text = capturedText();

    for (const dataKey of kms.issuedDataKeys) {
      for (const form of forms(dataKey).slice(1)) expect(text).not.toContain(form);
    }
  });

  it('keeps keyring keys out of logs and errors', () => {
    const text = capturedText();

    for (const key of keyringKeys) {
      for (const form of forms(key).slice(1)) expect(text).not.toContain(form);
    }
  });

  it('logged the failures with their codes', () => {
    expect(logs.text()).toContain('key_backend_timeout');
    expect(logs.text()).toContain('decryption_failed');
    expect(logs.text()).toContain('key_check_failed');
  });
});
