import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdFor } from '../../src/graphql/global-id.js';
import type { SharedGatewayKeysPageQueryVariables } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DeleteGatewayKey, GatewayKeysPage, NodeById, RegenerateGatewayKeySecret, UpdateGatewayKey } from './documents.js';
import { countRows, createGatewayKey, execute, expectMember, findGatewayKeyRow, sha256 } from './helpers.js';

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.createTenant('Gateway keys', 'write'));
});

afterAll(async () => {
  await server?.close();
});

function rowId(globalId: string): string {
  return decodeIdFor('GatewayKey', globalId, ['id']);
}

function inOneYear(): string {
  return new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
}

describe('createGatewayKey', () => {
  it('returns a secret with the kr_ prefix', async () => {
    const { secret } = await createGatewayKey(server, token, { name: 'prefix' });

    expect(secret.startsWith('kr_')).toBe(true);
  });

  it('returns at least 256 bits of randomness', async () => {
    const { secret } = await createGatewayKey(server, token, { name: 'entropy' });

    // 43 base64url characters carry 258 bits.
    expect(secret.slice('kr_'.length)).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  });

  it('returns a different secret each time', async () => {
    const first = await createGatewayKey(server, token, { name: 'first' });
    const second = await createGatewayKey(server, token, { name: 'second' });

    expect(first.secret).not.toBe(second.secret);
  });

  it('stores the SHA-256 of the secret', async () => {
    const { secret, gatewayKey } = await createGatewayKey(server, token, { name: 'hashed' });

    const row = await findGatewayKeyRow(server.testDatabase.db, rowId(gatewayKey.id));
    expect(row?.secret_hash.equals(sha256(secret))).toBe(true);
  });

  it('shows the start of the secret as display prefix', async () => {
    const { secret, gatewayKey } = await createGatewayKey(server, token, { name: 'display' });

    expect(gatewayKey.displayPrefix).toBe(secret.slice(0, 'kr_'.length + 6));
  });

  it('applies defaults for omitted fields', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'defaults' });

    expect(gatewayKey.active).toBe(true);
    expect(gatewayKey.expiresAt).toBeNull();
    expect(gatewayKey.modelAllowList).toBeNull();
    expect(gatewayKey.lastUsedAt).toBeNull();
  });

  it('trims the name', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: '  padded name  ' });

    expect(gatewayKey.name).toBe('padded name');
  });

  it('accepts a name of 100 characters', async () => {
    const name = 'n'.repeat(100);

    const { gatewayKey } = await createGatewayKey(server, token, { name });

    expect(gatewayKey.name).toBe(name);
  });

  it('stores the given fields', async () => {
    const expiresAt = inOneYear();

    const { gatewayKey } = await createGatewayKey(server, token, {
      name: 'full',
      active: false,
      expiresAt,
      modelAllowList: ['openai/gpt-4o', 'anthropic/*'],
    });

    expect(gatewayKey.active).toBe(false);
    expect(gatewayKey.expiresAt).toBe(expiresAt);
    expect(gatewayKey.modelAllowList).toEqual(['openai/gpt-4o', 'anthropic/*']);
  });

  it('converts an expiry with an offset to UTC', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'offset', expiresAt: '2099-01-31T14:30:00+02:00' });

    expect(gatewayKey.expiresAt).toBe('2099-01-31T12:30:00.000Z');
  });

  it('writes one row', async () => {
    const before = await countRows(server.testDatabase.db, 'gateway_keys');

    await createGatewayKey(server, token, { name: 'counted' });

    expect(await countRows(server.testDatabase.db, 'gateway_keys')).toBe(before + 1);
  });
});

describe('model allow-list', () => {
  it('canonicalizes the google prefix to vertex', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'google', modelAllowList: ['google/gemini-2.5-pro'] });

    expect(gatewayKey.modelAllowList).toEqual(['vertex/gemini-2.5-pro']);
  });

  it('accepts provider wildcards', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'wildcard', modelAllowList: ['openai/*', 'bedrock/*'] });

    expect(gatewayKey.modelAllowList).toEqual(['openai/*', 'bedrock/*']);
  });

  it('keeps slashes inside model ids', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, {
      name: 'nested',
      modelAllowList: ['vertex/publishers/google/models/gemini-2.5-pro'],
    });

    expect(gatewayKey.modelAllowList).toEqual(['vertex/publishers/google/models/gemini-2.5-pro']);
  });

  it('drops entries that are equal once canonical', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, {
      name: 'duplicates',
      modelAllowList: ['google/gemini-2.5-pro', 'vertex/gemini-2.5-pro', 'openai/*', 'openai/*'],
    });

    expect(gatewayKey.modelAllowList).toEqual(['vertex/gemini-2.5-pro', 'openai/*']);
  });

  it('stores the canonical entries', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'stored', modelAllowList: ['google/x'] });

    const row = await findGatewayKeyRow(server.testDatabase.db, rowId(gatewayKey.id));
    expect(row?.model_allow_list).toEqual(['vertex/x']);
  });
});

