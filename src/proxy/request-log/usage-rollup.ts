import { latencyBucketIndex } from '../../features/usage/latency-histogram.js';
import { emptyUsageSums, type UsageSums } from '../../features/usage/usage-sums.js';
import type { RequestLogRow } from './request-log.repository.js';

const HOUR_MS = 60 * 60 * 1000;

/** The dimensions of usage_provider_key_hourly, which every rollup has. */
export interface ProviderKeyDimensions {
  organizationId: string;
  /** First instant of the UTC hour. */
  hour: Date;
  providerKeyId: string | null;
  provider: string | null;
  model: string | null;
  credentialSource: string | null;
}

/** The dimensions that usage_hourly and usage_tag_hourly share. */
export interface UsageDimensions extends ProviderKeyDimensions {
  gatewayKeyId: string;
}

export interface HourlyUsage extends UsageDimensions, UsageSums {
  /** The first digit of the HTTP status. */
  statusClass: number;
}

export interface ProviderKeyUsage extends ProviderKeyDimensions, UsageSums {}

export interface TagUsage extends UsageDimensions, UsageSums {
  tag: string;
}

/** Each list is sorted by its dimensions, so that concurrent writers tend to lock rollup rows in one order. */
export interface UsageRollups {
  hourly: HourlyUsage[];
  byProviderKey: ProviderKeyUsage[];
  tagged: TagUsage[];
}

/**
 * Sums request log rows into one entry per rollup row. Each dimension set appears once per list,
 * as the upsert requires: PostgreSQL rejects an INSERT ... ON CONFLICT DO UPDATE that would
 * update one row twice.
 */
export function aggregateUsage(rows: readonly RequestLogRow[]): UsageRollups {
  const hourly = new Map<string, HourlyUsage>();
  const byProviderKey = new Map<string, ProviderKeyUsage>();
  const tagged = new Map<string, TagUsage>();

  for (const row of rows) {
    const dimensions = dimensionsOf(row);
    const statusClass = Math.floor(row.status / 100);
    const providerKeyKey = [
      dimensions.organizationId,
      dimensions.hour.getTime(),
      dimensions.providerKeyId,
      dimensions.provider,
      dimensions.model,
      dimensions.credentialSource,
    ];
    const { gatewayKeyId, ...providerKeyDimensions } = dimensions;

    addRow(group(byProviderKey, providerKeyKey, () => providerKeyDimensions), row);
    addRow(group(hourly, [...providerKeyKey, gatewayKeyId, statusClass], () => ({ ...dimensions, statusClass })), row);
    for (const tag of row.tags ?? []) {
      addRow(group(tagged, [...providerKeyKey, gatewayKeyId, tag], () => ({ ...dimensions, tag })), row);
    }
  }

  return { hourly: sortedValues(hourly), byProviderKey: sortedValues(byProviderKey), tagged: sortedValues(tagged) };
}

/** Returns the sums of the group with this key, creating it with `dimensions` and zeros when it is new. */
function group<Dimensions extends object>(
  groups: Map<string, Dimensions & UsageSums>,
  key: unknown[],
  dimensions: () => Dimensions,
): Dimensions & UsageSums {
  const text = JSON.stringify(key);
  let sums = groups.get(text);
  if (!sums) {
    sums = { ...dimensions(), ...emptyUsageSums() };
    groups.set(text, sums);
  }
  return sums;
}

function dimensionsOf(row: RequestLogRow): UsageDimensions {
  return {
    organizationId: row.organization_id,
    hour: new Date(Math.floor(row.occurred_at.getTime() / HOUR_MS) * HOUR_MS),
    gatewayKeyId: row.gateway_key_id,
    providerKeyId: row.provider_key_id ?? null,
    provider: row.provider ?? null,
    model: row.model ?? null,
    credentialSource: row.credential_source ?? null,
  };
}

function addRow(sums: UsageSums, row: RequestLogRow): void {
  sums.requests += 1;
  if (row.status >= 400) sums.errors += 1;
  sums.inputUncachedTokens += toNumber(row.input_uncached_tokens);
  sums.cacheReadTokens += toNumber(row.cache_read_tokens);
  sums.cacheWriteTokens += toNumber(row.cache_write_tokens);
  sums.outputTokens += toNumber(row.output_tokens);
  sums.reasoningTokens += toNumber(row.reasoning_tokens);
  sums.costMicroUsd += toNumber(row.cost_micro_usd);
  sums.latencyBuckets[latencyBucketIndex(row.latency_ms)]! += 1;
}

/** Bigint columns accept strings too; toRequestLogRow always passes numbers or null. */
function toNumber(value: number | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(value);
}

function sortedValues<T>(groups: Map<string, T>): T[] {
  return [...groups.keys()].sort().map((key) => groups.get(key)!);
}
