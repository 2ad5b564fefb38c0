import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cryptoEnvironment, toCryptoConfig, type CryptoConfig } from '../../src/config/crypto.config.js';
import { createKeyBackend } from '../../src/crypto/create-key-backend.js';
import { EMBEDDED_KEY_FILE_NAME } from '../../src/crypto/embedded-key-file.js';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope } from '../../src/crypto/envelope.js';
import { InvalidKeyFileError, KeyBackendNotConfiguredError } from '../../src/crypto/errors.js';
import type { KeyBackend } from '../../src/crypto/key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { selectKeyBackend } from '../../src/crypto/select-key-backend.js';
import { FAKE_KMS_CREDENTIALS, FakeKmsServer } from '../support/fake-kms-server.js';
import { captureLogs } from '../support/log-capture.js';

const context: EncryptionContext = {
  organizationId: '3e2d1c0b-9a8f-4e7d-a6c5-b4a392817060',
  recordId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
  purpose: 'provider-key-credentials',
};
const noBackend: CryptoConfig = { kms: undefined, keyring: undefined };

function configOf(environment: Record<string, string>): CryptoConfig {
  return toCryptoConfig(cryptoEnvironment.parse(environment));
}

/** Waits until pino has handed every line to the memory destination. */
async function flushLogs(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

let dataDirectory: string;
const backends: KeyBackend[] = [];

async function start(config: CryptoConfig = noBackend, embedded = true) {
  const logs = captureLogs('trace');
  const backend = await createKeyBackend(config, { dataDirectory, embedded, logger: logs.logger });
  backends.push(backend);
  await flushLogs();
  return { backend, logs };
}

async function readKeyFileLine(): Promise<{ keyId: string; key: string }> {
  const [keyId, key] = (await readFile(path.join(dataDirectory, EMBEDDED_KEY_FILE_NAME), 'utf8')).trim().split(':');
  return { keyId: keyId!, key: key! };
}

beforeEach(async () => {
  dataDirectory = await mkdtemp(path.join(tmpdir(), 'keyroute-crypto-'));
});

afterEach(async () => {
  for (const backend of backends.splice(0)) backend.close();
  await rm(dataDirectory, { recursive: true, force: true });
});

describe('selectKeyBackend', () => {
  it('rejects PostgreSQL without a key backend', () => {
    expect(() => selectKeyBackend(noBackend, { embedded: false })).toThrow(KeyBackendNotConfiguredError);
  });

  it('names the settings to set', () => {
    expect(() => selectKeyBackend(noBackend, { embedded: false })).toThrow(/KMS_KEY_ID.*KEYRING_KEYS/);
  });

  it('uses the generated key for the embedded database', () => {
    expect(selectKeyBackend(noBackend, { embedded: true }).kind).toBe('embedded-keyring');
  });

  it('uses a configured keyring with PostgreSQL', () => {
    const config = configOf({ KEYRING_KEYS: `k1:${randomBytes(32).toString('base64')}` });

    expect(selectKeyBackend(config, { embedded: false }).kind).toBe('keyring');
  });

  it('uses KMS with PostgreSQL', () => {
    const config = configOf({ KMS_KEY_ID: 'alias/keyroute', KMS_REGION: 'us-east-1' });

    expect(selectKeyBackend(config, { embedded: false }).kind).toBe('aws-kms');
  });

  it('prefers a configured keyring to the generated key', () => {
    const config = configOf({ KEYRING_KEYS: `k1:${randomBytes(32).toString('base64')}` });

    expect(selectKeyBackend(config, { embedded: true }).kind).toBe('keyring');
  });
});

describe('createKeyBackend for the embedded database', () => {
  it('generates a key file with mode 0600', async () => {
    await start();

    const { mode } = await stat(path.join(dataDirectory, EMBEDDED_KEY_FILE_NAME));
    expect(mode & 0o777).toBe(0o600);
  });

  it('logs that it generated a key', async () => {
    const { backend, logs } = await start();

    const { keyId } = await readKeyFileLine();
    expect(backend.currentKeyId).toBe(keyId);
    expect(logs.text()).toContain(`Generated local encryption key ${keyId} in ${path.join(dataDirectory, EMBEDDED_KEY_FILE_NAME)}`);
  });

  it('logs no key bytes', async () => {
    const { logs } = await start();

    const { key } = await readKeyFileLine();
    expect(logs.text()).not.toContain(key);
    expect(logs.text()).not.toContain(Buffer.from(key, 'base64').toString('hex'));
  });

  it('reuses the key on the second start', async () => {
    const first = await start();
    const envelope = await new SecretBox(first.backend).encrypt(Buffer.from('kept'), context);

    const second = await start();

    expect(second.backend.currentKeyId).toBe(first.backend.currentKeyId);
    expect((await new SecretBox(second.backend).decrypt(envelope, context)).toString()).toBe('kept');
    expect(second.logs.text()).not.toContain('Generated');
    expect(second.logs.text()).toContain(`Encrypting secrets with local key ${first.backend.currentKeyId}`);
  });

  it('creates one key for two concurrent starts', async () => {
    const [first, second] = await Promise.all([start(), start()]);

    expect(second.backend.currentKeyId).toBe(first.backend.currentKeyId);
    expect(await readdir(dataDirectory)).toEqual([EMBEDDED_KEY_FILE_NAME]);
  });

  it('warns about a key file readable by others', async () => {
    await start();
    await chmod(path.join(dataDirectory, EMBEDDED_KEY_FILE_NAME), 0o644);

    const { logs } = await start();

    expect(logs.text()).toContain('is readable by other users; run chmod 600 on it');
  });

  it('rejects a damaged key file without quoting it', async () => {
    const damaged = `local-1:${randomBytes(20).toString('base64')}`;
    await writeFile(path.join(dataDirectory, EMBEDDED_KEY_FILE_NAME), damaged, { mode: 0o600 });

    const error = await start().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidKeyFileError);
    expect((error as InvalidKeyFileError).message).toContain('Restore the file from a backup');
    expect((error as InvalidKeyFileError).message).not.toContain(damaged.slice(8));
  });

  it('rejects PostgreSQL without a key backend', async () => {
    const error = await start(noBackend, false).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(KeyBackendNotConfiguredError);
    expect(await readdir(dataDirectory)).toEqual([]);
  });
});

