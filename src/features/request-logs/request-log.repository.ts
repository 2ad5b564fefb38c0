import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { KeysetPosition } from '../../db/keyset.js';
import type { Database } from '../../db/schema.js';
import type { ProviderId } from '../../providers/providers.js';
import type { RequestLogEntry } from '../../proxy/request-log/request-log-entry.js';
import type { CredentialSource } from '../provider-keys/resolution.js';

/** One request log row as the API shows it: no raw upstream usage, and never a prompt or completion. */
export interface RequestLog extends Omit<RequestLogEntry, 'organizationId' | 'rawUsage'> {
  /** occurred_at in microseconds since the epoch, as text, for keyset cursors. */
  occurredMicros: string;
}

/** First digit of the HTTP status: 2 for 2xx, 4 for 4xx including 499. */
export type StatusClass = 2 | 3 | 4 | 5;

export interface RequestLogFilter {
  providerKeyId?: string | undefined;
  gatewayKeyId?: string | undefined;
  provider?: ProviderId | undefined;
  model?: string | undefined;
  credentialSource?: CredentialSource | undefined;
  tag?: string | undefined;
  statusClass?: StatusClass | undefined;
}

export interface RequestLogPage {
  after?: KeysetPosition | undefined;
  before?: KeysetPosition | undefined;
  limit: number;
  /** True when paging backwards: rows come oldest first and the caller reverses them. */
  inverted: boolean;
}

const selectedColumns = sql`
  id, occurred_at, (extract(epoch from occurred_at) * 1000000)::bigint::text as occurred_micros,
  gateway_key_id, provider_key_id, credential_source, provider, model, region, stream, status, error_code,
  latency_ms, ttfb_ms, upstream_latency_ms, input_uncached_tokens, cache_read_tokens, cache_write_tokens,
  output_tokens, reasoning_tokens, cost_micro_usd, price_table_version, tags, request_id, client_request_id,
  upstream_request_id
`;

interface RequestLogSqlRow {
  id: string;
  occurred_at: Date;
  occurred_micros: string;
  gateway_key_id: string;
  provider_key_id: string | null;
  credential_source: CredentialSource | null;
  provider: ProviderId | null;
  model: string | null;
  region: string | null;
  stream: boolean;
  status: number;
  error_code: string | null;
  latency_ms: number;
  ttfb_ms: number | null;
  upstream_latency_ms: number | null;
  input_uncached_tokens: string | null;
  cache_read_tokens: string | null;
  cache_write_tokens: string | null;
  output_tokens: string | null;
  reasoning_tokens: string | null;
  cost_micro_usd: string | null;
  price_table_version: string | null;
  tags: string[];
  request_id: string;
  client_request_id: string | null;
  upstream_request_id: string | null;
}

function positionExpression(position: KeysetPosition) {
  return sql`(timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond', ${position.id}::uuid)`;
}

/**
 * Lists an organization's request logs in [from, to), newest first (oldest first when the page is
 * inverted), by keyset over (occurred_at, id). The range bounds the partitions PostgreSQL reads.
 *
 * NOTE: no index covers tags, so a filter on a rare tag reads every row of the organization in the
 * range before it fills a page.
 */
export async function listRequestLogs(
  db: Kysely<Database>,
  organizationId: string,
  range: { from: Date; to: Date },
  filter: RequestLogFilter,
  page: RequestLogPage,
): Promise<RequestLog[]> {
  const conditions: Expression<SqlBool>[] = [
    sql`organization_id = ${organizationId}`,
    sql`occurred_at >= ${range.from.toISOString()}`,
    sql`occurred_at < ${range.to.toISOString()}`,
  ];
  if (filter.providerKeyId !== undefined) conditions.push(sql`provider_key_id = ${filter.providerKeyId}`);
  if (filter.gatewayKeyId !== undefined) conditions.push(sql`gateway_key_id = ${filter.gatewayKeyId}`);
  if (filter.provider !== undefined) conditions.push(sql`provider = ${filter.provider}`);
  if (filter.model !== undefined) conditions.push(sql`model = ${filter.model}`);
  if (filter.credentialSource !== undefined) conditions.push(sql`credential_source = ${filter.credentialSource}`);
  if (filter.tag !== undefined) conditions.push(sql`tags @> array[${filter.tag}]::text[]`);
  if (filter.statusClass !== undefined) {
    conditions.push(sql`status >= ${filter.statusClass * 100} and status < ${(filter.statusClass + 1) * 100}`);
  }
  if (page.after) conditions.push(sql`(occurred_at, id) < ${positionExpression(page.after)}`);
  if (page.before) conditions.push(sql`(occurred_at, id) > ${positionExpression(page.before)}`);

  const direction = page.inverted ? sql`asc` : sql`desc`;
  const result = await sql<RequestLogSqlRow>`
    select ${selectedColumns}
    from request_logs
    where ${sql.join(conditions, sql` and `)}
    order by occurred_at ${direction}, id ${direction}
    limit ${page.limit}
  `.execute(db);
  return result.rows.map(toRequestLog);
}

/** Finds request logs of an organization by id, in any partition. */
export async function findRequestLogsByIds(db: Kysely<Database>, organizationId: string, ids: readonly string[]): Promise<RequestLog[]> {
  if (ids.length === 0) return [];
  const result = await sql<RequestLogSqlRow>`
    select ${selectedColumns}
    from request_logs
    where organization_id = ${organizationId} and id = any(${[...ids]}::uuid[])
  `.execute(db);
  return result.rows.map(toRequestLog);
}

function toRequestLog(row: RequestLogSqlRow): RequestLog {
  return {
    id: row.id,
    occurredAt: row.occurred_at,
    occurredMicros: row.occurred_micros,
    gatewayKeyId: row.gateway_key_id,
    providerKeyId: row.provider_key_id,
    credentialSource: row.credential_source,
    provider: row.provider,
    model: row.model,
    region: row.region,
    stream: row.stream,
    status: row.status,
    errorCode: row.error_code,
    latencyMs: row.latency_ms,
    ttfbMs: row.ttfb_ms,
    upstreamLatencyMs: row.upstream_latency_ms,
    inputUncachedTokens: numberOrNull(row.input_uncached_tokens),
    cacheReadTokens: numberOrNull(row.cache_read_tokens),
    cacheWriteTokens: numberOrNull(row.cache_write_tokens),
    outputTokens: numberOrNull(row.output_tokens),
    reasoningTokens: numberOrNull(row.reasoning_tokens),
    costMicroUsd: numberOrNull(row.cost_micro_usd),
    priceTableVersion: row.price_table_version,
    tags: row.tags,
    requestId: row.request_id,
    clientRequestId: row.client_request_id,
    upstreamRequestId: row.upstream_request_id,
  };
}

function numberOrNull(value: string | null): number | null {
  return value === null ? null : Number(value);
}
