import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyDirectoryConfig } from '../../src/config/proxy-directory.config.js';
import { KeyAccessDeniedError, KeyBackendTimeoutError, KeyBackendUnavailableError, KeyDisabledError } from '../../src/crypto/errors.js';
import { ProxyDirectory, type AuthenticatedGatewayKey } from '../../src/proxy/directory/proxy-directory.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { apiKeyFor, CountingSecretBox, countQueries, ManualClock, QueryCounter, Seed, testConfig, usedPart } from './helpers.js';

const credentialMaxAgeMs = 900_000;
const retryIntervalMs = 5_000;

let database: TestDatabase;
let seed: Seed;
let secretBox: CountingSecretBox;
let gatewayKeySecret: string;
const openAiKey = apiKeyFor('OPENAI');

let directory: ProxyDirectory;
let queries: QueryCounter;
let clock: ManualClock;
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  database = await createTestDatabase();
  secretBox = new CountingSecretBox();
  seed = new Seed(database.db, secretBox);
  const organizationId = await seed.organization();
  const gatewayKey = await seed.gatewayKey(organizationId);
  gatewayKeySecret = gatewayKey.secret;
  await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: openAiKey, assignment: { organization: true } });
});

afterAll(async () => {
  await database?.destroy();
});

async function startDirectory(overrides: Partial<ProxyDirectoryConfig> = {}): Promise<void> {
  const counted = countQueries(database.db);
  queries = counted.counter;
  clock = new ManualClock();
  logs = captureLogs();
  directory = new ProxyDirectory({
    db: counted.db,
    pool: database.handle.pool,
    pglite: database.handle.pglite,
    secretBox,
    logger: logs.logger,
    config: testConfig({
      credentialCache: { maxEntries: 100, maxAgeMs: credentialMaxAgeMs, retryIntervalMs },
      ...overrides,
    }),
    now: clock.now,
  });
  await directory.start();
  secretBox.decrypts = 0;
  secretBox.backend.unwrapCalls = 0;
  secretBox.backend.failure = undefined;
  queries.count = 0;
}

async function authenticated(): Promise<AuthenticatedGatewayKey> {
  const gatewayKey = await directory.authenticate(gatewayKeySecret);
  if (!gatewayKey) throw new Error('The seeded gateway key did not authenticate.');
  return gatewayKey;
}

function unknownSecret(): string {
  return `kr_${randomBytes(32).toString('base64url')}`;
}

afterEach(async () => {
  secretBox.backend.failure = undefined;
  await directory?.stop();
});

describe('steady state', () => {
  beforeEach(() => startDirectory());

  it('first request reads and decrypts', async () => {
    await directory.resolve(await authenticated(), 'OPENAI');

    expect(queries.count).toBeGreaterThan(0);
    expect(secretBox.decrypts).toBe(1);
  });

  it('later requests run no query', async () => {
    await directory.resolve(await authenticated(), 'OPENAI');
    queries.count = 0;

    for (let request = 0; request < 20; request += 1) await directory.resolve(await authenticated(), 'OPENAI');

    expect(queries.count).toBe(0);
  });

  it('later requests call no key backend', async () => {
    await directory.resolve(await authenticated(), 'OPENAI');
    secretBox.decrypts = 0;
    secretBox.backend.unwrapCalls = 0;

    for (let request = 0; request < 20; request += 1) await directory.resolve(await authenticated(), 'OPENAI');

    expect(secretBox.decrypts).toBe(0);
    expect(secretBox.backend.unwrapCalls).toBe(0);
  });

  it('other providers reuse the cached candidates', async () => {
    const gatewayKey = await authenticated();
    await directory.resolve(gatewayKey, 'OPENAI');
    queries.count = 0;

    await directory.resolve(gatewayKey, 'MISTRAL');

    expect(queries.count).toBe(0);
  });
});

