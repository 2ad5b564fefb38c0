import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeyAccessDeniedError, KeyBackendUnavailableError, type CryptoError } from '../../src/crypto/errors.js';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import type { GeneratedDataKey, KeyBackend, WrappedDataKey } from '../../src/crypto/key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { GatewayKeyService } from '../../src/features/gateway-keys/gateway-key.service.js';
import { ProviderKeyService } from '../../src/features/provider-keys/provider-key.service.js';
import type { CreateProviderKeyInput } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateGatewayKey } from './documents.js';
import { execute } from './helpers.js';
import { ProviderKeyCreate, ProviderKeyGatewayKeyResolution, ProviderKeyList, ProviderKeyNode, ProviderKeyUpdate } from './provider-keys.documents.js';
import {
  createProviderKey,
  fakeAccessKeyId,
  fakeKeys,
  fakeSecretAccessKey,
  findProviderKeyRow,
  narrow,
  providerKeyRowId,
} from './provider-keys.helpers.js';

/** The server's own key backend, failing every operation with `failure()` while it is set. */
class SwitchableKeyBackend implements KeyBackend {
  failure: (() => CryptoError) | undefined;

  constructor(private readonly inner: KeyBackend) {}

  get kind() {
    return this.inner.kind;
  }

  get currentKeyId() {
    return this.inner.currentKeyId;
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.#throwIfFailing();
    return this.inner.generateDataKey(context);
  }

  async unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer> {
    this.#throwIfFailing();
    return this.inner.unwrapDataKey(dataKey, context);
  }

  async rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<WrappedDataKey> {
    this.#throwIfFailing();
    return this.inner.rewrapDataKey(dataKey, context);
  }

  isCurrentKey(keyId: string): boolean {
    return this.inner.isCurrentKey(keyId);
  }

  close(): void {
    this.inner.close();
  }

  #throwIfFailing(): void {
    if (this.failure) throw this.failure();
  }
}

let server: TestServer;
let backend: SwitchableKeyBackend;

const unreachable = () => new KeyBackendUnavailableError({ keyId: backend.currentKeyId, reason: 'connection refused' });
const denied = () => new KeyAccessDeniedError({ keyId: backend.currentKeyId });

beforeAll(async () => {
  server = await startTestServer();
  // The services get a SecretBox over the server's own backend, behind a switch that makes it fail.
  backend = new SwitchableKeyBackend(server.app.services.providerKeys['secretBox'].backend);
  const secretBox = new SecretBox(backend);
  server.app.services.providerKeys = new ProviderKeyService(server.database.db, secretBox);
  server.app.services.gatewayKeys = new GatewayKeyService(server.database.db, secretBox);
});

afterEach(() => {
  backend.failure = undefined;
});

afterAll(async () => {
  await server?.close();
});

/** Creates an organization for one test, so organization-wide slots never collide between tests. */
function newTenant() {
  return server.createTenant('Encryption outage', 'write');
}

