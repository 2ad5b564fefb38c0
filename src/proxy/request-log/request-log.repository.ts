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

/** Columns of an INSERT and the PostgreSQL type of each, in the order of the unnest parameters. */
const insertColumns = [
  ['id', 'uuid'],
  ['occurred_at', 'timestamptz'],
  ['organization_id', 'uuid'],
  ['gateway_key_id', 'uuid'],
  ['provider_key_id', 'uuid'],
  ['credential_source', 'text'],
  ['provider', 'text'],
  ['model', 'text'],
  ['region', 'text'],
  ['stream', 'boolean'],
  ['status', 'integer'],
  ['error_code', 'text'],
  ['latency_ms', 'integer'],
  ['ttfb_ms', 'integer'],
  ['upstream_latency_ms', 'integer'],
  ['input_uncached_tokens', 'bigint'],
  ['cache_read_tokens', 'bigint'],
  ['cache_write_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['reasoning_tokens', 'bigint'],
  ['raw_usage', 'jsonb'],
  ['cost_micro_usd', 'bigint'],
  ['price_table_version', 'text'],
  ['tags', 'text[]'],
  ['request_id', 'text'],
  ['client_request_id', 'text'],
  ['upstream_request_id', 'text'],
] as const satisfies readonly (readonly [keyof RequestLogRow, string])[];

/** Arrays cannot nest in `unnest`, so each row's tags travel as a JSON text and become text[] again in SQL. */
function columnValues(rows: readonly RequestLogRow[], column: keyof RequestLogRow): unknown[] {
  if (column === 'tags') return rows.map((row) => JSON.stringify(row.tags ?? []));
  if (column === 'occurred_at') return rows.map((row) => row.occurred_at.toISOString());
  return rows.map((row) => row[column] ?? null);
}

/**
 * Inserts rows in one statement whose size does not depend on the batch: one array parameter per
 * column, expanded by `unnest`. A multi-row VALUES list with 27 parameters per row cost about 9 µs
 * per row to build, which blocked the event loop for milliseconds per batch and showed in the
 * proxy's latency percentiles. A row whose id and occurred_at already exist is skipped, so that
 * writing a batch again after a lost commit acknowledgement adds no duplicates. Returns the ids of
 * the rows inserted, which excludes the skipped ones.
 */
export async function insertRequestLogs(db: Kysely<Database>, rows: readonly RequestLogRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const names = sql.join(insertColumns.map(([column]) => sql.ref(column)));
  const values = sql.join(
    insertColumns.map(([column, type]) => {
      if (column === 'tags') return sql`array(select jsonb_array_elements_text(u.tags::jsonb))`;
      if (type === 'jsonb') return sql`u.${sql.ref(column)}::jsonb`;
      return sql`u.${sql.ref(column)}`;
    }),
  );
  const arrays = sql.join(
    insertColumns.map(([column, type]) => {
      const arrayType = column === 'tags' || type === 'jsonb' ? 'text[]' : `${type}[]`;
      return sql`${columnValues(rows, column)}::${sql.raw(arrayType)}`;
    }),
  );
  const aliases = sql.join(insertColumns.map(([column]) => sql.ref(column)));
  const inserted = await sql<{ id: string }>`insert into ${sql.table('request_logs')} (${names}) select ${values} from unnest(${arrays}) as u(${aliases}) on conflict do nothing returning id`.execute(db);
  return new Set(inserted.rows.map((row) => row.id));
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
