import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import { createGatewayKey, createOrganization, createProviderKey, type CreatedProviderKey } from '../proxy/helpers.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';
import { makeEntry, type SeededKeys } from '../request-log/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import {
  GatewayKeyUsage,
  NodeById,
  OrganizationAuditEvents,
  OrganizationRequestLogs,
  OrganizationUsage,
  ProviderKeyListUsage,
  ProviderKeyUsage,
} from './documents.js';
import { issueToken, member, runGraphql, writeEntries } from './helpers.js';

// Two organizations on one server never see each other's usage, request logs or audit events, and
// an id of the other organization is simply not found.

interface Tenant {
  keys: SeededKeys;
  providerKey: CreatedProviderKey;
  token: string;
  requestIds: string[];
  logIds: string[];
}

let database: TestDatabase;
let server: InProcessServer;
let ours: Tenant;
let theirs: Tenant;

const now = Date.now();
const range = { from: new Date(now - 86_400_000).toISOString(), to: new Date(now + 3_600_000).toISOString() };

async function seedTenant(requests: number): Promise<Tenant> {
  const organizationId = await createOrganization(server);
  const gatewayKey = await createGatewayKey(server, organizationId);
  const providerKey = await createProviderKey(server, organizationId, {
    provider: 'ANTHROPIC',
    apiKey: apiKeyFor('ANTHROPIC'),
    assignment: { organization: true },
  });
  const keys = { organizationId, gatewayKeyId: gatewayKey.id, providerKeyId: providerKey.id };
  const entries = Array.from({ length: requests }, (_, index) => makeEntry(keys, { occurredAt: new Date(now - (index + 1) * 60_000) }));
  await writeEntries(server, entries);
  return {
    keys,
    providerKey,
    token: await issueToken(server, organizationId),
    requestIds: entries.map((entry) => entry.requestId),
    logIds: entries.map((entry) => encodeGlobalID('RequestLog', entry.id)),
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServerOver(database.handle);
  ours = await seedTenant(2);
  theirs = await seedTenant(3);
});

afterAll(async () => {
  await server?.stop();
  await database?.destroy();
});

describe('organization isolation', () => {
  it('usage counts only our requests', async () => {
    const response = await runGraphql(server, OrganizationUsage, { ...range, bucket: 'HOUR', timeZone: 'UTC' }, ours.token);

    expect(member(response.data?.viewer.organization.usage, 'Usage').totals.requests).toBe(2);
  });

  it('their provider key is not found', async () => {
    const response = await runGraphql(
      server,
      ProviderKeyUsage,
      { id: theirs.providerKey.globalId, ...range, bucket: 'DAY', timeZone: 'UTC' },
      ours.token,
    );

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it('their gateway key is not found', async () => {
    const id = encodeGlobalID('GatewayKey', theirs.keys.gatewayKeyId);

    const response = await runGraphql(server, GatewayKeyUsage, { id, ...range, bucket: 'DAY', timeZone: 'UTC' }, ours.token);

    expect(response.data?.node).toBeNull();
  });

  it('the provider key list shows only our keys', async () => {
    const response = await runGraphql(server, ProviderKeyListUsage, range, ours.token);

    expect(response.data?.providerKeys.edges.map(({ node }) => node.id)).toEqual([ours.providerKey.globalId]);
  });

  it('request logs list only ours', async () => {
    const response = await runGraphql(server, OrganizationRequestLogs, {}, ours.token);

    expect(response.data?.viewer.organization.requestLogs.edges.map(({ node }) => node.requestId)).toEqual(ours.requestIds);
  });

  it('filtering by their provider key finds nothing', async () => {
    const filter = { providerKey: theirs.providerKey.globalId };

    const response = await runGraphql(server, OrganizationRequestLogs, { filter }, ours.token);

    expect(response.data?.viewer.organization.requestLogs.edges).toEqual([]);
  });

  it('their request log is not found', async () => {
    const response = await runGraphql(server, NodeById, { id: theirs.logIds[0]! }, ours.token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it('audit events list only ours', async () => {
    const ourResponse = await runGraphql(server, OrganizationAuditEvents, { first: 50 }, ours.token);
    const theirResponse = await runGraphql(server, OrganizationAuditEvents, { first: 50 }, theirs.token);

    const ourSubjects = ourResponse.data?.viewer.organization.auditEvents.edges.map(({ node }) => node.subjectId);
    const theirSubjects = theirResponse.data?.viewer.organization.auditEvents.edges.map(({ node }) => node.subjectId);
    expect(ourSubjects).toEqual([ours.providerKey.globalId, encodeGlobalID('GatewayKey', ours.keys.gatewayKeyId)]);
    expect(theirSubjects).toEqual([theirs.providerKey.globalId, encodeGlobalID('GatewayKey', theirs.keys.gatewayKeyId)]);
  });

  it('audit events about their key are not ours', async () => {
    const filter = { subject: theirs.providerKey.globalId };

    const response = await runGraphql(server, OrganizationAuditEvents, { filter }, ours.token);

    expect(response.data?.viewer.organization.auditEvents.edges).toEqual([]);
  });
});
