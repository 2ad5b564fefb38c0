import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateGatewayKeyInput, CreateProviderKeyInput } from '../generated/graphql.js';
import { postgresUrl } from '../support/database.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateGatewayKey } from './documents.js';
import { createGatewayKey, execute } from './helpers.js';
import { ProviderKeyCreate, ProviderKeyDelete, ProviderKeyUpdate } from './provider-keys.documents.js';
import { createProviderKey, decryptStoredCredentials, fakeKeys, gatewayKeyRowId, narrow, providerKeyRowId } from './provider-keys.helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

function newTenant(name = 'Concurrency') {
  return server.createTenant(name, 'write');
}

async function runCreate(token: string, input: CreateProviderKeyInput) {
  const response = await execute(server, ProviderKeyCreate, { input }, token);
  return response.data?.createProviderKey;
}

async function providerKeyIdsOf(organizationId: string): Promise<string[]> {
  const rows = await server.testDatabase.db
    .selectFrom('provider_keys')
    .select('id')
    .where('organization_id', '=', organizationId)
    .execute();
  return rows.map((row) => row.id);
}

async function gatewayKeyCountOf(organizationId: string): Promise<number> {
  const rows = await server.testDatabase.db
    .selectFrom('gateway_keys')
    .select('id')
    .where('organization_id', '=', organizationId)
    .execute();
  return rows.length;
}

function anthropicInput(assignment: CreateProviderKeyInput['assignment'], name = 'anthropic'): CreateProviderKeyInput {
  return { provider: 'ANTHROPIC', name, credentials: { apiKey: fakeKeys.anthropic() }, assignment };
}

