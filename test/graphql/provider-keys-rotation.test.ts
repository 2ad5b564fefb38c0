import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope } from '../../src/crypto/envelope.js';
import { KeyringKeyBackend } from '../../src/crypto/keyring-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { GatewayKeyService } from '../../src/features/gateway-keys/gateway-key.service.js';
import { insertOrganization } from '../../src/features/organizations/organization.repository.js';
import { credentialsPurpose, ProviderKeyService } from '../../src/features/provider-keys/provider-key.service.js';
import { rotateCredentials } from '../../src/features/provider-keys/rotation.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';

const oldKey = { id: 'old', key: randomBytes(32) };
const newKey = { id: 'new', key: randomBytes(32) };

function keyring(keys: { id: string; key: Buffer }[], currentKeyId: string): SecretBox {
  return new SecretBox(new KeyringKeyBackend({ keys: keys.map((entry) => ({ id: entry.id, key: Buffer.from(entry.key) })), currentKeyId }));
}

function apiKey(label: string): string {
  return `sk-ant-api03-${label}-${randomBytes(24).toString('hex')}`;
}

describe('credentials rotation', () => {
  let database: TestDatabase;
  let organizationId: string;
  const logs = captureLogs();

  beforeAll(async () => {
    database = await createTestDatabase();
    organizationId = (await insertOrganization(database.db, 'Rotation')).id;
  });
  afterAll(() => database?.destroy());

  /** Creates an Anthropic key assigned to a gateway key of its own, so every key has a free slot. */
  async function createKey(box: SecretBox, secret: string) {
    const context = { organizationId, actor: { tokenId: null, label: 'rotation test' } };
    const { gatewayKey } = await new GatewayKeyService(database.db, box).create(context, { name: `for ${secret.slice(-6)}` });
    const { providerKey } = await new ProviderKeyService(database.db, box).create(context, {
      provider: 'ANTHROPIC',
      name: `key ${secret.slice(-6)}`,
      credentials: { apiKey: secret },
      assignment: { gatewayKeyIds: [gatewayKey.id] },
    });
    return providerKey.id;
  }

  async function storedRow(id: string) {
    return database.db
      .selectFrom('provider_keys')
      .select(['credentials_envelope', 'credentials_version', 'status', 'status_error_code'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  }

  async function decrypt(box: SecretBox, id: string): Promise<string> {
    const context: EncryptionContext = { organizationId, recordId: id, purpose: credentialsPurpose };
    const plaintext = await box.decrypt((await storedRow(id)).credentials_envelope, context);
    return (JSON.parse(plaintext.toString('utf8')) as { apiKey: string }).apiKey;
  }

  it('re-wraps every key to the current key', async () => {
    const before = keyring([oldKey], 'old');
    const secrets = [apiKey('a'), apiKey('b'), apiKey('c')];
    const ids = [];
    for (const secret of secrets) ids.push(await createKey(before, secret));
    const after = keyring([newKey, oldKey], 'new');

    const report = await rotateCredentials(database.db, after, logs.logger);

    expect(report.rewrapped).toBe(3);
    expect(report.failed).toEqual([]);
    for (const [index, id] of ids.entries()) {
      const row = await storedRow(id);
      expect(decodeEnvelope(row.credentials_envelope).keyId).toBe('new');
      expect(row.credentials_version).toBe(1);
      expect(await decrypt(keyring([newKey], 'new'), id)).toBe(secrets[index]);
    }
  });

  it('reports keys already current on a second run', async () => {
    const report = await rotateCredentials(database.db, keyring([newKey, oldKey], 'new'), logs.logger);

    expect(report.rewrapped).toBe(0);
    expect(report.current).toBeGreaterThanOrEqual(3);
  });

  it('keeps an update that runs during rotation', async () => {
    const id = await createKey(keyring([oldKey], 'old'), apiKey('before'));
    const replacement = apiKey('during');
    const context = { organizationId, actor: { tokenId: null, label: 'rotation test' } };

    // The update lands between the rotation's read of the envelope and its compare-and-swap.
    const rotating = keyring([newKey, oldKey], 'new');
    const rewrap = rotating.rewrap.bind(rotating);
    let updated = false;
    rotating.rewrap = async (envelope, encryptionContext) => {
      const result = await rewrap(envelope, encryptionContext);
      if (encryptionContext.recordId === id && !updated) {
        updated = true;
        await new ProviderKeyService(database.db, rotating).update(context, id, { credentials: { apiKey: replacement } });
      }
      return result;
    };

    const report = await rotateCredentials(database.db, rotating, logs.logger);
    const row = await storedRow(id);

    expect(updated).toBe(true);
    expect(report.changedConcurrently).toBe(1);
    expect(row.credentials_version).toBe(2);
    expect(await decrypt(keyring([newKey], 'new'), id)).toBe(replacement);
  });

  it('reports and marks a corrupted envelope', async () => {
    const box = keyring([newKey, oldKey], 'new');
    const id = await createKey(box, apiKey('corrupt'));
    const envelope = Buffer.from((await storedRow(id)).credentials_envelope);
    envelope.writeUInt8(envelope.readUInt8(envelope.length - 1) ^ 0xff, envelope.length - 1);
    await database.db.updateTable('provider_keys').set({ credentials_envelope: envelope }).where('id', '=', id).execute();

    const report = await rotateCredentials(database.db, box, logs.logger);
    const row = await storedRow(id);

    expect(report.failed).toEqual([{ id, code: 'decryption_failed', retryable: false }]);
    expect(row.status).toBe('UNDECRYPTABLE');
    expect(row.status_error_code).toBe('decryption_failed');
    expect(row.credentials_version).toBe(1);
  });
});
