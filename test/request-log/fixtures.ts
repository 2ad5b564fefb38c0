import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';

export interface SeededKeys {
  organizationId: string;
  gatewayKeyId: string;
  providerKeyId: string;
}

/** Creates an organization with one gateway key and one Anthropic provider key. */
export async function seedOrganizationWithKeys(db: Kysely<Database>): Promise<SeededKeys> {
  const organization = await db.insertInto('organizations').values({ name: 'Acme' }).returning('id').executeTakeFirstOrThrow();
  const gatewayKeyId = randomUUID();
  await db
    .insertInto('gateway_keys')
    .values({
      id: gatewayKeyId,
      organization_id: organization.id,
      name: 'backend',
      display_prefix: 'kr_test',
      secret_hash: randomBytes(32),
    })
    .execute();
  const providerKeyId = randomUUID();
  await db
    .insertInto('provider_keys')
    .values({
      id: providerKeyId,
      organization_id: organization.id,
      provider: 'ANTHROPIC',
      name: 'anthropic',
      credentials_kind: 'API_KEY',
      credentials_envelope: randomBytes(64),
      masked_credentials: JSON.stringify({ apiKey: 'sk-ant-...abcd' }),
      settings: '{}',
    })
    .execute();
  return { organizationId: organization.id, gatewayKeyId, providerKeyId };
}

/** Builds a complete entry of a successful streamed request. `overrides` replace single fields. */
export function makeEntry(keys: SeededKeys, overrides: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    id: randomUUID(),
    occurredAt: new Date(),
    organizationId: keys.organizationId,
    gatewayKeyId: keys.gatewayKeyId,
    providerKeyId: keys.providerKeyId,
    credentialSource: 'ORGANIZATION',
    provider: 'ANTHROPIC',
    model: 'claude-sonnet-4-5',
    region: null,
    stream: true,
    status: 200,
    errorCode: null,
    latencyMs: 1_250,
    ttfbMs: 310,
    upstreamLatencyMs: 1_200,
    inputUncachedTokens: 1_000,
    cacheReadTokens: 200,
    cacheWriteTokens: 0,
    outputTokens: 350,
    reasoningTokens: null,
    rawUsage: { input_tokens: 1_000, cache_read_input_tokens: 200, output_tokens: 350 },
    costMicroUsd: 8_850,
    priceTableVersion: '2026-12-01',
    tags: ['checkout'],
    requestId: `req_${randomBytes(8).toString('hex')}`,
    clientRequestId: null,
    upstreamRequestId: 'req_upstream_1',
    ...overrides,
  };
}

export async function countRequestLogs(db: Kysely<Database>): Promise<number> {
  const result = await sql<{ count: number }>`select count(*)::int as count from request_logs`.execute(db);
  return result.rows[0]!.count;
}

/** Returns the name of the partition that stores the row with this id. */
export async function partitionOf(db: Kysely<Database>, id: string): Promise<string | undefined> {
  const result = await sql<{ partition: string }>`
    select tableoid::regclass::text as partition from request_logs where id = ${id}
  `.execute(db);
  return result.rows[0]?.partition;
}

/** Polls `condition` every 20 ms until it is true; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
