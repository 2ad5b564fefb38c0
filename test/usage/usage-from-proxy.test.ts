import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { UsageFilter } from '../generated/graphql.js';
import {
  anthropicClient,
  createGatewayKey,
  createTenant,
  openAiClient,
  rejectionOf,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type CreatedProviderKey,
  type ProxyTestContext,
} from '../proxy/helpers.js';
import { GatewayKeyUsage, OrganizationRequestLogs, OrganizationUsage, ProviderKeyListUsage, ProviderKeyUsage } from './documents.js';
import { issueToken, member, runGraphql } from './helpers.js';

// Usage over GraphQL after real proxied calls to the fake upstreams: totals must equal the sums of
// the request_logs rows the calls produced, per organization, provider key, gateway key, model and tag.

const messages = [{ role: 'user' as const, content: 'Count my tokens' }];

let context: ProxyTestContext;
let organizationId: string;
let token: string;
let backend: CreatedGatewayKey;
let batch: CreatedGatewayKey;
let openAiKey: CreatedProviderKey;
let anthropicKey: CreatedProviderKey;

/** The whole of today and yesterday in UTC, which contains every request of this file. */
const range = {
  from: new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000).toISOString(),
  to: new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 86_400_000).toISOString(),
};

beforeAll(async () => {
  context = await startProxyContext();
  const tenant = await createTenant(context, ['OPENAI', 'ANTHROPIC']);
  organizationId = tenant.organizationId;
  backend = tenant.gatewayKey;
  openAiKey = tenant.providerKeys.OPENAI!;
  anthropicKey = tenant.providerKeys.ANTHROPIC!;
  batch = await createGatewayKey(context.server, organizationId, { name: 'batch' });
  token = await issueToken(context.server, organizationId);

  const backendOpenAi = openAiClient(context.server, backend.secret);
  await backendOpenAi.chat.completions.create({ model: 'openai/gpt-4o', messages }, { headers: { 'x-keyroute-tags': 'checkout' } });
  await backendOpenAi.chat.completions.create({ model: 'openai/gpt-4o', messages }, { headers: { 'x-keyroute-tags': 'checkout,eu' } });
  await anthropicClient(context.server, backend.secret).messages.create(
    { model: 'claude-sonnet-4-5', max_tokens: 20, messages },
    { headers: { 'x-keyroute-tags': 'eu' } },
  );

  const batchOpenAi = openAiClient(context.server, batch.secret);
  await batchOpenAi.chat.completions.create({ model: 'openai/gpt-4o-mini', messages });
  context.fakes.openai.enqueue({ error: { status: 500 } });
  await rejectionOf(batchOpenAi.chat.completions.create({ model: 'openai/gpt-4o', messages }, { headers: { 'x-keyroute-tags': 'checkout' } }));

  await waitForRequestLogRows(context, context.server, backend.id, 3);
  await waitForRequestLogRows(context, context.server, batch.id, 2);
});

afterAll(async () => {
  await context?.close();
});

interface LoggedRow {
  provider_key_id: string | null;
  gateway_key_id: string;
  model: string | null;
  status: number;
  tags: string[];
  input_uncached_tokens: string | null;
  cache_read_tokens: string | null;
  cache_write_tokens: string | null;
  output_tokens: string | null;
  reasoning_tokens: string | null;
  cost_micro_usd: string | null;
}

/** Sums the organization's request_logs rows that `include` selects, as the usage fields report them. */
async function logged(include: (row: LoggedRow) => boolean) {
  const rows = await context.database.db.selectFrom('request_logs').selectAll().where('organization_id', '=', organizationId).execute();
  const selected = rows.filter(include);
  const sum = (column: keyof LoggedRow) => selected.reduce((total, row) => total + Number(row[column] ?? 0), 0);
  return {
    requests: selected.length,
    errors: selected.filter((row) => row.status >= 400).length,
    inputUncachedTokens: sum('input_uncached_tokens'),
    cacheReadTokens: sum('cache_read_tokens'),
    cacheWriteTokens: sum('cache_write_tokens'),
    outputTokens: sum('output_tokens'),
    reasoningTokens: sum('reasoning_tokens'),
    costMicroUsd: sum('cost_micro_usd'),
  };
}

async function organizationUsage(filter?: UsageFilter) {
  const response = await runGraphql(context.server, OrganizationUsage, { ...range, bucket: 'DAY', timeZone: 'UTC', filter }, token);
  return member(response.data?.viewer.organization.usage, 'Usage');
}

async function providerKeyUsage(key: CreatedProviderKey) {
  const response = await runGraphql(context.server, ProviderKeyUsage, { id: key.globalId, ...range, bucket: 'DAY', timeZone: 'UTC' }, token);
  return member(member(response.data?.node, 'ProviderKey').usage, 'Usage');
}

async function gatewayKeyUsage(key: CreatedGatewayKey) {
  const id = encodeGlobalID('GatewayKey', key.id);
  const response = await runGraphql(context.server, GatewayKeyUsage, { id, ...range, bucket: 'DAY', timeZone: 'UTC' }, token);
  return member(member(response.data?.node, 'GatewayKey').usage, 'Usage');
}

/** Returns the counted fields of a usage result, without the latency estimates. */
function counts(figures: Awaited<ReturnType<typeof organizationUsage>>['totals']) {
  const { latencyP50Ms: _p50, latencyP95Ms: _p95, latencyP99Ms: _p99, ...rest } = figures;
  return rest;
}