describe('one key per slot', () => {
  it('rejects a second organization-wide key with the holder', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, anthropicInput({ organization: true }, 'first'));

    const result = await runCreate(token, anthropicInput({ organization: true }, 'second'));

    const conflict = narrow(result, 'ConflictError');
    expect(conflict.code).toBe('conflict');
    expect(conflict.existingId).toBe(providerKey.id);
    expect(conflict.message).toMatch(/"first" \(see existingId\) is already the organization-wide ANTHROPIC key/);
  });

  it('rejects a second key for one gateway key with the holder', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const { providerKey } = await createProviderKey(server, token, anthropicInput({ gatewayKeys: [gatewayKey.id] }, 'first'));

    const result = await runCreate(token, anthropicInput({ gatewayKeys: [gatewayKey.id] }, 'second'));

    const conflict = narrow(result, 'ConflictError');
    expect(conflict.existingId).toBe(providerKey.id);
    expect(conflict.message).toMatch(/gateway key "app" already has a ANTHROPIC provider key, "first"/);
  });

  it('keeps the slot for a disabled organization-wide key', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, { ...anthropicInput({ organization: true }, 'off'), enabled: false });

    const result = await runCreate(token, anthropicInput({ organization: true }, 'second'));

    expect(narrow(result, 'ConflictError').existingId).toBe(providerKey.id);
  });

  it('keeps the slot for a disabled gateway key assignment', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const { providerKey } = await createProviderKey(server, token, {
      ...anthropicInput({ gatewayKeys: [gatewayKey.id] }, 'off'),
      enabled: false,
    });

    const result = await runCreate(token, anthropicInput({ gatewayKeys: [gatewayKey.id] }, 'second'));

    expect(narrow(result, 'ConflictError').existingId).toBe(providerKey.id);
  });

  it('keeps the slot when the holder is disabled later', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, anthropicInput({ organization: true }, 'first'));
    await execute(server, ProviderKeyUpdate, { input: { id: providerKey.id, enabled: false } }, token);

    const result = await runCreate(token, anthropicInput({ organization: true }, 'second'));

    expect(narrow(result, 'ConflictError').existingId).toBe(providerKey.id);
  });

  it('rejects an update into a held slot', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const holder = await createProviderKey(server, token, anthropicInput({ gatewayKeys: [gatewayKey.id] }, 'holder'));
    const mover = await createProviderKey(server, token, anthropicInput({ organization: true }, 'mover'));

    const response = await execute(server, ProviderKeyUpdate, { input: { id: mover.providerKey.id, assignment: { gatewayKeys: [gatewayKey.id] } } }, token);

    expect(narrow(response.data?.updateProviderKey, 'ConflictError').existingId).toBe(holder.providerKey.id);
  });

  it('allows one key per provider in the same slot', async () => {
    const { token } = await newTenant();
    await createProviderKey(server, token, anthropicInput({ organization: true }));

    const result = await runCreate(token, {
      provider: 'OPENAI',
      name: 'openai',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
    });

    expect(result?.__typename).toBe('ProviderKeyPayload');
  });

  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('creates one of 20 parallel organization-wide keys', async () => {
    const { token, organizationId } = await newTenant();

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => runCreate(token, anthropicInput({ organization: true }, `parallel ${index}`))),
    );

    const created = results.filter((result) => result?.__typename === 'ProviderKeyPayload');
    const conflicts = results.filter((result) => result?.__typename === 'ConflictError');
    const winnerId = narrow(created[0], 'ProviderKeyPayload').providerKey.id;
    expect(created).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
    expect(new Set(conflicts.map((result) => narrow(result, 'ConflictError').existingId))).toEqual(new Set([winnerId]));
    expect(await providerKeyIdsOf(organizationId)).toEqual([providerKeyRowId(winnerId)]);
  });

  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('creates one of 20 parallel keys for a gateway key', async () => {
    const { token, organizationId } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => runCreate(token, anthropicInput({ gatewayKeys: [gatewayKey.id] }, `parallel ${index}`))),
    );

    const created = results.filter((result) => result?.__typename === 'ProviderKeyPayload');
    const conflicts = results.filter((result) => result?.__typename === 'ConflictError');
    const winnerId = narrow(created[0], 'ProviderKeyPayload').providerKey.id;
    expect(created).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
    expect(new Set(conflicts.map((result) => narrow(result, 'ConflictError').existingId))).toEqual(new Set([winnerId]));
    expect(await providerKeyIdsOf(organizationId)).toEqual([providerKeyRowId(winnerId)]);
  });

  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('reports crossed gateway key lists as conflicts', async () => {
    const { token, organizationId } = await newTenant();
    const first = (await createGatewayKey(server, token, { name: 'first' })).gatewayKey;
    const middle = (await createGatewayKey(server, token, { name: 'middle' })).gatewayKey;
    const last = (await createGatewayKey(server, token, { name: 'last' })).gatewayKey;
    const other = (await createGatewayKey(server, token, { name: 'other' })).gatewayKey;
    const blocker = await createProviderKey(server, token, anthropicInput({ gatewayKeys: [other.id] }, 'blocker'));

    // An open transaction locks the middle slot. Writers that inserted rows in list order would
    // each take the first slot of their list and wait there. Once it rolls back, they would wait
    // for each other, which is a deadlock rather than a slot conflict.
    const results = await whileSlotsHeld(organizationId, providerKeyRowId(blocker.providerKey.id), [gatewayKeyRowId(middle.id)], () =>
      Promise.all([
        runCreate(token, anthropicInput({ gatewayKeys: [first.id, middle.id, last.id] }, 'forward')),
        runCreate(token, anthropicInput({ gatewayKeys: [last.id, middle.id, first.id] }, 'backward')),
      ]),
    );

    expect(results.map((result) => result?.__typename ?? 'error').sort()).toEqual(['ConflictError', 'ProviderKeyPayload']);
  });
});

class Rollback extends Error {}

/**
 * Runs `work` while an open transaction locks the assignment slots of `gatewayKeyIds`, and rolls
 * that transaction back once two other sessions wait for its locks.
 */
async function whileSlotsHeld<T>(organizationId: string, providerKeyId: string, gatewayKeyIds: string[], work: () => Promise<T>): Promise<T> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let markHeld!: () => void;
  const held = new Promise<void>((resolve) => (markHeld = resolve));

  const holder = server.testDatabase.db
    .transaction()
    .execute(async (trx) => {
      await trx
        .insertInto('provider_key_assignments')
        .values(gatewayKeyIds.map((id) => ({ organization_id: organizationId, provider: 'ANTHROPIC', provider_key_id: providerKeyId, gateway_key_id: id })))
        .execute();
      markHeld();
      await released;
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });

  await held;
  const result = work();
  await waitForLockWaiters(2);
  release();
  await holder;
  return result;
}

async function waitForLockWaiters(count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await sql<{ waiting: number }>`
      select count(*)::int as waiting from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`.execute(server.testDatabase.db);
    if (rows[0]!.waiting >= count) return;
    if (Date.now() > deadline) throw new Error(`expected ${count} sessions waiting for a lock, found ${rows[0]!.waiting}`);
    await sleep(10);
  }
}