describe('createKeyBackend from settings', () => {
  let kms: FakeKmsServer;

  beforeAll(async () => {
    kms = await FakeKmsServer.start({ keys: [{ aliases: ['alias/keyroute'] }] });
  });

  afterAll(async () => {
    await kms.close();
  });

  it('builds a keyring with the current key', async () => {
    const keys = [randomBytes(32), randomBytes(32)].map((key) => key.toString('base64'));
    const config = configOf({ KEYRING_KEYS: `old:${keys[0]},new:${keys[1]}`, KEYRING_CURRENT_KEY_ID: 'new' });

    const { backend, logs } = await start(config, false);

    expect(backend.kind).toBe('keyring');
    expect(backend.currentKeyId).toBe('new');
    expect(logs.text()).toContain('Encrypting secrets with keyring key new; decrypt-only keys: old');
    expect(logs.text()).not.toContain(keys[0]);
    expect(logs.text()).not.toContain(keys[1]);
  });

  it('builds a KMS backend for the endpoint', async () => {
    const config = configOf({ KMS_KEY_ID: 'alias/keyroute', KMS_REGION: 'us-east-1', KMS_ENDPOINT: kms.endpoint });
    const logs = captureLogs();
    const backend = await createKeyBackend(config, {
      dataDirectory,
      embedded: false,
      logger: logs.logger,
      kmsClient: { credentials: FAKE_KMS_CREDENTIALS },
    });
    backends.push(backend);

    const envelope = await new SecretBox(backend).encrypt(Buffer.from('via kms'), context);

    expect(backend.kind).toBe('aws-kms');
    expect(decodeEnvelope(envelope).keyId).toBe(kms.keyArn('alias/keyroute'));
  });
});
