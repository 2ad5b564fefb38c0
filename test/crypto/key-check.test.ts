import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/crypto/envelope.js';
import { KeyBackendUnavailableError, KeyCheckFailedError } from '../../src/crypto/errors.js';
import { KEY_CHECK_ROW_ID, runKeyCheck, type KeyCheckDatabase } from '../../src/crypto/key-check.js';
import type { KeyBackend } from '../../src/crypto/key-backend.js';
import { KeyringKeyBackend } from '../../src/crypto/keyring-key-backend.js';
import { KmsKeyBackend, createKmsClient } from '../../src/crypto/kms-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FAKE_KMS_CREDENTIALS, FAKE_KMS_REGION, FakeKmsServer } from '../support/fake-kms-server.js';
import { captureLogs } from '../support/log-capture.js';

const oldKey = { id: 'key-2026-01', key: randomBytes(32) };
const newKey = { id: 'key-2026-06', key: randomBytes(32) };

let testDatabase: TestDatabase;
let db: Kysely<KeyCheckDatabase>;
let kms: FakeKmsServer;
const backends: KeyBackend[] = [];

function keyringBox(keys: { id: string; key: Buffer }[], currentKeyId = keys[0]!.id): SecretBox {
  const backend = new KeyringKeyBackend({ keys, currentKeyId });
  backends.push(backend);
  return new SecretBox(backend);
}

function kmsBox(keyId: string): SecretBox {
  const client = createKmsClient({
    region: FAKE_KMS_REGION,
    endpoint: kms.endpoint,
    timeoutMs: 300,
    maxAttempts: 2,
    credentials: FAKE_KMS_CREDENTIALS,
  });
  const backend = new KmsKeyBackend(client, keyId);
  backends.push(backend);
  return new SecretBox(backend);
}

async function readCheckRow() {
  return db.selectFrom('encryption_key_checks').selectAll().where('id', '=', KEY_CHECK_ROW_ID).executeTakeFirstOrThrow();
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
  testDatabase = await createTestDatabase();
  // The application's Database interface may not list this table yet; the migration creates it.
  db = testDatabase.db as unknown as Kysely<KeyCheckDatabase>;
  kms = await FakeKmsServer.start({ keys: [{ aliases: ['alias/old'] }, { aliases: ['alias/new'] }] });
});

beforeEach(async () => {
  await db.deleteFrom('encryption_key_checks').execute();
});

afterEach(() => {
  kms.clearFaults();
  for (const backend of backends.splice(0)) backend.close();
});

afterAll(async () => {
  await kms?.close();
  await testDatabase?.destroy();
});

