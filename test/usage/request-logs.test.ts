import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import type { RequestLogFilter, RequestLogTestOrganizationQueryVariables } from '../generated/graphql.js';
import { createGatewayKey, createOrganization, createProviderKey, writeContext, type CreatedProviderKey } from '../proxy/helpers.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';
import { makeEntry, type SeededKeys } from '../request-log/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { GatewayKeyRequestLogs, NodeById, OrganizationRequestLogs, ProviderKeyRequestLogs } from './documents.js';
import { issueToken, member, runGraphql, writeEntries } from './helpers.js';

// The requestLogs connections of Organization, ProviderKey and GatewayKey.

const MINUTE_MS = 60_000;

let database: TestDatabase;
let server: InProcessServer;
let token: string;
let anthropic: SeededKeys;
let openAi: SeededKeys;
let openAiKey: CreatedProviderKey;
let otherGatewayKeyId: string;
/** Every entry of this file, newest first. */
let entries: RequestLogEntry[];

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServerOver(database.handle);
  const organizationId = await createOrganization(server);
  const gatewayKey = await createGatewayKey(server, organizationId, { name: 'backend' });
  const otherGatewayKey = await createGatewayKey(server, organizationId, { name: 'batch' });
  otherGatewayKeyId = otherGatewayKey.id;
  const anthropicKey = await createProviderKey(server, organizationId, {
    provider: 'ANTHROPIC',
    apiKey: apiKeyFor('ANTHROPIC'),
    assignment: { organization: true },
    name: 'anthropic',
  });
  openAiKey = await createProviderKey(server, organizationId, {
    provider: 'OPENAI',
    apiKey: apiKeyFor('OPENAI'),
    assignment: { organization: true },
    name: 'openai',
  });
  anthropic = { organizationId, gatewayKeyId: gatewayKey.id, providerKeyId: anthropicKey.id };
  openAi = { organizationId, gatewayKeyId: otherGatewayKey.id, providerKeyId: openAiKey.id };
  token = await issueToken(server, organizationId);

  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * MINUTE_MS);
  // The fixture tags every entry with `checkout` unless an override sets the tags.
  const untagged = { tags: [] };
  entries = [
    makeEntry(anthropic, { occurredAt: at(1), tags: ['checkout'], clientRequestId: 'client-1' }),
    makeEntry(openAi, { occurredAt: at(2), provider: 'OPENAI', model: 'openai/gpt-4o', tags: ['eu'], status: 502, errorCode: 'upstream_error' }),
    makeEntry(anthropic, { ...untagged, occurredAt: at(3), status: 429 }),
    makeEntry(anthropic, { ...untagged, occurredAt: at(4), providerKeyId: null, credentialSource: 'PLATFORM' }),
    makeEntry(openAi, { occurredAt: at(5), provider: 'OPENAI', model: 'openai/gpt-4o-mini', tags: ['checkout', 'eu'] }),
  ];
  const twoDaysAgo = makeEntry(anthropic, { occurredAt: at(2 * 24 * 60) });
  await writeEntries(server, [...entries, twoDaysAgo]);
});

afterAll(async () => {
  await server?.stop();
  await database?.destroy();
});

async function listLogs(variables: RequestLogTestOrganizationQueryVariables = {}) {
  const response = await runGraphql(server, OrganizationRequestLogs, variables, token);
  if (!response.data) throw new Error(response.raw);
  return response.data.viewer.organization.requestLogs;
}

async function requestIdsWhere(filter: RequestLogFilter) {
  const page = await listLogs({ filter });
  return page.edges.map(({ node }) => node.requestId);
}

