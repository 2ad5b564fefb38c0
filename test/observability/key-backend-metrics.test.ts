import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { KmsKeyBackend, createKmsClient } from '../../src/crypto/kms-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { KeyBackendMetrics } from '../../src/observability/key-backend-metrics.js';
import { FAKE_KMS_CREDENTIALS, FAKE_KMS_REGION, FakeKmsServer } from '../support/fake-kms-server.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

// The key backend metrics around the real AWS KMS backend, against the fake KMS on 127.0.0.1 with
// injected faults.

const context: EncryptionContext = {
  organizationId: '5f0c2a1e-8d7b-4c3a-9e21-0b6f4d3c2a10',
  recordId: 'c3a1f0e2-7b6d-4e5c-8a9b-1d2e3f4a5b6c',
  purpose: 'provider-key-credentials',
};
const secret = Buffer.from('{"apiKey":"sk-test-metrics"}', 'utf8');

let server: FakeKmsServer;
let backend: KmsKeyBackend;
let registry: Registry;
let secretBox: SecretBox;

beforeAll(async () => {
  server = await FakeKmsServer.start({ keys: [{ aliases: ['alias/keyroute-metrics'] }] });
});

afterEach(() => {
  server.clearFaults();
  backend.close();
});

afterAll(async () => {
  await server?.close();
});

function instrumentedSecretBox(): void {
  // One attempt per call, so that an injected fault fails the call instead of being retried.
  const client = createKmsClient({ region: FAKE_KMS_REGION, endpoint: server.endpoint, timeoutMs: 1_000, maxAttempts: 1, credentials: FAKE_KMS_CREDENTIALS });
  backend = new KmsKeyBackend(client, 'alias/keyroute-metrics');
  registry = new Registry();
  secretBox = new SecretBox(new KeyBackendMetrics(registry).instrument(backend));
}

async function read(name: string, labels: Record<string, string>): Promise<number | undefined> {
  return sampleValue(parsePrometheusText(await registry.metrics()), name, labels);
}

describe('key backend metrics', () => {
  it('counts a GenerateDataKey call', async () => {
    instrumentedSecretBox();

    await secretBox.encrypt(secret, context);

    expect(await read('keyroute_key_backend_calls_total', { backend: 'aws-kms', operation: 'generate_data_key' })).toBe(1);
  });

  it('counts no failure for a success', async () => {
    instrumentedSecretBox();

    await secretBox.encrypt(secret, context);

    expect(await read('keyroute_key_backend_failures_total', { backend: 'aws-kms', operation: 'generate_data_key' })).toBeUndefined();
  });

  it('times each call', async () => {
    instrumentedSecretBox();

    const envelope = await secretBox.encrypt(secret, context);
    await secretBox.decrypt(envelope, context);

    expect(await read('keyroute_key_backend_call_duration_seconds_count', { backend: 'aws-kms', operation: 'unwrap_data_key' })).toBe(1);
  });

  it('throttled Decrypt counted by code', async () => {
    instrumentedSecretBox();
    const envelope = await secretBox.encrypt(secret, context);
    server.injectFault('throttling', { operations: ['Decrypt'] });

    await expect(secretBox.decrypt(envelope, context)).rejects.toMatchObject({ code: 'key_backend_throttled' });

    expect(
      await read('keyroute_key_backend_failures_total', { backend: 'aws-kms', operation: 'unwrap_data_key', error: 'key_backend_throttled' }),
    ).toBe(1);
  });

  it('denied Decrypt counted by code', async () => {
    instrumentedSecretBox();
    const envelope = await secretBox.encrypt(secret, context);
    server.injectFault('access-denied', { operations: ['Decrypt'] });

    await expect(secretBox.decrypt(envelope, context)).rejects.toMatchObject({ code: 'key_access_denied' });

    expect(
      await read('keyroute_key_backend_failures_total', { backend: 'aws-kms', operation: 'unwrap_data_key', error: 'key_access_denied' }),
    ).toBe(1);
  });

  it('failed call still counts as a call', async () => {
    instrumentedSecretBox();
    server.injectFault('internal', { operations: ['GenerateDataKey'] });

    await expect(secretBox.encrypt(secret, context)).rejects.toMatchObject({ code: 'key_backend_unavailable' });

    expect(await read('keyroute_key_backend_calls_total', { backend: 'aws-kms', operation: 'generate_data_key' })).toBe(1);
  });
});