describe('unknown secrets', () => {
  beforeEach(() => startDirectory({ unknownKeyCache: { maxEntries: 3, maxAgeMs: 10_000 } }));

  it('malformed secret runs no query', async () => {
    await directory.authenticate('sk-not-a-gateway-key');

    expect(queries.count).toBe(0);
  });

  it('unknown secret is looked up once', async () => {
    const secret = unknownSecret();
    await directory.authenticate(secret);
    await directory.authenticate(secret);

    expect(queries.count).toBe(1);
  });

  it('unknown secret is looked up again after its age', async () => {
    const secret = unknownSecret();
    await directory.authenticate(secret);
    clock.advance(10_000);
    await directory.authenticate(secret);

    expect(queries.count).toBe(2);
  });

  it('unknown secrets beyond the bound evict the oldest', async () => {
    const first = unknownSecret();
    await directory.authenticate(first);
    for (let index = 0; index < 3; index += 1) await directory.authenticate(unknownSecret());
    queries.count = 0;

    await directory.authenticate(first);

    expect(queries.count).toBe(1);
  });
});

describe('gateway key cache', () => {
  beforeEach(() => startDirectory({ keyCache: { maxEntries: 100, maxAgeMs: 60_000 } }));

  it('reads the key again after its age', async () => {
    await authenticated();
    clock.advance(60_000);
    queries.count = 0;

    await authenticated();

    expect(queries.count).toBe(1);
  });
});

describe('single flight', () => {
  beforeEach(() => startDirectory());

  it('50 concurrent resolves decrypt once', async () => {
    const gatewayKey = await authenticated();

    const results = await Promise.all(Array.from({ length: 50 }, () => directory.resolve(gatewayKey, 'OPENAI')));

    expect(secretBox.decrypts).toBe(1);
    expect(results.filter((resolved) => resolved.kind === 'use')).toHaveLength(50);
  });

  it('50 concurrent authentications query once', async () => {
    await Promise.all(Array.from({ length: 50 }, () => directory.authenticate(gatewayKeySecret)));

    expect(queries.count).toBe(1);
  });

  it('50 concurrent resolves load candidates once', async () => {
    const gatewayKey = await authenticated();
    queries.count = 0;

    await Promise.all(Array.from({ length: 50 }, () => directory.resolve(gatewayKey, 'OPENAI')));

    // One query for the candidate keys and one for the organization's platform permission.
    expect(queries.count).toBe(2);
  });
});

describe('credential maximum age', () => {
  beforeEach(() => startDirectory());

  it('decrypts again after the maximum age', async () => {
    const gatewayKey = await authenticated();
    await directory.resolve(gatewayKey, 'OPENAI');
    clock.advance(credentialMaxAgeMs);

    await directory.resolve(gatewayKey, 'OPENAI');

    expect(secretBox.decrypts).toBe(2);
  });

  it('does not decrypt before the maximum age', async () => {
    const gatewayKey = await authenticated();
    await directory.resolve(gatewayKey, 'OPENAI');
    clock.advance(credentialMaxAgeMs - 1);

    await directory.resolve(gatewayKey, 'OPENAI');

    expect(secretBox.decrypts).toBe(1);
  });
});

const retryableFailures = [
  ['network failure', () => new KeyBackendUnavailableError({ keyId: 'proxy-directory-test', reason: 'connection refused' })],
  ['timeout', () => new KeyBackendTimeoutError({ keyId: 'proxy-directory-test' })],
] as const;

const finalFailures = [
  ['access denied', 'key_access_denied', () => new KeyAccessDeniedError({ keyId: 'proxy-directory-test' })],
  ['disabled key', 'key_disabled', () => new KeyDisabledError({ keyId: 'proxy-directory-test' })],
] as const;

