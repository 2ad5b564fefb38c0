import { encodeGlobalID } from '../../graphql/global-id.js';
import type { ExportFormat } from './export-query.js';
import type { RequestLogExportRow } from './request-log-export.repository.js';

/**
 * One exported request: ids (gateway and provider keys as the GraphQL API's global ids), model,
 * provider, status, latencies, tokens, cost and tags. The stored raw upstream usage is left out,
 * and no column can hold a secret, a prompt or a completion.
 */
export interface ExportRecord {
  occurredAt: string;
  requestId: string;
  clientRequestId: string | null;
  upstreamRequestId: string | null;
  gatewayKeyId: string;
  providerKeyId: string | null;
  credentialSource: string | null;
  provider: string | null;
  model: string | null;
  region: string | null;
  stream: boolean;
  status: number;
  errorCode: string | null;
  latencyMs: number;
  ttfbMs: number | null;
  upstreamLatencyMs: number | null;
  inputUncachedTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  outputTokens: number | null;
  reasoningTokens: number | null;
  costMicroUsd: number | null;
  priceTableVersion: string | null;
  tags: string[];
}

/** Columns in CSV order, which is also the key order of each NDJSON object. */
export const exportColumns = [
  'occurredAt',
  'requestId',
  'clientRequestId',
  'upstreamRequestId',
  'gatewayKeyId',
  'providerKeyId',
  'credentialSource',
  'provider',
  'model',
  'region',
  'stream',
  'status',
  'errorCode',
  'latencyMs',
  'ttfbMs',
  'upstreamLatencyMs',
  'inputUncachedTokens',
  'cacheReadTokens',
  'cacheWriteTokens',
  'outputTokens',
  'reasoningTokens',
  'costMicroUsd',
  'priceTableVersion',
  'tags',
] as const satisfies readonly (keyof ExportRecord)[];

/** Bigint columns arrive as strings. Token counts and micro-USD costs stay far below 2^53, so a number is exact. */
function toNumber(value: string | number | null): number | null {
  return value === null ? null : Number(value);
}

export function toExportRecord(row: RequestLogExportRow): ExportRecord {
  return {
    occurredAt: row.occurred_at_text,
    requestId: row.request_id,
    clientRequestId: row.client_request_id,
    upstreamRequestId: row.upstream_request_id,
    gatewayKeyId: encodeGlobalID('GatewayKey', row.gateway_key_id),
    providerKeyId: row.provider_key_id === null ? null : encodeGlobalID('ProviderKey', row.provider_key_id),
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
    inputUncachedTokens: toNumber(row.input_uncached_tokens),
    cacheReadTokens: toNumber(row.cache_read_tokens),
    cacheWriteTokens: toNumber(row.cache_write_tokens),
    outputTokens: toNumber(row.output_tokens),
    reasoningTokens: toNumber(row.reasoning_tokens),
    costMicroUsd: toNumber(row.cost_micro_usd),
    priceTableVersion: row.price_table_version,
    tags: row.tags,
  };
}

/**
 * Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection"). A text cell
 * that starts with one of them gets a leading `'`, which spreadsheets show as text. No number
 * column can start with one, because they are never negative.
 */
const formulaTriggers = new Set(['=', '+', '-', '@', '\t', '\r']);

/** Formats one CSV cell: RFC 4180 quoting, after the formula escape. Tags are joined with commas. */
export function csvCell(value: string | number | boolean | null | readonly string[]): string {
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : value.join(',');
  if (text.length > 0 && formulaTriggers.has(text[0]!)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 ends every record, the last one included, with CRLF. */
const csvLineEnd = '\r\n';

/** Returns the text before the first row: the CSV header line, or nothing for NDJSON. */
export function formatPreamble(format: ExportFormat): string {
  return format === 'csv' ? exportColumns.join(',') + csvLineEnd : '';
}

/** Formats rows as CSV records or NDJSON lines, ready to write as one chunk. */
export function formatRows(format: ExportFormat, rows: readonly RequestLogExportRow[]): string {
  let text = '';
  for (const row of rows) {
    const record = toExportRecord(row);
    if (format === 'ndjson') {
      text += `${JSON.stringify(record)}\n`;
      continue;
    }
    text += exportColumns.map((column) => csvCell(record[column])).join(',') + csvLineEnd;
  }
  return text;
}