describe('requestLogs', () => {
  it('lists the last day newest first', async () => {
    const page = await listLogs();

    expect(page.edges.map(({ node }) => node.requestId)).toEqual(entries.map((entry) => entry.requestId));
  });

  it('shows every field of a row', async () => {
    const page = await listLogs({ first: 1 });
    const [entry] = entries;

    expect(page.edges[0]!.node).toEqual({
      id: encodeGlobalID('RequestLog', entry!.id),
      occurredAt: entry!.occurredAt.toISOString(),
      gatewayKeyId: encodeGlobalID('GatewayKey', anthropic.gatewayKeyId),
      gatewayKey: { id: encodeGlobalID('GatewayKey', anthropic.gatewayKeyId), name: 'backend' },
      providerKeyId: encodeGlobalID('ProviderKey', anthropic.providerKeyId),
      providerKey: { id: encodeGlobalID('ProviderKey', anthropic.providerKeyId), name: 'anthropic' },
      credentialSource: 'ORGANIZATION',
      provider: 'ANTHROPIC',
      model: entry!.model,
      region: null,
      stream: true,
      status: 200,
      errorCode: null,
      latencyMs: entry!.latencyMs,
      ttfbMs: entry!.ttfbMs,
      upstreamLatencyMs: entry!.upstreamLatencyMs,
      inputUncachedTokens: entry!.inputUncachedTokens,
      cacheReadTokens: entry!.cacheReadTokens,
      cacheWriteTokens: entry!.cacheWriteTokens,
      outputTokens: entry!.outputTokens,
      reasoningTokens: null,
      costMicroUsd: entry!.costMicroUsd,
      priceTableVersion: entry!.priceTableVersion,
      tags: ['checkout'],
      requestId: entry!.requestId,
      clientRequestId: 'client-1',
      upstreamRequestId: entry!.upstreamRequestId,
    });
  });

  it('pages forward without overlap', async () => {
    const first = await listLogs({ first: 2 });
    const second = await listLogs({ first: 2, after: first.pageInfo.endCursor });
    const third = await listLogs({ first: 2, after: second.pageInfo.endCursor });

    const pages = [first, second, third].map((page) => page.edges.map(({ node }) => node.requestId));
    expect(pages.flat()).toEqual(entries.map((entry) => entry.requestId));
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(third.pageInfo.hasNextPage).toBe(false);
  });

  it('pages backward', async () => {
    const last = await listLogs({ last: 2 });
    const before = await listLogs({ last: 2, before: last.pageInfo.startCursor });

    expect(last.edges.map(({ node }) => node.requestId)).toEqual(entries.slice(3).map((entry) => entry.requestId));
    expect(before.edges.map(({ node }) => node.requestId)).toEqual(entries.slice(1, 3).map((entry) => entry.requestId));
  });

  it('reaches older rows with from', async () => {
    const page = await listLogs({ from: new Date(Date.now() - 3 * 86_400_000).toISOString() });

    expect(page.edges).toHaveLength(entries.length + 1);
  });

  it('filters by provider', async () => {
    expect(await requestIdsWhere({ provider: 'OPENAI' })).toEqual([entries[1]!.requestId, entries[4]!.requestId]);
  });

  it('filters by model', async () => {
    expect(await requestIdsWhere({ model: 'openai/gpt-4o-mini' })).toEqual([entries[4]!.requestId]);
  });

  it('filters by credential source', async () => {
    expect(await requestIdsWhere({ credentialSource: 'PLATFORM' })).toEqual([entries[3]!.requestId]);
  });

  it('filters by tag', async () => {
    expect(await requestIdsWhere({ tag: 'checkout' })).toEqual([entries[0]!.requestId, entries[4]!.requestId]);
  });

  it('filters by status class', async () => {
    expect(await requestIdsWhere({ statusClass: 'CLIENT_ERROR' })).toEqual([entries[2]!.requestId]);
    expect(await requestIdsWhere({ statusClass: 'SERVER_ERROR' })).toEqual([entries[1]!.requestId]);
  });

  it('filters by gateway key', async () => {
    const ids = await requestIdsWhere({ gatewayKey: encodeGlobalID('GatewayKey', otherGatewayKeyId) });

    expect(ids).toEqual([entries[1]!.requestId, entries[4]!.requestId]);
  });

  it('filters by provider key', async () => {
    const ids = await requestIdsWhere({ providerKey: encodeGlobalID('ProviderKey', anthropic.providerKeyId) });

    expect(ids).toEqual([entries[0]!.requestId, entries[2]!.requestId]);
  });

  it('of a provider key', async () => {
    const response = await runGraphql(server, ProviderKeyRequestLogs, { id: openAiKey.globalId }, token);

    const logs = member(response.data?.node, 'ProviderKey').requestLogs.edges.map(({ node }) => node.requestId);
    expect(logs).toEqual([entries[1]!.requestId, entries[4]!.requestId]);
  });

  it('of a provider key, with a filter naming another key', async () => {
    const filter = { providerKey: encodeGlobalID('ProviderKey', anthropic.providerKeyId) };

    const response = await runGraphql(server, ProviderKeyRequestLogs, { id: openAiKey.globalId, filter }, token);

    expect(member(response.data?.node, 'ProviderKey').requestLogs.edges).toEqual([]);
  });

  it('of a gateway key', async () => {
    const id = encodeGlobalID('GatewayKey', anthropic.gatewayKeyId);

    const response = await runGraphql(server, GatewayKeyRequestLogs, { id }, token);

    const logs = member(response.data?.node, 'GatewayKey').requestLogs.edges.map(({ node }) => node.requestId);
    expect(logs).toEqual([0, 2, 3].map((index) => entries[index]!.requestId));
  });

  it('a request log is a node', async () => {
    const id = encodeGlobalID('RequestLog', entries[2]!.id);

    const response = await runGraphql(server, NodeById, { id }, token);

    expect(response.data?.node).toEqual({ __typename: 'RequestLog', id });
  });
});

describe('requestLogs range', () => {
  it('over 31 days is rejected', async () => {
    const to = new Date();
    const from = new Date(to.getTime() - 32 * 86_400_000);

    const response = await runGraphql(server, OrganizationRequestLogs, { from: from.toISOString(), to: to.toISOString() }, token);

    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
    expect(response.errors?.[0]?.message).toContain('at most 31 days');
  });

  it('before the retention is rejected', async () => {
    const from = new Date(Date.now() - 40 * 86_400_000);
    const to = new Date(from.getTime() + 86_400_000);

    const response = await runGraphql(server, OrganizationRequestLogs, { from: from.toISOString(), to: to.toISOString() }, token);

    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
    expect(response.errors?.[0]?.message).toContain('REQUEST_LOG_RETENTION_DAYS');
  });

  it('an empty range is rejected', async () => {
    const to = new Date();

    const response = await runGraphql(server, OrganizationRequestLogs, { from: to.toISOString(), to: to.toISOString() }, token);

    expect(response.errors?.[0]?.message).toContain('must be later than from');
  });
});

describe('requestLogs of a deleted key', () => {
  it('keeps the id and shows no key', async () => {
    const organizationId = anthropic.organizationId;
    const key = await createProviderKey(server, organizationId, {
      provider: 'MISTRAL',
      apiKey: apiKeyFor('MISTRAL'),
      assignment: { organization: true },
    });
    const entry = makeEntry({ ...anthropic, providerKeyId: key.id }, { provider: 'MISTRAL', occurredAt: new Date() });
    await writeEntries(server, [entry]);
    await server.running.app.services.providerKeys.delete(writeContext(organizationId), key.id);

    const page = await listLogs({ filter: { providerKey: key.globalId } });

    expect(page.edges.map(({ node }) => [node.providerKeyId, node.providerKey])).toEqual([[key.globalId, null]]);
  });
});