async function rowCounts() {
  const db = server.testDatabase.db;
  const count = async (table: 'provider_keys' | 'provider_key_assignments' | 'audit_events' | 'idempotency_keys' | 'gateway_keys') => {
    const rows = await db.selectFrom(table).select(db.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
    return Number(rows.count);
  };
  return {
    providerKeys: await count('provider_keys'),
    assignments: await count('provider_key_assignments'),
    auditEvents: await count('audit_events'),
    idempotencyKeys: await count('idempotency_keys'),
    gatewayKeys: await count('gateway_keys'),
  };
}

async function storedState(id: string) {
  const row = await findProviderKeyRow(server.testDatabase.db, providerKeyRowId(id));
  return { name: row.name, envelope: row.credentials_envelope.toString('hex'), version: row.credentials_version, masked: row.masked_credentials };
}

const keyOf = { MISTRAL: fakeKeys.mistral, DEEPSEEK: fakeKeys.deepseek, XAI: fakeKeys.xai };

function newKeyInput(provider: keyof typeof keyOf = 'MISTRAL'): CreateProviderKeyInput {
  return { provider, name: `${provider} ${randomUUID()}`, credentials: { apiKey: keyOf[provider]() }, assignment: { organization: true } };
}

describe('with the key backend unreachable', () => {
  it('rejects a create as retryable', async () => {
    const { token } = await newTenant();
    backend.failure = unreachable;

    const response = await execute(server, ProviderKeyCreate, { input: { ...newKeyInput('XAI'), idempotencyKey: randomUUID() } }, token);

    const error = narrow(response.data?.createProviderKey, 'EncryptionUnavailableError');
    expect(error.code).toBe('encryption_unavailable');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/key backend could not be reached/);
  });

  it('writes nothing for a failed create', async () => {
    const { token } = await newTenant();
    const before = await rowCounts();
    backend.failure = unreachable;

    await execute(server, ProviderKeyCreate, { input: { ...newKeyInput('XAI'), idempotencyKey: randomUUID() } }, token);

    expect(await rowCounts()).toEqual(before);
  });

  it('leaves the idempotency key free for a retry', async () => {
    const { token } = await newTenant();
    const input = { ...newKeyInput('XAI'), idempotencyKey: randomUUID() };
    backend.failure = unreachable;
    await execute(server, ProviderKeyCreate, { input }, token);
    backend.failure = undefined;

    const retry = await execute(server, ProviderKeyCreate, { input }, token);

    expect(retry.data?.createProviderKey.__typename).toBe('ProviderKeyPayload');
  });

  it('rejects a new API key and keeps the stored one', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, newKeyInput('DEEPSEEK'));
    const before = await storedState(providerKey.id);
    backend.failure = unreachable;

    const response = await execute(
      server,
      ProviderKeyUpdate,
      { input: { id: providerKey.id, name: 'renamed', credentials: { apiKey: fakeKeys.deepseek() } } },
      token,
    );

    expect(response.data?.updateProviderKey.__typename).toBe('EncryptionUnavailableError');
    expect(await storedState(providerKey.id)).toEqual(before);
  });

  it('rejects a Bedrock row update that needs the stored secret', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'bedrock',
      credentials: {
        bedrockRegions: [
          { region: 'us-east-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
          { region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
        ],
      },
      assignment: { organization: true },
    });
    const before = await storedState(providerKey.id);
    backend.failure = unreachable;

    const response = await execute(
      server,
      ProviderKeyUpdate,
      { input: { id: providerKey.id, credentials: { bedrockRegions: [{ region: 'us-east-1' }] } } },
      token,
    );

    expect(response.data?.updateProviderKey.__typename).toBe('EncryptionUnavailableError');
    expect(await storedState(providerKey.id)).toEqual(before);
  });

  it('writes no audit event for a failed update', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, newKeyInput('DEEPSEEK'));
    const before = await rowCounts();
    backend.failure = unreachable;

    await execute(server, ProviderKeyUpdate, { input: { id: providerKey.id, credentials: { apiKey: fakeKeys.deepseek() } } }, token);

    expect((await rowCounts()).auditEvents).toBe(before.auditEvents);
  });

  it('still lists masked keys', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, newKeyInput('DEEPSEEK'));
    backend.failure = unreachable;

    const list = await execute(server, ProviderKeyList, { first: 100 }, token);

    const listed = list.data?.providerKeys.edges.find((edge) => edge.node.id === providerKey.id)?.node;
    expect(list.errors).toBeUndefined();
    expect(listed?.credentials).toEqual(providerKey.credentials);
  });

  it('still reads a key by id', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, newKeyInput('DEEPSEEK'));
    backend.failure = unreachable;

    const node = await execute(server, ProviderKeyNode, { id: providerKey.id }, token);

    expect(narrow(node.data?.node, 'ProviderKey').credentials).toEqual(providerKey.credentials);
  });

  it('still shows credential resolution', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = narrow((await execute(server, CreateGatewayKey, { input: { name: 'app' } }, token)).data?.createGatewayKey, 'GatewayKeyWithSecret');
    backend.failure = unreachable;

    const response = await execute(server, ProviderKeyGatewayKeyResolution, { id: gatewayKey.id }, token);

    expect(narrow(response.data?.node, 'GatewayKey').credentialResolution).toHaveLength(8);
  });

  it('rejects an idempotent gateway key create', async () => {
    const { token } = await newTenant();
    const before = await rowCounts();
    backend.failure = unreachable;

    const response = await execute(server, CreateGatewayKey, { input: { name: 'retried', idempotencyKey: randomUUID() } }, token);

    expect(narrow(response.data?.createGatewayKey, 'EncryptionUnavailableError').code).toBe('encryption_unavailable');
    expect(await rowCounts()).toEqual(before);
  });
});

describe('with access to the key denied', () => {
  it('rejects a create as not retryable', async () => {
    const { token } = await newTenant();
    backend.failure = denied;

    const response = await execute(server, ProviderKeyCreate, { input: newKeyInput('MISTRAL') }, token);

    const error = narrow(response.data?.createProviderKey, 'EncryptionUnavailableError');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/was denied/);
  });
});

describe('after the key backend recovers', () => {
  it('creates keys again', async () => {
    const { token } = await newTenant();
    backend.failure = unreachable;
    await execute(server, ProviderKeyCreate, { input: newKeyInput('MISTRAL') }, token);
    backend.failure = undefined;

    const response = await execute(server, ProviderKeyCreate, { input: newKeyInput('MISTRAL') }, token);

    expect(response.data?.createProviderKey.__typename).toBe('ProviderKeyPayload');
  });
});
