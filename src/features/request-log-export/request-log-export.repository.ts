import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ExportFilter, ExportRange } from './export-query.js';

/**
 * Position after the last exported row. `occurredAt` is the exact text of the timestamp with
 * microseconds, because a JavaScript Date keeps milliseconds only and would make the next batch
 * repeat or skip rows that share a millisecond.
 */
export interface ExportPosition {
  occurredAt: string;
  id: string;
}

/** Exact ISO 8601 text in UTC with microseconds, such as `2026-12-01T08:00:00.123456Z`. */
const occurredAtText = sql<string>`to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Reads one batch of an organization's request log rows in (occurred_at, id) order, after `after`. */
export function selectRequestLogExportBatch(
  db: Kysely<Database>,
  organizationId: string,
  range: ExportRange,
  filter: ExportFilter,
  after: ExportPosition | undefined,
  limit: number,
) {
  let query = db
    .selectFrom('request_logs')
    .select([
      'id',
      occurredAtText.as('occurred_at_text'),
      'request_id',
      'client_request_id',
      'upstream_request_id',
      'gateway_key_id',
      'provider_key_id',
      'credential_source',
      'provider',
      'model',
      'region',
      'stream',
      'status',
      'error_code',
      'latency_ms',
      'ttfb_ms',
      'upstream_latency_ms',
      'input_uncached_tokens',
      'cache_read_tokens',
      'cache_write_tokens',
      'output_tokens',
      'reasoning_tokens',
      'cost_micro_usd',
      'price_table_version',
      'tags',
    ])
    .where('organization_id', '=', organizationId)
    .where('occurred_at', '>=', range.from)
    .where('occurred_at', '<', range.to);

  if (filter.provider !== undefined) query = query.where('provider', '=', filter.provider);
  if (filter.model !== undefined) query = query.where('model', '=', filter.model);
  if (filter.credentialSource !== undefined) query = query.where('credential_source', '=', filter.credentialSource);
  if (filter.gatewayKeyId !== undefined) query = query.where('gateway_key_id', '=', filter.gatewayKeyId);
  if (filter.providerKeyId !== undefined) query = query.where('provider_key_id', '=', filter.providerKeyId);
  if (filter.tag !== undefined) query = query.where(sql<boolean>`tags @> array[${filter.tag}]::text[]`);
  switch (filter.statusClass) {
    case '2xx':
      query = query.where('status', '>=', 200).where('status', '<', 300);
      break;
    case '4xx':
      query = query.where('status', '>=', 400).where('status', '<', 500).where('status', '<>', 499);
      break;
    case '5xx':
      query = query.where('status', '>=', 500).where('status', '<', 600);
      break;
    case '499':
      query = query.where('status', '=', 499);
      break;
    case undefined:
      break;
  }
  if (after !== undefined) {
    query = query.where(sql<boolean>`(occurred_at, id) > (${after.occurredAt}::timestamptz, ${after.id}::uuid)`);
  }

  return query.orderBy('occurred_at').orderBy('id').limit(limit).execute();
}

export type RequestLogExportRow = Awaited<ReturnType<typeof selectRequestLogExportBatch>>[number];
