import type { CredentialSource } from '../../features/provider-keys/resolution.js';
import type { ProviderId } from '../../providers/providers.js';

export const MAX_TAGS = 10;
/** In Unicode code points, which is what PostgreSQL's char_length counts. */
export const MAX_TAG_LENGTH = 64;

/**
 * One proxied request, as stored in a `request_logs` row. Each field maps to the column of the same
 * name in snake_case.
 */
export interface RequestLogEntry {
  /**
   * Primary key together with occurredAt. The caller generates it (a UUID), so that a batch retried
   * after a lost commit acknowledgement does not write the row twice.
   */
  id: string;
  /** Time the request arrived. Its UTC day selects the partition. */
  occurredAt: Date;
  organizationId: string;
  gatewayKeyId: string;
  /** Null for platform credentials, and for requests rejected before a key was chosen. */
  providerKeyId: string | null;
  credentialSource: CredentialSource | null;
  provider: ProviderId | null;
  model: string | null;
  /** Upstream region, such as the Bedrock or Vertex AI region that served the request. */
  region: string | null;
  stream: boolean;
  /** HTTP status sent to the client, or 499 when the client closed the connection first. */
  status: number;
  errorCode: string | null;
  /** Milliseconds from arrival to the end of the response. Rounded to an integer when written. */
  latencyMs: number;
  /** Milliseconds from arrival to the first response byte. Rounded to an integer when written. */
  ttfbMs: number | null;
  /** Milliseconds the upstream took to respond. Rounded to an integer when written. */
  upstreamLatencyMs: number | null;
  inputUncachedTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  outputTokens: number | null;
  reasoningTokens: number | null;
  /** The usage object exactly as the upstream sent it. */
  rawUsage: Record<string, unknown> | null;
  costMicroUsd: number | null;
  /** Version of the price table that costMicroUsd was computed with. */
  priceTableVersion: string | null;
  /** Output of boundTags. The database rejects a row with more or longer tags. */
  tags: string[];
  /** The gateway's own request id. */
  requestId: string;
  /** The request id that the client sent, if any. */
  clientRequestId: string | null;
  /** The request id that the upstream returned, if any. */
  upstreamRequestId: string | null;
}

/**
 * Bounds client-supplied tags for storage: trims each tag, cuts it to MAX_TAG_LENGTH code points,
 * drops empty tags and duplicates, and keeps the first MAX_TAGS. Cutting happens before the
 * duplicate check, so two tags that differ only after the limit count as one.
 */
export function boundTags(raw: string[]): string[] {
  const tags: string[] = [];
  for (const candidate of raw) {
    if (tags.length === MAX_TAGS) break;
    const tag = truncateCodePoints(candidate.trim(), MAX_TAG_LENGTH).trimEnd();
    if (tag === '' || tags.includes(tag)) continue;
    tags.push(tag);
  }
  return tags;
}

/** Cuts by code point, so that a surrogate pair is never split into invalid UTF-16. */
function truncateCodePoints(value: string, maxLength: number): string {
  // A string of at most maxLength UTF-16 units has at most maxLength code points.
  if (value.length <= maxLength) return value;
  return Array.from(value).slice(0, maxLength).join('');
}
