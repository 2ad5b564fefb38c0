import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  CreateGatewayKey,
  DeleteGatewayKey,
  GatewayKeysPage,
  NodeById,
  RegenerateGatewayKeySecret,
  UpdateGatewayKey,
  Viewer,
} from './documents.js';
import {
  countRows,
  createGatewayKey,
  execute,
  findGatewayKeyRow,
  findTokenIdBySecret,
  postGraphql,
  unknownManagementToken,
} from './helpers.js';
import { decodeIdFor } from '../../src/graphql/global-id.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

const viewerQuery = { query: '{ viewer { token { actorLabel } } }' };

describe('requests without a usable token', () => {
  const missing = { wwwAuthenticate: 'Bearer realm="keyroute"', message: /^Missing management token/ };
  const malformed = { wwwAuthenticate: 'Bearer realm="keyroute", error="invalid_token"', message: /does not hold a management token/ };
  const unknown = { wwwAuthenticate: 'Bearer realm="keyroute", error="invalid_token"', message: /unknown or revoked/ };
  const cases: { name: string; headers: Record<string, string>; wwwAuthenticate: string; message: RegExp }[] = [
    { name: 'missing header', headers: {}, ...missing },
    { name: 'empty header', headers: { authorization: '' }, ...missing },
    { name: 'basic scheme', headers: { authorization: 'Basic dXNlcjpwYXNz' }, ...malformed },
    { name: 'short token', headers: { authorization: 'Bearer krm_short' }, ...malformed },
    { name: 'foreign prefix', headers: { authorization: `Bearer kr_${'a'.repeat(43)}` }, ...malformed },
    { name: 'bearer only', headers: { authorization: 'Bearer' }, ...malformed },
    { name: 'unknown token', headers: { authorization: `Bearer ${unknownManagementToken()}` }, ...unknown },
  ];

  it.each(cases)('$name gets 401', async ({ headers }) => {
    const response = await postGraphql(server, viewerQuery, headers);

    expect(response.status).toBe(401);
  });

  it.each(cases)('$name gets an UNAUTHENTICATED error', async ({ headers, message }) => {
    const response = await postGraphql(server, viewerQuery, headers);

    expect(response.errors).toHaveLength(1);
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.errors?.[0]?.message).toMatch(message);
    expect(response.data).toBeUndefined();
  });

  it.each(cases)('$name gets a WWW-Authenticate challenge', async ({ headers, wwwAuthenticate }) => {
    const response = await postGraphql(server, viewerQuery, headers);

    expect(response.headers.get('www-authenticate')).toBe(wwwAuthenticate);
  });

  it('accepts the scheme in any case', async () => {
    const { token } = await server.createTenant('Case', 'read');

    const response = await postGraphql(server, viewerQuery, { authorization: `bearer ${token}` });

    expect(response.status).toBe(200);
  });
});

describe('revoked token', () => {
  it('works until it is revoked', async () => {
    const { token } = await server.createTenant('Revoked', 'write');
    const before = await execute(server, Viewer, {}, token);
    expect(before.status).toBe(200);

    await server.app.services.managementTokens.revoke(await findTokenIdBySecret(server.testDatabase.db, token));

    const after = await postGraphql(server, viewerQuery, { authorization: `Bearer ${token}` });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(after.errors?.[0]?.message).toMatch(/unknown or revoked/);
    expect(after.headers.get('www-authenticate')).toBe('Bearer realm="keyroute", error="invalid_token"');
  });

  it('cannot run a mutation', async () => {
    const { token } = await server.createTenant('Revoked writer', 'write');
    await server.app.services.managementTokens.revoke(await findTokenIdBySecret(server.testDatabase.db, token));
    const keysBefore = await countRows(server.testDatabase.db, 'gateway_keys');

    const response = await execute(server, CreateGatewayKey, { input: { name: 'after revoke' } }, token);

    expect(response.status).toBe(401);
    expect(await countRows(server.testDatabase.db, 'gateway_keys')).toBe(keysBefore);
  });
});