describe('runKeyCheck', () => {
  it('stores a check on first use', async () => {
    const { logger } = captureLogs();

    const result = await runKeyCheck(db, keyringBox([oldKey]), logger);

    const row = await readCheckRow();
    expect(result).toEqual({ outcome: 'created', keyId: oldKey.id });
    expect(row.backend).toBe('keyring');
    expect(row.key_id).toBe(oldKey.id);
    expect(decodeEnvelope(row.check_envelope).keyId).toBe(oldKey.id);
  });

  it('passes with the same keyring', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);

    const result = await runKeyCheck(db, keyringBox([oldKey]), logger);

    expect(result).toEqual({ outcome: 'verified', keyId: oldKey.id });
  });

  it('rejects a keyring without the key', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);

    const error = await rejectionOf(runKeyCheck(db, keyringBox([newKey]), logger));

    expect(error).toBeInstanceOf(KeyCheckFailedError);
    expect((error as KeyCheckFailedError).code).toBe('key_check_failed');
    expect((error as KeyCheckFailedError).expectedKeyId).toBe(oldKey.id);
    expect((error as KeyCheckFailedError).message).toContain(`keyring key "${oldKey.id}"`);
    expect((error as KeyCheckFailedError).message).toContain('KEYRING_KEYS');
  });

  it('rejects other key material under the same id', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);
    const impostor = { id: oldKey.id, key: randomBytes(32) };

    const error = await rejectionOf(runKeyCheck(db, keyringBox([impostor]), logger));

    expect(error).toBeInstanceOf(KeyCheckFailedError);
    expect((error as KeyCheckFailedError).message).toContain('decryption_failed');
  });

  it('leaves the stored check alone after a failure', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);
    const stored = await readCheckRow();

    await rejectionOf(runKeyCheck(db, keyringBox([newKey]), logger));

    const after = await readCheckRow();
    expect(after.key_id).toBe(oldKey.id);
    expect(after.check_envelope.equals(stored.check_envelope)).toBe(true);
  });

  it('passes with the old key as decrypt-only and re-wraps', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);

    const result = await runKeyCheck(db, keyringBox([newKey, oldKey], newKey.id), logger);

    const row = await readCheckRow();
    expect(result).toEqual({ outcome: 'rewrapped', keyId: newKey.id, previousKeyId: oldKey.id });
    expect(row.key_id).toBe(newKey.id);
    expect(decodeEnvelope(row.check_envelope).keyId).toBe(newKey.id);
  });

  it('passes with only the new key after rotation', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);
    await runKeyCheck(db, keyringBox([newKey, oldKey], newKey.id), logger);

    const result = await runKeyCheck(db, keyringBox([newKey]), logger);

    expect(result).toEqual({ outcome: 'verified', keyId: newKey.id });
  });

  it('creates one check for two servers starting at once', async () => {
    const { logger } = captureLogs();

    const results = await Promise.all([
      runKeyCheck(db, keyringBox([oldKey]), logger),
      runKeyCheck(db, keyringBox([oldKey]), logger),
    ]);

    expect(results.map((result) => result.outcome).sort()).toEqual(['created', 'verified']);
  });

  it('logs key ids only', async () => {
    const { logger, text } = captureLogs('trace');
    await runKeyCheck(db, keyringBox([oldKey]), logger);
    await runKeyCheck(db, keyringBox([newKey, oldKey], newKey.id), logger);
    await new Promise((resolve) => setImmediate(resolve));

    expect(text()).toContain(`re-wrapped it from key ${oldKey.id} to key ${newKey.id}`);
    expect(text()).not.toContain(oldKey.key.toString('base64'));
    expect(text()).not.toContain(newKey.key.toString('base64'));
    expect(text()).not.toContain(oldKey.key.toString('hex'));
  });

  it('rejects a KMS server for a keyring check', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, keyringBox([oldKey]), logger);

    const error = await rejectionOf(runKeyCheck(db, kmsBox('alias/old'), logger));

    expect(error).toBeInstanceOf(KeyCheckFailedError);
    expect((error as KeyCheckFailedError).expectedKeyId).toBe(oldKey.id);
    expect((error as KeyCheckFailedError).message).toContain('the configured key backend is aws-kms');
  });

  it('re-wraps a KMS check to a new KMS key', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, kmsBox('alias/old'), logger);

    const result = await runKeyCheck(db, kmsBox('alias/new'), logger);

    expect(result).toEqual({
      outcome: 'rewrapped',
      keyId: kms.keyArn('alias/new'),
      previousKeyId: kms.keyArn('alias/old'),
    });
  });

  it('starts when the KMS re-wrap is denied', async () => {
    const { logger, text } = captureLogs();
    await runKeyCheck(db, kmsBox('alias/old'), logger);
    kms.injectFault('access-denied', { operations: ['ReEncrypt'] });

    const result = await runKeyCheck(db, kmsBox('alias/new'), logger);
    await new Promise((resolve) => setImmediate(resolve));

    expect(result).toEqual({ outcome: 'verified', keyId: kms.keyArn('alias/old') });
    expect((await readCheckRow()).key_id).toBe(kms.keyArn('alias/old'));
    expect(text()).toContain('re-wrapping it to the current key failed');
  });

  it('names the KMS key when KMS denies access', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, kmsBox('alias/old'), logger);
    kms.injectFault('access-denied');

    const error = await rejectionOf(runKeyCheck(db, kmsBox('alias/old'), logger));

    expect(error).toBeInstanceOf(KeyCheckFailedError);
    expect((error as KeyCheckFailedError).expectedKeyId).toBe(kms.keyArn('alias/old'));
    expect((error as KeyCheckFailedError).message).toContain('KMS_KEY_ID');
  });

  it('rethrows an unreachable KMS unchanged', async () => {
    const { logger } = captureLogs();
    await runKeyCheck(db, kmsBox('alias/old'), logger);
    kms.injectFault('network');

    const error = await rejectionOf(runKeyCheck(db, kmsBox('alias/old'), logger));

    expect(error).toBeInstanceOf(KeyBackendUnavailableError);
    expect((error as KeyBackendUnavailableError).retryable).toBe(true);
  });
});

describe('encryption_key_checks table', () => {
  it('allows only the singleton row', async () => {
    const insert = db
      .insertInto('encryption_key_checks')
      .values({ id: 'second', backend: 'keyring', key_id: 'k', check_envelope: Buffer.from([1]) })
      .execute();

    await expect(insert).rejects.toThrow(/encryption_key_checks_singleton_check/);
  });

  it('allows only known backends', async () => {
    const insert = db
      .insertInto('encryption_key_checks')
      .values({ id: KEY_CHECK_ROW_ID, backend: 'vault', key_id: 'k', check_envelope: Buffer.from([1]) })
      .execute();

    await expect(insert).rejects.toThrow(/encryption_key_checks_backend_check/);
  });

  it('sets both timestamps', async () => {
    await runKeyCheck(db, keyringBox([oldKey]), captureLogs().logger);

    const row = await sql<{ created: boolean; updated: boolean }>`
      select created_at is not null as created, updated_at is not null as updated from encryption_key_checks
    `.execute(db);

    expect(row.rows[0]).toEqual({ created: true, updated: true });
  });
});