describe('key backend failures after the maximum age', () => {
  let gatewayKey: AuthenticatedGatewayKey;

  beforeEach(async () => {
    await startDirectory();
    gatewayKey = await authenticated();
    await directory.resolve(gatewayKey, 'OPENAI');
    clock.advance(credentialMaxAgeMs);
    secretBox.decrypts = 0;
  });

  it.each(retryableFailures)('%s serves the stale credentials', async (_name, failure) => {
    secretBox.backend.failure = failure;

    const resolved = await directory.resolve(gatewayKey, 'OPENAI');

    expect(usedPart(resolved).credentials).toEqual({ kind: 'API_KEY', apiKey: openAiKey });
    expect(secretBox.decrypts).toBe(1);
  });

  it.each(retryableFailures)('%s waits a retry interval', async (_name, failure) => {
    secretBox.backend.failure = failure;
    await directory.resolve(gatewayKey, 'OPENAI');

    for (let request = 0; request < 10; request += 1) await directory.resolve(gatewayKey, 'OPENAI');

    expect(secretBox.decrypts).toBe(1);
  });

  it('retries in the background after the interval', async () => {
    secretBox.backend.failure = retryableFailures[0][1];
    await directory.resolve(gatewayKey, 'OPENAI');
    secretBox.backend.failure = undefined;
    clock.advance(retryIntervalMs);

    const stale = await directory.resolve(gatewayKey, 'OPENAI');
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(stale.kind).toBe('use');
    expect(secretBox.decrypts).toBe(2);
  });

  it('fresh again after a successful retry', async () => {
    secretBox.backend.failure = retryableFailures[0][1];
    await directory.resolve(gatewayKey, 'OPENAI');
    secretBox.backend.failure = undefined;
    clock.advance(retryIntervalMs);
    await directory.resolve(gatewayKey, 'OPENAI');
    await new Promise((resolve) => setTimeout(resolve, 50));
    clock.advance(retryIntervalMs);

    await directory.resolve(gatewayKey, 'OPENAI');

    expect(secretBox.decrypts).toBe(2);
  });

  it('stale serving is logged', async () => {
    secretBox.backend.failure = retryableFailures[0][1];
    await directory.resolve(gatewayKey, 'OPENAI');

    expect(logs.text()).toContain('serving the copy decrypted earlier');
  });

  it.each(finalFailures)('%s is unavailable', async (_name, code, failure) => {
    secretBox.backend.failure = failure;

    const resolved = await directory.resolve(gatewayKey, 'OPENAI');

    expect(resolved).toMatchObject({ kind: 'unavailable', code, retryable: false });
  });

  it.each(finalFailures)('%s drops the stale credentials', async (_name, _code, failure) => {
    secretBox.backend.failure = failure;
    await directory.resolve(gatewayKey, 'OPENAI');
    secretBox.backend.failure = retryableFailures[0][1];
    clock.advance(retryIntervalMs);

    const resolved = await directory.resolve(gatewayKey, 'OPENAI');

    expect(resolved).toMatchObject({ kind: 'unavailable', code: 'key_backend_unavailable', retryable: true });
  });

  it.each(finalFailures)('%s is not retried within the interval', async (_name, _code, failure) => {
    secretBox.backend.failure = failure;
    await directory.resolve(gatewayKey, 'OPENAI');

    for (let request = 0; request < 10; request += 1) await directory.resolve(gatewayKey, 'OPENAI');

    expect(secretBox.decrypts).toBe(1);
  });

  it('recovers after access denied is fixed', async () => {
    secretBox.backend.failure = finalFailures[0][2];
    await directory.resolve(gatewayKey, 'OPENAI');
    secretBox.backend.failure = undefined;
    clock.advance(retryIntervalMs);

    expect((await directory.resolve(gatewayKey, 'OPENAI')).kind).toBe('use');
  });
});

describe('key backend failure on the first decrypt', () => {
  beforeEach(() => startDirectory());

  it('network failure is unavailable and retryable', async () => {
    secretBox.backend.failure = retryableFailures[0][1];

    const resolved = await directory.resolve(await authenticated(), 'OPENAI');

    expect(resolved).toMatchObject({ kind: 'unavailable', code: 'key_backend_unavailable', retryable: true });
  });
});