describe('GET requests', () => {
  const query = encodeURIComponent('{ __typename viewer { token { actorLabel } } }');

  it('need a token for JSON', async () => {
    const response = await fetch(`${server.baseUrl}/graphql?query=${query}`, { headers: { accept: 'application/json' } });

    expect(response.status).toBe(401);
  });

  it('run a query with a token', async () => {
    const { token } = await server.createTenant('GET', 'read');

    const response = await fetch(`${server.baseUrl}/graphql?query=${query}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query', viewer: { token: { actorLabel: 'test read' } } } });
  });

  it('render GraphiQL without a token outside production', async () => {
    const response = await fetch(`${server.baseUrl}/graphql?query=${query}`, { headers: { accept: 'text/html' } });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });

  describe('in production', () => {
    let production: TestServer;

    beforeAll(async () => {
      production = await startTestServer({ NODE_ENV: 'production' });
    });

    afterAll(async () => {
      await production?.close();
    });

    // Without GraphiQL, Yoga executes the query of a GET request that accepts HTML.
    it.each(['text/html', 'text/html, application/json'])('need a token when accepting %s', async (accept) => {
      const response = await fetch(`${production.baseUrl}/graphql?query=${query}`, { headers: { accept } });

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="keyroute"');
    });
  });
});

describe('read token', () => {
  let readToken: string;
  let writeToken: string;
  let keyId: string;

  beforeAll(async () => {
    const writer = await server.createTenant('Read scope', 'write');
    writeToken = writer.token;
    const { token } = await server.app.services.managementTokens.issue({
      organizationId: writer.organizationId,
      scope: 'read',
      actorLabel: 'reader',
    });
    readToken = token;
    ({
      gatewayKey: { id: keyId },
    } = await createGatewayKey(server, writeToken, { name: 'read only target' }));
  });

  async function snapshot() {
    const db = server.testDatabase.db;
    const row = await findGatewayKeyRow(db, decodeIdFor('GatewayKey', keyId, ['id']));
    return {
      keys: await countRows(db, 'gateway_keys'),
      audit: await countRows(db, 'audit_events'),
      name: row?.name,
      secretHash: row?.secret_hash.toString('hex'),
    };
  }

  const mutations = {
    createGatewayKey: () => execute(server, CreateGatewayKey, { input: { name: 'by reader' } }, readToken),
    updateGatewayKey: () => execute(server, UpdateGatewayKey, { input: { id: keyId, name: 'by reader' } }, readToken),
    regenerateGatewayKeySecret: () => execute(server, RegenerateGatewayKeySecret, { id: keyId }, readToken),
    deleteGatewayKey: () => execute(server, DeleteGatewayKey, { id: keyId }, readToken),
  };

  it.each(Object.keys(mutations) as (keyof typeof mutations)[])('gets ForbiddenError from %s', async (name) => {
    const response = await mutations[name]();

    const payload = (response.data as Record<string, { __typename: string; code?: string; message?: string }>)[name];
    expect(payload?.__typename).toBe('ForbiddenError');
    expect(payload?.code).toBe('forbidden');
    expect(payload?.message).toMatch(/write scope/);
  });

  it.each(Object.keys(mutations) as (keyof typeof mutations)[])('changes nothing with %s', async (name) => {
    const before = await snapshot();

    await mutations[name]();

    expect(await snapshot()).toEqual(before);
  });

  it('lists gateway keys', async () => {
    const response = await execute(server, GatewayKeysPage, { first: 10 }, readToken);

    expect(response.errors).toBeUndefined();
    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.id)).toEqual([keyId]);
  });

  it('reads a key through node', async () => {
    const response = await execute(server, NodeById, { id: keyId }, readToken);

    expect(response.data?.node?.id).toBe(keyId);
  });

  it('reads the viewer', async () => {
    const response = await execute(server, Viewer, {}, readToken);

    expect(response.data?.viewer.token.scope).toBe('READ');
    expect(response.data?.viewer.token.actorLabel).toBe('reader');
    expect(response.data?.viewer.organization.name).toBe('Read scope');
  });
});

describe('token lastUsedAt', () => {
  async function lastUsedAt(token: string) {
    const row = await server.testDatabase.db
      .selectFrom('management_tokens')
      .select('last_used_at')
      .where('id', '=', await findTokenIdBySecret(server.testDatabase.db, token))
      .executeTakeFirstOrThrow();
    return row.last_used_at;
  }

  it('is written after the request, not during it', async () => {
    const { token } = await server.createTenant('Last used', 'read');
    const started = new Date();

    await execute(server, Viewer, {}, token);
    const duringRequests = await lastUsedAt(token);
    await server.app.flushLastUsed();
    const afterFlush = await lastUsedAt(token);

    expect(duringRequests).toBeNull();
    expect(afterFlush).toBeInstanceOf(Date);
    expect(afterFlush!.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1_000);
    expect(afterFlush!.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('moves forward with later use', async () => {
    const { token } = await server.createTenant('Used twice', 'read');
    await execute(server, Viewer, {}, token);
    await server.app.flushLastUsed();
    const first = await lastUsedAt(token);
    await new Promise((resolve) => setTimeout(resolve, 20));

    await execute(server, Viewer, {}, token);
    await server.app.flushLastUsed();

    expect((await lastUsedAt(token))!.getTime()).toBeGreaterThan(first!.getTime());
  });

  it('stays unset for a rejected token', async () => {
    const { token } = await server.createTenant('Revoked before use', 'read');
    await server.app.services.managementTokens.revoke(await findTokenIdBySecret(server.testDatabase.db, token));

    await postGraphql(server, viewerQuery, { authorization: `Bearer ${token}` });
    await server.app.flushLastUsed();

    expect(await lastUsedAt(token)).toBeNull();
  });
});
