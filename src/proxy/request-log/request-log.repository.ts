import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database, RequestLogsTable } from '../../db/schema.js';
import type { RequestLogEntry } from './request-log-entry.js';

export type RequestLogRow = Insertable<RequestLogsTable> & { occurred_at: Date };

/**
 * Maps an entry to its row. Throws a TypeError when occurredAt is an invalid Date, or when rawUsage
 * cannot be serialized as JSON, such as an object with a cycle or a BigInt value.
 */
export function toRequestLogRow(entry: RequestLogEntry): RequestLogRow {
  if (Number.isNaN(entry.occurredAt.getTime())) throw new TypeError('occurredAt is an invalid Date');
  return {
    id: entry.id,
    occurred_at: entry.occurredAt,
    organization_id: entry.organizationId,
    gateway_key_id: entry.gatewayKeyId,
    provider_key_id: entry.providerKeyId,
    credential_source: entry.credentialSource,
    provider: entry.provider,
    model: entry.model,
    region: entry.region,
    stream: entry.stream,
    status: entry.status,
    error_code: entry.errorCode,
    // Durations usually come from performance.now() differences, but the columns are integers.
    latency_ms: Math.round(entry.latencyMs),
    ttfb_ms: roundOrNull(entry.ttfbMs),
    upstream_latency_ms: roundOrNull(entry.upstreamLatencyMs),
    input_uncached_tokens: entry.inputUncachedTokens,
    cache_read_tokens: entry.cacheReadTokens,
    cache_write_tokens: entry.cacheWriteTokens,
    output_tokens: entry.outputTokens,
    reasoning_tokens: entry.reasoningTokens,
    raw_usage: entry.rawUsage === null ? null : JSON.stringify(entry.rawUsage),
    cost_micro_usd: entry.costMicroUsd,
    price_table_version: entry.priceTableVersion,
    tags: entry.tags,
    request_id: entry.requestId,
    client_request_id: entry.clientRequestId,
    upstream_request_id: entry.upstreamRequestId,
  };
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

/**
 * Inserts rows in one multi-row INSERT. A row whose id and occurred_at already exist is skipped,
 * so that writing a batch again after a lost commit acknowledgement adds no duplicates.
 */
export async function insertRequestLogs(db: Kysely<Database>, rows: readonly RequestLogRow[]): Promise<void> {
  await db
    .insertInto('request_logs')
    .values([...rows])
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/** Sets `last_used_at` of each gateway key to its time in `lastUsed`, unless it is already later. */
export async function touchGatewayKeys(db: Kysely<Database>, lastUsed: ReadonlyMap<string, Date>): Promise<void> {
  await touchKeys(db, 'gateway_keys', lastUsed);
}

/** Sets `last_used_at` of each provider key to its time in `lastUsed`, unless it is already later. */
export async function touchProviderKeys(db: Kysely<Database>, lastUsed: ReadonlyMap<string, Date>): Promise<void> {
  await touchKeys(db, 'provider_keys', lastUsed);
}

async function touchKeys(
  db: Kysely<Database>,
  table: 'gateway_keys' | 'provider_keys',
  lastUsed: ReadonlyMap<string, Date>,
): Promise<void> {
  if (lastUsed.size === 0) return;

  // Sorted ids make concurrent writers in several processes tend to lock the key rows in the same
  // order. A deadlock can still happen, and then fails the statement like any other error.
  const ids = [...lastUsed.keys()].sort();
  const usedAt = ids.map((id) => lastUsed.get(id)!.toISOString());
  await sql`
    update ${sql.table(table)} as target
    set last_used_at = used.used_at
    from unnest(${ids}::uuid[], ${usedAt}::timestamptz[]) as used(id, used_at)
    where target.id = used.id and (target.last_used_at is null or target.last_used_at < used.used_at)
  `.execute(db);
}