describe('usage after proxied requests', () => {
  it('organization totals equal the log', async () => {
    const usage = await organizationUsage();

    expect(counts(usage.totals)).toEqual(await logged(() => true));
  });

  it('organization totals count five requests and one error', async () => {
    const usage = await organizationUsage();

    expect(usage.totals.requests).toBe(5);
    expect(usage.totals.errors).toBe(1);
  });

  it('tokens and cost are not zero', async () => {
    const usage = await organizationUsage();

    expect(usage.totals.inputUncachedTokens).toBeGreaterThan(0);
    expect(usage.totals.outputTokens).toBeGreaterThan(0);
    expect(usage.totals.costMicroUsd).toBeGreaterThan(0);
  });

  it('buckets add up to the totals', async () => {
    const usage = await organizationUsage();

    expect(usage.buckets).toHaveLength(2);
    expect(usage.buckets.reduce((sum, bucket) => sum + bucket.requests, 0)).toBe(usage.totals.requests);
    expect(usage.buckets.reduce((sum, bucket) => sum + bucket.costMicroUsd, 0)).toBe(usage.totals.costMicroUsd);
  });

  it('latency percentiles are reported', async () => {
    const usage = await organizationUsage();

    expect(usage.totals.latencyP50Ms).toBeGreaterThan(0);
    expect(usage.totals.latencyP99Ms).toBeGreaterThanOrEqual(usage.totals.latencyP50Ms!);
  });

  it('per provider key', async () => {
    const openAi = await providerKeyUsage(openAiKey);
    const anthropic = await providerKeyUsage(anthropicKey);

    expect(counts(openAi.totals)).toEqual(await logged((row) => row.provider_key_id === openAiKey.id));
    expect(counts(anthropic.totals)).toEqual(await logged((row) => row.provider_key_id === anthropicKey.id));
    expect(openAi.totals.requests).toBe(4);
    expect(anthropic.totals.requests).toBe(1);
  });

  it('per gateway key', async () => {
    const backendUsage = await gatewayKeyUsage(backend);
    const batchUsage = await gatewayKeyUsage(batch);

    expect(counts(backendUsage.totals)).toEqual(await logged((row) => row.gateway_key_id === backend.id));
    expect(counts(batchUsage.totals)).toEqual(await logged((row) => row.gateway_key_id === batch.id));
    expect(batchUsage.totals.errors).toBe(1);
  });

  it('per model', async () => {
    const usage = await organizationUsage({ model: 'openai/gpt-4o' });

    expect(counts(usage.totals)).toEqual(await logged((row) => row.model === 'openai/gpt-4o'));
    expect(usage.totals.requests).toBe(3);
  });

  it('per provider', async () => {
    const usage = await organizationUsage({ provider: 'ANTHROPIC' });

    expect(counts(usage.totals)).toEqual(await logged((row) => row.provider_key_id === anthropicKey.id));
  });

  it('per tag', async () => {
    const checkout = await organizationUsage({ tag: 'checkout' });
    const eu = await organizationUsage({ tag: 'eu' });

    expect(counts(checkout.totals)).toEqual(await logged((row) => row.tags.includes('checkout')));
    expect(counts(eu.totals)).toEqual(await logged((row) => row.tags.includes('eu')));
    expect(checkout.totals.requests).toBe(3);
    expect(eu.totals.requests).toBe(2);
  });

  it('per tag and model', async () => {
    const usage = await organizationUsage({ tag: 'eu', model: 'openai/gpt-4o' });

    expect(usage.totals.requests).toBe(1);
  });

  it('per credential source', async () => {
    const organizationWide = await organizationUsage({ credentialSource: 'ORGANIZATION' });
    const platform = await organizationUsage({ credentialSource: 'PLATFORM' });

    expect(organizationWide.totals.requests).toBe(5);
    expect(platform.totals.requests).toBe(0);
  });

  it('request logs name the credential that served each request', async () => {
    const response = await runGraphql(context.server, OrganizationRequestLogs, { first: 10 }, token);
    const logs = response.data!.viewer.organization.requestLogs.edges.map(({ node }) => node);

    expect(logs.map((log) => [log.model, log.providerKeyId, log.credentialSource])).toEqual([
      ['openai/gpt-4o', openAiKey.globalId, 'ORGANIZATION'],
      ['openai/gpt-4o-mini', openAiKey.globalId, 'ORGANIZATION'],
      [expect.stringContaining('claude-sonnet-4-5'), anthropicKey.globalId, 'ORGANIZATION'],
      ['openai/gpt-4o', openAiKey.globalId, 'ORGANIZATION'],
      ['openai/gpt-4o', openAiKey.globalId, 'ORGANIZATION'],
    ]);
  });

  it('request logs never show the prompt, the completion or a secret', async () => {
    const response = await runGraphql(context.server, OrganizationRequestLogs, { first: 10 }, token);

    expect(response.raw).not.toContain(messages[0]!.content);
    expect(response.raw).not.toContain('Hello from the fake');
    for (const secret of [backend.secret, batch.secret, context.secrets.OPENAI, context.secrets.ANTHROPIC]) {
      expect(response.raw).not.toContain(secret);
    }
  });

  it('a list of provider keys', async () => {
    const response = await runGraphql(context.server, ProviderKeyListUsage, range, token);

    const totals = new Map(
      response.data?.providerKeys.edges.map(({ node }) => [node.id, member(node.usage, 'Usage').totals.requests]),
    );
    expect(totals.get(openAiKey.globalId)).toBe(4);
    expect(totals.get(anthropicKey.globalId)).toBe(1);
  });
});
