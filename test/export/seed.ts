import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import { insertRequestLogs, toRequestLogRow } from '../../src/proxy/request-log/request-log.repository.js';

/** Builds a request log entry as the proxy writes it, with every field set to a plausible value. */
export function logEntry(organizationId: string, overrides: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    id: randomUUID(),
    occurredAt: new Date('2026-12-01T10:00:00.000Z'),
    organizationId,
    gatewayKeyId: randomUUID(),
    providerKeyId: randomUUID(),
    credentialSource: 'ORGANIZATION',
    provider: 'OPENAI',
    model: 'openai/gpt-4o',
    region: null,
    stream: false,
    status: 200,
    errorCode: null,
    latencyMs: 120,
    ttfbMs: 118,
    upstreamLatencyMs: 110,
    inputUncachedTokens: 12,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 7,
    reasoningTokens: 0,
    rawUsage: { prompt_tokens: 12, completion_tokens: 7 },
    costMicroUsd: 100,
    priceTableVersion: '2026-12-01',
    tags: [],
    requestId: randomUUID(),
    clientRequestId: null,
    upstreamRequestId: null,
    ...overrides,
  };
}

/** Inserts entries the way the request log writer does. */
export async function insertEntries(db: Kysely<Database>, entries: RequestLogEntry[]): Promise<void> {
  await insertRequestLogs(db, entries.map(toRequestLogRow));
}

/**
 * Inserts `count` rows of one organization in one statement, `stepMs` apart from `start`, for
 * volume tests. Each row has a request id `seed-<n>` and tags ["bulk", "=cmd()"].
 */
export async function seedBulkRows(
  db: Kysely<Database>,
  options: { organizationId: string; count: number; start: Date; stepMs: number },
): Promise<void> {
  const gatewayKeyId = randomUUID();
  const providerKeyId = randomUUID();
  await sql`
    insert into request_logs (
      id, occurred_at, organization_id, gateway_key_id, provider_key_id, credential_source, provider, model,
      stream, status, latency_ms, ttfb_ms, upstream_latency_ms, input_uncached_tokens, cache_read_tokens,
      cache_write_tokens, output_tokens, reasoning_tokens, cost_micro_usd, price_table_version, tags, request_id
    )
    select
      gen_random_uuid(), ${options.start.toISOString()}::timestamptz + n * ${options.stepMs} * interval '1 millisecond',
      ${options.organizationId}::uuid, ${gatewayKeyId}::uuid, ${providerKeyId}::uuid, 'ORGANIZATION', 'OPENAI', 'openai/gpt-4o',
      false, 200, 100 + n % 400, 90, 95, 1000 + n % 97, 0, 0, 250 + n % 31, 0, 4200, '2026-12-01',
      array['bulk', '=cmd()'], 'seed-' || n
    from generate_series(0, ${options.count - 1}) as n
  `.execute(db);
}
