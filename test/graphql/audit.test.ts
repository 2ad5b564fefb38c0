import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdFor } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateGatewayKey, DeleteGatewayKey, RegenerateGatewayKeySecret, UpdateGatewayKey } from './documents.js';
import { countRows, execute, findTokenIdBySecret, type GraphqlResponse } from './helpers.js';

let server: TestServer;
let tenant: { organizationId: string; token: string };
let tokenId: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.createTenant('Audited', 'write');
  tokenId = await findTokenIdBySecret(server.testDatabase.db, tenant.token);
});

afterAll(async () => {
  await server?.close();
});

async function auditRowsOf(response: GraphqlResponse<unknown>) {
  return server.testDatabase.db
    .selectFrom('audit_events')
    .selectAll()
    .where('request_id', '=', response.headers.get('x-request-id'))
    .execute();
}

async function createKey(name: string) {
  const response = await execute(server, CreateGatewayKey, { input: { name, modelAllowList: ['google/x'] } }, tenant.token);
  const payload = response.data?.createGatewayKey;
  if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
  return { response, id: payload.gatewayKey.id, rowId: decodeIdFor('GatewayKey', payload.gatewayKey.id, ['id']), secret: payload.secret };
}

describe('each mutation', () => {
  it('createGatewayKey writes one gateway_key.created row', async () => {
    const { response, rowId } = await createKey('audit create');

    const rows = await auditRowsOf(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.action).toBe('gateway_key.created');
    expect(rows[0]?.subject_type).toBe('GatewayKey');
    expect(rows[0]?.subject_id).toBe(rowId);
  });

  it('updateGatewayKey writes one gateway_key.updated row', async () => {
    const { id, rowId } = await createKey('audit update');

    const response = await execute(server, UpdateGatewayKey, { input: { id, name: 'audit renamed' } }, tenant.token);

    const rows = await auditRowsOf(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.action).toBe('gateway_key.updated');
    expect(rows[0]?.subject_id).toBe(rowId);
  });

  it('regenerateGatewayKeySecret writes one gateway_key.secret_regenerated row', async () => {
    const { id, rowId } = await createKey('audit regenerate');

    const response = await execute(server, RegenerateGatewayKeySecret, { id }, tenant.token);

    const rows = await auditRowsOf(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.action).toBe('gateway_key.secret_regenerated');
    expect(rows[0]?.subject_id).toBe(rowId);
  });

  it('deleteGatewayKey writes one gateway_key.deleted row', async () => {
    const { id, rowId } = await createKey('audit delete');

    const response = await execute(server, DeleteGatewayKey, { id }, tenant.token);

    const rows = await auditRowsOf(response);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.action).toBe('gateway_key.deleted');
    expect(rows[0]?.subject_id).toBe(rowId);
  });
});

describe('audit rows', () => {
  it('name the token and its actor label', async () => {
    const { response } = await createKey('audit actor');

    const [row] = await auditRowsOf(response);
    expect(row?.actor_token_id).toBe(tokenId);
    expect(row?.actor_label).toBe('test write');
  });

  it('belong to the organization of the token', async () => {
    const { response } = await createKey('audit organization');

    const [row] = await auditRowsOf(response);
    expect(row?.organization_id).toBe(tenant.organizationId);
  });

  it('record the created fields', async () => {
    const { response } = await createKey('audit fields');

    const [row] = await auditRowsOf(response);
    expect(row?.changes).toEqual({ name: 'audit fields', active: true, expiresAt: null, modelAllowList: ['vertex/x'] });
  });

  it('record what an update changed', async () => {
    const { id } = await createKey('audit before');

    const response = await execute(server, UpdateGatewayKey, { input: { id, name: 'audit after', active: true } }, tenant.token);

    const [row] = await auditRowsOf(response);
    expect(row?.changes).toEqual({ name: { from: 'audit before', to: 'audit after' } });
  });

  it('record the new display prefix of a regenerated secret', async () => {
    const { id } = await createKey('audit prefix');

    const response = await execute(server, RegenerateGatewayKeySecret, { id }, tenant.token);

    const payload = response.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(response.raw);
    const [row] = await auditRowsOf(response);
    expect(row?.changes).toEqual({ displayPrefix: payload.gatewayKey.displayPrefix });
  });

  it('are not written for rejected mutations', async () => {
    const { id } = await createKey('audit rejected');
    const before = await countRows(server.testDatabase.db, 'audit_events');

    await execute(server, CreateGatewayKey, { input: { name: '' } }, tenant.token);
    await execute(server, UpdateGatewayKey, { input: { id, name: null } }, tenant.token);
    await execute(server, RegenerateGatewayKeySecret, { id: '!!!' }, tenant.token);
    await execute(server, DeleteGatewayKey, { id: 'R2F0ZXdheUtleTow' }, tenant.token);

    expect(await countRows(server.testDatabase.db, 'audit_events')).toBe(before);
  });

  it('contain no secret', async () => {
    const created = await createKey('audit secret');
    const regenerated = await execute(server, RegenerateGatewayKeySecret, { id: created.id }, tenant.token);
    const payload = regenerated.data?.regenerateGatewayKeySecret;
    if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(regenerated.raw);
    await execute(server, DeleteGatewayKey, { id: created.id }, tenant.token);

    const rows = await server.testDatabase.db.selectFrom('audit_events').selectAll().execute();
    const text = JSON.stringify(rows);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(payload.secret);
    expect(text).not.toContain(tenant.token);
  });
});