describe('updateGatewayKey', () => {
  async function createFullKey() {
    const expiresAt = inOneYear();
    const { gatewayKey } = await createGatewayKey(server, token, {
      name: 'before update',
      active: true,
      expiresAt,
      modelAllowList: ['openai/gpt-4o'],
    });
    return { id: gatewayKey.id, expiresAt };
  }

  it('changes the name', async () => {
    const { id } = await createFullKey();

    const response = await execute(server, UpdateGatewayKey, { input: { id, name: ' renamed ' } }, token);

    const payload = expectMember(response.data?.updateGatewayKey, 'GatewayKey');
    expect(payload.name).toBe('renamed');
    expect((await findGatewayKeyRow(server.testDatabase.db, rowId(id)))?.name).toBe('renamed');
  });

  it('changes active, expiry and allow-list', async () => {
    const { id } = await createFullKey();
    const expiresAt = '2099-06-30T00:00:00.000Z';

    const response = await execute(
      server,
      UpdateGatewayKey,
      { input: { id, active: false, expiresAt, modelAllowList: ['google/x', 'mistral/*'] } },
      token,
    );

    const payload = response.data?.updateGatewayKey;
    if (payload?.__typename !== 'GatewayKey') throw new Error(response.raw);
    expect(payload.active).toBe(false);
    expect(payload.expiresAt).toBe(expiresAt);
    expect(payload.modelAllowList).toEqual(['vertex/x', 'mistral/*']);
  });

  it('keeps omitted fields', async () => {
    const { id, expiresAt } = await createFullKey();

    const response = await execute(server, UpdateGatewayKey, { input: { id, active: false } }, token);

    const payload = response.data?.updateGatewayKey;
    if (payload?.__typename !== 'GatewayKey') throw new Error(response.raw);
    expect(payload.name).toBe('before update');
    expect(payload.expiresAt).toBe(expiresAt);
    expect(payload.modelAllowList).toEqual(['openai/gpt-4o']);
  });

  it('clears expiry and allow-list given null', async () => {
    const { id } = await createFullKey();

    const response = await execute(server, UpdateGatewayKey, { input: { id, expiresAt: null, modelAllowList: null } }, token);

    const payload = response.data?.updateGatewayKey;
    if (payload?.__typename !== 'GatewayKey') throw new Error(response.raw);
    expect(payload.expiresAt).toBeNull();
    expect(payload.modelAllowList).toBeNull();
    const row = await findGatewayKeyRow(server.testDatabase.db, rowId(id));
    expect(row?.expires_at).toBeNull();
    expect(row?.model_allow_list).toBeNull();
  });

  it('rejects a null name', async () => {
    const { id } = await createFullKey();

    const response = await execute(server, UpdateGatewayKey, { input: { id, name: null } }, token);

    const payload = expectMember(response.data?.updateGatewayKey, 'ValidationError');
    expect(payload.fieldErrors.map((error) => error.path)).toEqual([['input', 'name']]);
    expect((await findGatewayKeyRow(server.testDatabase.db, rowId(id)))?.name).toBe('before update');
  });

  it('rejects a null active flag', async () => {
    const { id } = await createFullKey();

    const response = await execute(server, UpdateGatewayKey, { input: { id, active: null } }, token);

    const payload = response.data?.updateGatewayKey;
    expect(payload?.__typename).toBe('ValidationError');
    expect((await findGatewayKeyRow(server.testDatabase.db, rowId(id)))?.active).toBe(true);
  });

  it('moves updatedAt forward', async () => {
    const { id } = await createFullKey();
    const before = await findGatewayKeyRow(server.testDatabase.db, rowId(id));

    await execute(server, UpdateGatewayKey, { input: { id, name: 'touched' } }, token);

    const after = await findGatewayKeyRow(server.testDatabase.db, rowId(id));
    expect(after!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
  });

  it('keeps the secret', async () => {
    const { id } = await createFullKey();
    const before = await findGatewayKeyRow(server.testDatabase.db, rowId(id));

    await execute(server, UpdateGatewayKey, { input: { id, name: 'same secret' } }, token);

    const after = await findGatewayKeyRow(server.testDatabase.db, rowId(id));
    expect(after?.secret_hash.equals(before!.secret_hash)).toBe(true);
  });
});

describe('regenerateGatewayKeySecret', () => {
  it('returns a new secret', async () => {
    const created = await createGatewayKey(server, token, { name: 'regenerate' });

    const response = await execute(server, RegenerateGatewayKeySecret, { id: created.gatewayKey.id }, token);

    const payload = response.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
    expect(payload.secret).toMatch(/^kr_[A-Za-z0-9_-]{43,}$/);
    expect(payload.secret).not.toBe(created.secret);
  });

  it('replaces the stored hash', async () => {
    const created = await createGatewayKey(server, token, { name: 'rehash' });
    const db = server.testDatabase.db;

    const response = await execute(server, RegenerateGatewayKeySecret, { id: created.gatewayKey.id }, token);

    const payload = response.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
    const row = await findGatewayKeyRow(db, rowId(created.gatewayKey.id));
    expect(row?.secret_hash.equals(sha256(payload.secret))).toBe(true);
    const oldHashRows = await db.selectFrom('gateway_keys').select('id').where('secret_hash', '=', sha256(created.secret)).execute();
    expect(oldHashRows).toEqual([]);
  });

  it('changes the display prefix', async () => {
    const created = await createGatewayKey(server, token, { name: 'new prefix' });

    const response = await execute(server, RegenerateGatewayKeySecret, { id: created.gatewayKey.id }, token);

    const payload = response.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
    expect(payload.gatewayKey.displayPrefix).not.toBe(created.gatewayKey.displayPrefix);
    expect(payload.gatewayKey.displayPrefix).toBe(payload.secret.slice(0, 'kr_'.length + 6));
  });

  it('keeps the other fields', async () => {
    const created = await createGatewayKey(server, token, { name: 'kept', active: false, modelAllowList: ['xai/*'] });

    const response = await execute(server, RegenerateGatewayKeySecret, { id: created.gatewayKey.id }, token);

    const payload = response.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
    expect(payload.gatewayKey.id).toBe(created.gatewayKey.id);
    expect(payload.gatewayKey.name).toBe('kept');
    expect(payload.gatewayKey.active).toBe(false);
    expect(payload.gatewayKey.modelAllowList).toEqual(['xai/*']);
  });
});

describe('deleteGatewayKey', () => {
  it('returns the deleted id', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'to delete' });

    const response = await execute(server, DeleteGatewayKey, { id: gatewayKey.id }, token);

    const payload = expectMember(response.data?.deleteGatewayKey, 'DeletedGatewayKey');
    expect(payload.deletedId).toBe(gatewayKey.id);
  });

  it('removes the row', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'row gone' });

    await execute(server, DeleteGatewayKey, { id: gatewayKey.id }, token);

    expect(await findGatewayKeyRow(server.testDatabase.db, rowId(gatewayKey.id))).toBeUndefined();
  });

  it('reports a second delete as not found', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'twice' });
    await execute(server, DeleteGatewayKey, { id: gatewayKey.id }, token);

    const response = await execute(server, DeleteGatewayKey, { id: gatewayKey.id }, token);

    const payload = expectMember(response.data?.deleteGatewayKey, 'NotFoundError');
    expect(payload.id).toBe(gatewayKey.id);
  });

  it('makes node return null', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'no node' });
    await execute(server, DeleteGatewayKey, { id: gatewayKey.id }, token);

    const response = await execute(server, NodeById, { id: gatewayKey.id }, token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });
});

