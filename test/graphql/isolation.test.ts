import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdFor } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DeleteGatewayKey, GatewayKeysPage, NodeById, RegenerateGatewayKeySecret, UpdateGatewayKey } from './documents.js';
import { createGatewayKey, execute, findGatewayKeyRow, missingGatewayKeyId } from './helpers.js';

let server: TestServer;
let owner: { organizationId: string; token: string };
let intruder: { organizationId: string; token: string };
let ownerKeyIds: string[];
let intruderKeyId: string;

beforeAll(async () => {
  server = await startTestServer();
  owner = await server.createTenant('Owner', 'write');
  intruder = await server.createTenant('Intruder', 'write');
  ownerKeyIds = [];
  for (const name of ['owner one', 'owner two']) {
    ownerKeyIds.push((await createGatewayKey(server, owner.token, { name, modelAllowList: ['openai/*'] })).gatewayKey.id);
  }
  intruderKeyId = (await createGatewayKey(server, intruder.token, { name: 'intruder key' })).gatewayKey.id;
});

afterAll(async () => {
  await server?.close();
});

function firstOwnerKey(): string {
  return ownerKeyIds[0]!;
}

/** Reads the owner's rows and audit trail, which nothing the intruder does may change. */
async function ownerState() {
  const db = server.testDatabase.db;
  const rows = await Promise.all(ownerKeyIds.map((id) => findGatewayKeyRow(db, decodeIdFor('GatewayKey', id, ['id']))));
  const audit = await db.selectFrom('audit_events').selectAll().where('organization_id', '=', owner.organizationId).execute();
  return { rows, audit };
}

describe('another organization', () => {
  it('lists only its own keys', async () => {
    const response = await execute(server, GatewayKeysPage, { first: 100 }, intruder.token);

    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.id)).toEqual([intruderKeyId]);
  });

  it('cannot page into the keys of the owner', async () => {
    const ownerPage = await execute(server, GatewayKeysPage, { first: 1 }, owner.token);
    const ownerCursor = ownerPage.data!.gatewayKeys.pageInfo.endCursor!;

    const response = await execute(server, GatewayKeysPage, { first: 100, after: ownerCursor }, intruder.token);

    const ids = response.data?.gatewayKeys.edges.map((edge) => edge.node.id) ?? [];
    expect(ids.filter((id) => ownerKeyIds.includes(id))).toEqual([]);
  });

  it('gets null from node', async () => {
    const response = await execute(server, NodeById, { id: firstOwnerKey() }, intruder.token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it('gets NotFoundError from update', async () => {
    const before = await ownerState();

    const response = await execute(server, UpdateGatewayKey, { input: { id: firstOwnerKey(), name: 'taken over', active: false } }, intruder.token);

    expect(response.data?.updateGatewayKey.__typename).toBe('NotFoundError');
    expect(await ownerState()).toEqual(before);
  });

  it('gets NotFoundError from regenerate', async () => {
    const before = await ownerState();

    const response = await execute(server, RegenerateGatewayKeySecret, { id: firstOwnerKey() }, intruder.token);

    expect(response.data?.regenerateGatewayKeySecret.__typename).toBe('NotFoundError');
    expect(response.raw).not.toMatch(/kr_[A-Za-z0-9_-]{43}/);
    expect(await ownerState()).toEqual(before);
  });

  it('gets NotFoundError from delete', async () => {
    const before = await ownerState();

    const response = await execute(server, DeleteGatewayKey, { id: firstOwnerKey() }, intruder.token);

    expect(response.data?.deleteGatewayKey.__typename).toBe('NotFoundError');
    expect(await ownerState()).toEqual(before);
  });

  it('gets the same answer as for a missing id', async () => {
    const missing = missingGatewayKeyId();

    const foreign = await execute(server, DeleteGatewayKey, { id: firstOwnerKey() }, intruder.token);
    const absent = await execute(server, DeleteGatewayKey, { id: missing }, intruder.token);

    const normalize = (raw: string, id: string) =>
      raw.replaceAll(id, '<id>').replaceAll(decodeIdFor('GatewayKey', id, ['id']), '<uuid>');
    expect(normalize(foreign.raw, firstOwnerKey())).toBe(normalize(absent.raw, missing));
  });

  it('writes no audit row to either organization', async () => {
    const db = server.testDatabase.db;
    const countFor = async (organizationId: string) =>
      (await db.selectFrom('audit_events').select('id').where('organization_id', '=', organizationId).execute()).length;
    const before = { owner: await countFor(owner.organizationId), intruder: await countFor(intruder.organizationId) };

    await execute(server, UpdateGatewayKey, { input: { id: firstOwnerKey(), name: 'x' } }, intruder.token);
    await execute(server, RegenerateGatewayKeySecret, { id: firstOwnerKey() }, intruder.token);
    await execute(server, DeleteGatewayKey, { id: firstOwnerKey() }, intruder.token);

    expect(await countFor(owner.organizationId)).toBe(before.owner);
    expect(await countFor(intruder.organizationId)).toBe(before.intruder);
  });
});

describe('the owner', () => {
  it('still sees every key after the attempts', async () => {
    const response = await execute(server, GatewayKeysPage, { first: 100 }, owner.token);

    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.id)).toEqual([...ownerKeyIds].reverse());
  });

  it('cannot reach the intruder key either', async () => {
    const response = await execute(server, NodeById, { id: intruderKeyId }, owner.token);

    expect(response.data?.node).toBeNull();
  });
});