describe('concurrent rotations', () => {
  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('bump the version once per stored secret', async () => {
    const { token, organizationId } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, anthropicInput({ organization: true }));
    const replacements = Array.from({ length: 10 }, () => fakeKeys.anthropic());

    const results = await Promise.all(
      replacements.map(async (apiKey) => {
        const response = await execute(server, ProviderKeyUpdate, { input: { id: providerKey.id, credentials: { apiKey } } }, token);
        return { apiKey, result: response.data?.updateProviderKey };
      }),
    );

    const stored = results.filter(({ result }) => result?.__typename === 'ProviderKeyPayload');
    const versions = stored.map(({ result }) => narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion).sort((a, b) => a - b);
    const others = results.filter(({ result }) => result?.__typename !== 'ProviderKeyPayload');
    const latest = stored.find(({ result }) => narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion === versions.at(-1));
    const row = await server.testDatabase.db.selectFrom('provider_keys').select('credentials_version').where('id', '=', providerKeyRowId(providerKey.id)).executeTakeFirstOrThrow();
    expect(versions).toEqual(Array.from({ length: stored.length }, (_, index) => index + 2));
    expect(row.credentials_version).toBe(1 + stored.length);
    expect(others.every(({ result }) => result?.__typename === 'ConflictError')).toBe(true);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'API_KEY',
      apiKey: latest?.apiKey,
    });
  });
});

describe('createProviderKey idempotency', () => {
  it('returns the first result for a retry', async () => {
    const { token, organizationId } = await newTenant();
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };

    const first = narrow(await runCreate(token, input), 'ProviderKeyPayload');
    const retry = narrow(await runCreate(token, input), 'ProviderKeyPayload');

    expect(retry.providerKey).toEqual(first.providerKey);
    expect(await providerKeyIdsOf(organizationId)).toEqual([providerKeyRowId(first.providerKey.id)]);
  });

  it('rejects the key with another input', async () => {
    const { token, organizationId } = await newTenant();
    const idempotencyKey = randomUUID();
    const first = narrow(await runCreate(token, { ...anthropicInput({ organization: true }), idempotencyKey }), 'ProviderKeyPayload');

    const other = await runCreate(token, {
      provider: 'OPENAI',
      name: 'other',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
      idempotencyKey,
    });

    const conflict = narrow(other, 'ConflictError');
    expect(conflict.message).toMatch(/idempotency key .* was already used with a different request/);
    expect(await providerKeyIdsOf(organizationId)).toEqual([providerKeyRowId(first.providerKey.id)]);
  });

  it('rejects the key with only another secret', async () => {
    const { token } = await newTenant();
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };
    await runCreate(token, input);

    const other = await runCreate(token, { ...input, credentials: { apiKey: fakeKeys.anthropic() } });

    expect(other?.__typename).toBe('ConflictError');
  });

  it('ignores the order of input fields', async () => {
    const { token } = await newTenant();
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };
    const reordered = Object.fromEntries(Object.entries(input).reverse()) as typeof input;

    const first = narrow(await runCreate(token, input), 'ProviderKeyPayload');
    const retry = narrow(await runCreate(token, reordered), 'ProviderKeyPayload');

    expect(retry.providerKey.id).toBe(first.providerKey.id);
  });

  it('does not collide across organizations', async () => {
    const first = await newTenant('First');
    const second = await newTenant('Second');
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };

    const fromFirst = narrow(await runCreate(first.token, input), 'ProviderKeyPayload');
    const fromSecond = narrow(await runCreate(second.token, input), 'ProviderKeyPayload');

    expect(fromSecond.providerKey.id).not.toBe(fromFirst.providerKey.id);
    expect(await providerKeyIdsOf(second.organizationId)).toEqual([providerKeyRowId(fromSecond.providerKey.id)]);
  });

  it('reports a retry after the key was deleted as a conflict', async () => {
    const { token, organizationId } = await newTenant();
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };
    const first = narrow(await runCreate(token, input), 'ProviderKeyPayload');
    await execute(server, ProviderKeyDelete, { id: first.providerKey.id }, token);

    const retry = await runCreate(token, input);

    expect(narrow(retry, 'ConflictError').message).toMatch(/was deleted since/);
    expect(await providerKeyIdsOf(organizationId)).toEqual([]);
  });

  it('claims an expired key afresh', async () => {
    const { token, organizationId } = await newTenant();
    const idempotencyKey = randomUUID();
    const first = narrow(await runCreate(token, { ...anthropicInput({ organization: true }), idempotencyKey }), 'ProviderKeyPayload');
    await server.testDatabase.db
      .updateTable('idempotency_keys')
      .set({ expires_at: new Date(Date.now() - 1_000) })
      .where('organization_id', '=', organizationId)
      .execute();

    const later = await runCreate(token, {
      provider: 'OPENAI',
      name: 'later',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
      idempotencyKey,
    });

    expect(narrow(later, 'ProviderKeyPayload').providerKey.id).not.toBe(first.providerKey.id);
  });

  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('creates one key for 10 concurrent retries', async () => {
    const { token, organizationId } = await newTenant();
    const input = { ...anthropicInput({ organization: true }), idempotencyKey: randomUUID() };

    const results = await Promise.all(Array.from({ length: 10 }, () => runCreate(token, input)));

    const ids = results.map((result) => narrow(result, 'ProviderKeyPayload').providerKey.id);
    expect(new Set(ids).size).toBe(1);
    expect(await providerKeyIdsOf(organizationId)).toEqual([providerKeyRowId(ids[0]!)]);
  });
});