describe('node', () => {
  it('returns the gateway key', async () => {
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'by node', modelAllowList: ['openai/*'] });

    const response = await execute(server, NodeById, { id: gatewayKey.id }, token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toEqual({ __typename: 'GatewayKey', ...gatewayKey });
  });
});

describe('gatewayKeys connection', () => {
  // Each test pages through its own organization, so the expected lists are exact.
  async function tenantWithKeys(count: number, createConcurrently: boolean) {
    const tenant = await server.createTenant('Paging', 'write');
    const create = (index: number) => createGatewayKey(server, tenant.token, { name: `key ${index}` });
    if (createConcurrently) {
      await Promise.all(Array.from({ length: count }, (_, index) => create(index)));
    } else {
      for (let index = 0; index < count; index += 1) await create(index);
    }
    return tenant;
  }

  /** Ids of the organization's keys, newest first, ties by id descending, as the API orders them. */
  async function expectedOrder(organizationId: string): Promise<string[]> {
    const rows = await server.testDatabase.db
      .selectFrom('gateway_keys')
      .select('id')
      .where('organization_id', '=', organizationId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map((row) => row.id);
  }

  async function fetchConnection(variables: SharedGatewayKeysPageQueryVariables, tenantToken: string) {
    const response = await execute(server, GatewayKeysPage, variables, tenantToken);
    if (!response.data) throw new Error(response.raw);
    return response.data.gatewayKeys;
  }

  async function pageForward(tenantToken: string, pageSize: number) {
    const ids: string[] = [];
    const pageInfos = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const connection = await fetchConnection({ first: pageSize, after }, tenantToken);
      ids.push(...connection.edges.map((edge) => rowId(edge.node.id)));
      pageInfos.push(connection.pageInfo);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor ?? null;
    }
    return { ids, pageInfos };
  }

  async function pageBackward(tenantToken: string, pageSize: number) {
    const pages: string[][] = [];
    const pageInfos = [];
    let before: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const connection = await fetchConnection({ last: pageSize, before }, tenantToken);
      pages.unshift(connection.edges.map((edge) => rowId(edge.node.id)));
      pageInfos.push(connection.pageInfo);
      if (!connection.pageInfo.hasPreviousPage) break;
      before = connection.pageInfo.startCursor ?? null;
    }
    return { ids: pages.flat(), pageInfos };
  }

  it('lists newest first', async () => {
    const tenant = await tenantWithKeys(3, false);

    const response = await execute(server, GatewayKeysPage, { first: 10 }, tenant.token);

    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.name)).toEqual(['key 2', 'key 1', 'key 0']);
  });

  it('pages forward without duplicates or gaps', async () => {
    const tenant = await tenantWithKeys(23, false);

    const { ids, pageInfos } = await pageForward(tenant.token, 5);

    expect(ids).toEqual(await expectedOrder(tenant.organizationId));
    expect(new Set(ids).size).toBe(23);
    expect(pageInfos).toHaveLength(5);
    expect(pageInfos.at(-1)?.hasNextPage).toBe(false);
  });

  it('pages forward through keys created concurrently', async () => {
    const tenant = await tenantWithKeys(40, true);

    const { ids } = await pageForward(tenant.token, 7);

    expect(ids).toEqual(await expectedOrder(tenant.organizationId));
    expect(new Set(ids).size).toBe(40);
  });

  it('pages keys with equal creation times', async () => {
    const tenant = await tenantWithKeys(12, false);
    // Equal timestamps leave the id as the only order, which the cursor must carry.
    await sql`update gateway_keys set created_at = '2030-01-01T00:00:00.123456Z'
      where organization_id = ${tenant.organizationId}`.execute(server.testDatabase.db);

    const { ids } = await pageForward(tenant.token, 5);

    expect(ids).toEqual(await expectedOrder(tenant.organizationId));
    expect(new Set(ids).size).toBe(12);
  });

  it('pages backward with last and before', async () => {
    const tenant = await tenantWithKeys(17, false);

    const { ids, pageInfos } = await pageBackward(tenant.token, 4);

    expect(ids).toEqual(await expectedOrder(tenant.organizationId));
    expect(pageInfos).toHaveLength(5);
    expect(pageInfos.at(-1)?.hasPreviousPage).toBe(false);
  });

  it('returns the oldest keys for last alone', async () => {
    const tenant = await tenantWithKeys(5, false);

    const response = await execute(server, GatewayKeysPage, { last: 2 }, tenant.token);

    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.name)).toEqual(['key 1', 'key 0']);
    expect(response.data?.gatewayKeys.pageInfo.hasPreviousPage).toBe(true);
  });

  it('reports the next page', async () => {
    const tenant = await tenantWithKeys(3, false);

    const response = await execute(server, GatewayKeysPage, { first: 2 }, tenant.token);

    expect(response.data?.gatewayKeys.pageInfo.hasNextPage).toBe(true);
  });

  it('returns an empty page for an organization without keys', async () => {
    const tenant = await server.createTenant('Empty', 'write');

    const response = await execute(server, GatewayKeysPage, { first: 10 }, tenant.token);

    expect(response.data?.gatewayKeys.edges).toEqual([]);
    expect(response.data?.gatewayKeys.pageInfo.hasNextPage).toBe(false);
  });

  it('drops a deleted key', async () => {
    const tenant = await tenantWithKeys(3, false);
    const [newest] = await expectedOrder(tenant.organizationId);
    const listed = await execute(server, GatewayKeysPage, { first: 10 }, tenant.token);
    const deletedId = listed.data!.gatewayKeys.edges.find((edge) => rowId(edge.node.id) === newest)!.node.id;

    await execute(server, DeleteGatewayKey, { id: deletedId }, tenant.token);

    const response = await execute(server, GatewayKeysPage, { first: 10 }, tenant.token);
    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.id)).not.toContain(deletedId);
    expect(response.data?.gatewayKeys.edges).toHaveLength(2);
  });
});
