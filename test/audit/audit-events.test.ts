import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTestEventsQueryVariables } from '../generated/graphql.js';
import { CreateGatewayKey, DeleteGatewayKey, UpdateGatewayKey, Viewer } from '../graphql/documents.js';
import { execute, expectMember } from '../graphql/helpers.js';
import { ProviderKeyCreate } from '../graphql/provider-keys.documents.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { OrganizationAuditEvents } from '../usage/documents.js';

// The auditEvents connection: what each mutation records, newest first, with filters and paging,
// and without the secrets that the mutations carried.

let server: TestServer;
let token: string;
let tokenId: string;
let gatewayKeyId: string;
let gatewayKeySecret: string;
let providerKeyId: string;
const providerSecret = apiKeyFor('OPENAI');

beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.createTenant('Audited', 'write'));
  const viewer = await execute(server, Viewer, {}, token);
  tokenId = viewer.data!.viewer.token.id;

  const created = await execute(server, CreateGatewayKey, { input: { name: 'audit first' } }, token);
  const payload = expectMember(created.data?.createGatewayKey, 'GatewayKeyWithSecret');
  gatewayKeyId = payload.gatewayKey.id;
  gatewayKeySecret = payload.secret;
  await execute(server, UpdateGatewayKey, { input: { id: gatewayKeyId, name: 'audit renamed' } }, token);

  const providerKey = await execute(
    server,
    ProviderKeyCreate,
    {
      input: {
        provider: 'OPENAI',
        name: 'audited openai',
        credentials: { apiKey: providerSecret },
        assignment: { organization: true },
      },
    },
    token,
  );
  providerKeyId = expectMember(providerKey.data?.createProviderKey, 'ProviderKeyPayload').providerKey.id;

  const doomed = await execute(server, CreateGatewayKey, { input: { name: 'audit doomed' } }, token);
  const doomedId = expectMember(doomed.data?.createGatewayKey, 'GatewayKeyWithSecret').gatewayKey.id;
  await execute(server, DeleteGatewayKey, { id: doomedId }, token);
});

afterAll(async () => {
  await server?.close();
});

async function events(variables: AuditTestEventsQueryVariables = {}) {
  const response = await execute(server, OrganizationAuditEvents, variables, token);
  if (!response.data) throw new Error(response.raw);
  return { connection: response.data.viewer.organization.auditEvents, raw: response.raw };
}

describe('auditEvents', () => {
  it('lists every change newest first', async () => {
    const { connection } = await events();

    expect(connection.edges.map(({ node }) => node.action)).toEqual([
      'gateway_key.deleted',
      'gateway_key.created',
      'provider_key.created',
      'gateway_key.updated',
      'gateway_key.created',
    ]);
  });

  it('names the actor and its token', async () => {
    const { connection } = await events({ first: 1 });
    const [event] = connection.edges;

    expect(event!.node.actorLabel).toBe('test write');
    expect(event!.node.actorTokenId).toBe(tokenId);
  });

  it('names the subject by its global id', async () => {
    const { connection } = await events({ filter: { action: 'gateway_key.updated' } });
    const [event] = connection.edges;

    expect(event!.node.subjectType).toBe('GatewayKey');
    expect(event!.node.subjectId).toBe(gatewayKeyId);
  });

  it('shows the change as JSON', async () => {
    const { connection } = await events({ filter: { action: 'gateway_key.updated' } });

    expect(JSON.parse(connection.edges[0]!.node.changes)).toEqual({ name: { from: 'audit first', to: 'audit renamed' } });
  });

  it('carries the request id of the change', async () => {
    const { connection } = await events({ first: 1 });

    expect(connection.edges[0]!.node.requestId).toMatch(/\S/);
  });

  it('filters by subject', async () => {
    const { connection } = await events({ filter: { subject: gatewayKeyId } });

    expect(connection.edges.map(({ node }) => node.action)).toEqual(['gateway_key.updated', 'gateway_key.created']);
  });

  it('filters by a deleted subject', async () => {
    const { connection } = await events({ filter: { action: 'gateway_key.deleted' } });
    const deletedId = connection.edges[0]!.node.subjectId!;

    const history = await events({ filter: { subject: deletedId } });

    expect(history.connection.edges.map(({ node }) => node.action)).toEqual(['gateway_key.deleted', 'gateway_key.created']);
  });

  it('pages without overlap', async () => {
    const first = await events({ first: 2 });
    const second = await events({ first: 2, after: first.connection.pageInfo.endCursor });
    const third = await events({ first: 2, after: second.connection.pageInfo.endCursor });
    const all = await events();

    const paged = [first, second, third].flatMap(({ connection }) => connection.edges.map(({ node }) => node.id));
    expect(paged).toEqual(all.connection.edges.map(({ node }) => node.id));
    expect(third.connection.pageInfo.hasNextPage).toBe(false);
  });

  it('never shows a secret', async () => {
    const { raw } = await events();

    expect(raw).toContain(providerKeyId);
    expect(raw).not.toContain(providerSecret);
    expect(raw).not.toContain(gatewayKeySecret);
  });

  it('rejects a garbled subject id', async () => {
    const response = await execute(server, OrganizationAuditEvents, { filter: { subject: 'not-an-id' } }, token);

    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
    expect(response.errors?.[0]?.message).toContain('filter.subject');
  });

  it('rejects a garbled cursor', async () => {
    const response = await execute(server, OrganizationAuditEvents, { after: 'bm90IGEgY3Vyc29y' }, token);

    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
  });
});