describe('createGatewayKey idempotency', () => {
  async function runGatewayKeyCreate(token: string, input: CreateGatewayKeyInput) {
    const response = await execute(server, CreateGatewayKey, { input }, token);
    return response.data?.createGatewayKey;
  }

  it('returns the first key and secret for a retry', async () => {
    const { token, organizationId } = await newTenant();
    const input = { name: 'retried', modelAllowList: ['openai/*'], idempotencyKey: randomUUID() };

    const first = narrow(await runGatewayKeyCreate(token, input), 'GatewayKeyWithSecret');
    const retry = narrow(await runGatewayKeyCreate(token, input), 'GatewayKeyWithSecret');

    expect(retry.gatewayKey).toEqual(first.gatewayKey);
    expect(retry.secret).toBe(first.secret);
    expect(await gatewayKeyCountOf(organizationId)).toBe(1);
  });

  it('rejects the key with another input', async () => {
    const { token, organizationId } = await newTenant();
    const idempotencyKey = randomUUID();
    await runGatewayKeyCreate(token, { name: 'first', idempotencyKey });

    const other = await runGatewayKeyCreate(token, { name: 'second', idempotencyKey });

    expect(narrow(other, 'ConflictError').message).toMatch(/already used with a different request/);
    expect(await gatewayKeyCountOf(organizationId)).toBe(1);
  });

  it('does not collide across organizations', async () => {
    const first = await newTenant('First');
    const second = await newTenant('Second');
    const input = { name: 'same', idempotencyKey: randomUUID() };

    const fromFirst = narrow(await runGatewayKeyCreate(first.token, input), 'GatewayKeyWithSecret');
    const fromSecond = narrow(await runGatewayKeyCreate(second.token, input), 'GatewayKeyWithSecret');

    expect(fromSecond.gatewayKey.id).not.toBe(fromFirst.gatewayKey.id);
    expect(fromSecond.secret).not.toBe(fromFirst.secret);
  });

  it('keeps the secret encrypted for retries', async () => {
    const { token, organizationId } = await newTenant();
    const first = narrow(await runGatewayKeyCreate(token, { name: 'stored', idempotencyKey: randomUUID() }), 'GatewayKeyWithSecret');

    const row = await server.testDatabase.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .executeTakeFirstOrThrow();

    expect(row.result_envelope).not.toBeNull();
    expect(row.result_envelope!.toString('utf8')).not.toContain(first.secret);
    expect(row.result_envelope!.toString('hex')).not.toContain(Buffer.from(first.secret).toString('hex'));
  });

  // Concurrency needs real PostgreSQL: PGlite is one session, so its transactions never overlap.
  it.skipIf(!postgresUrl)('creates one key for 10 concurrent retries', async () => {
    const { token, organizationId } = await newTenant();
    const input = { name: 'concurrent', idempotencyKey: randomUUID() };

    const results = await Promise.all(Array.from({ length: 10 }, () => runGatewayKeyCreate(token, input)));

    const payloads = results.map((result) => narrow(result, 'GatewayKeyWithSecret'));
    expect(new Set(payloads.map((payload) => payload.gatewayKey.id)).size).toBe(1);
    expect(new Set(payloads.map((payload) => payload.secret)).size).toBe(1);
    expect(await gatewayKeyCountOf(organizationId)).toBe(1);
  });
});
