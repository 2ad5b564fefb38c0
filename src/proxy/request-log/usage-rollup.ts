import { latencyBucketBoundsMs, latencyBucketColumns } from '../../features/usage/latency-histogram.js';
import { usageMeasureColumns, type UsageSums } from '../../features/usage/usage-sums.js';

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

/** A column of a rollup table and the SQL expression of its value, over request_logs rows. */
export interface RollupColumn {
  name: string;
  expression: string;
}

/**
 * A rollup table: the dimensions that it groups request_logs rows by, which are also the columns of
 * its unique constraint, and the rows it reads. Every rollup has the measures of `measureColumns`.
 */
export interface Rollup {
  table: 'usage_hourly' | 'usage_provider_key_hourly' | 'usage_tag_hourly';
  constraint: string;
  dimensions: readonly RollupColumn[];
  /** A join that adds columns to each row, such as one row per tag. */
  join?: string;
}

const providerKeyDimensions: RollupColumn[] = [
  { name: 'organization_id', expression: 'organization_id' },
  // The first instant of the UTC hour.
  { name: 'hour', expression: "date_trunc('hour', occurred_at, 'UTC')" },
  { name: 'provider_key_id', expression: 'provider_key_id' },
  { name: 'provider', expression: 'provider' },
  { name: 'model', expression: 'model' },
  { name: 'credential_source', expression: 'credential_source' },
];

const gatewayKeyDimension: RollupColumn = { name: 'gateway_key_id', expression: 'gateway_key_id' };

/** The three rollups, each in the column order of its unique constraint. */
export const rollups: readonly Rollup[] = [
  {
    table: 'usage_hourly',
    constraint: 'usage_hourly_key',
    dimensions: [
      ...providerKeyDimensions.slice(0, 2),
      gatewayKeyDimension,
      ...providerKeyDimensions.slice(2),
      // The first digit of the HTTP status: 2 for 2xx, 4 for 4xx and for 499.
      { name: 'status_class', expression: 'floor(status / 100.0)' },
    ],
  },
  { table: 'usage_provider_key_hourly', constraint: 'usage_provider_key_hourly_key', dimensions: providerKeyDimensions },
  {
    table: 'usage_tag_hourly',
    constraint: 'usage_tag_hourly_key',
    // A request with three tags is counted in three rows.
    dimensions: [
      providerKeyDimensions[0]!,
      { name: 'tag', expression: 'tag' },
      providerKeyDimensions[1]!,
      gatewayKeyDimension,
      ...providerKeyDimensions.slice(2),
    ],
    join: 'cross join unnest(tags) as tag',
  },
];

type MeasureColumn = (typeof usageMeasureColumns)[number][0];

/** Null token counts and costs add nothing, and a group without any adds zero. */
const measureExpressions: Record<MeasureColumn, string> = {
  request_count: 'count(*)',
  // Requests with a status of 400 or more, 499 (the client left) included.
  error_count: 'count(*) filter (where status >= 400)',
  input_uncached_tokens: 'coalesce(sum(input_uncached_tokens), 0)',
  cache_read_tokens: 'coalesce(sum(cache_read_tokens), 0)',
  cache_write_tokens: 'coalesce(sum(cache_write_tokens), 0)',
  output_tokens: 'coalesce(sum(output_tokens), 0)',
  reasoning_tokens: 'coalesce(sum(reasoning_tokens), 0)',
  cost_micro_usd: 'coalesce(sum(cost_micro_usd), 0)',
};

/**
 * The measures of every rollup as aggregates over the rows of one group. Latency bucket i counts
 * the rows whose latency_ms is above bound i-1 and at most bound i, as latencyBucketIndex does: the
 * first bucket has no lower bound and the last no upper bound.
 */
export const measureColumns: readonly RollupColumn[] = [
  ...usageMeasureColumns.map(([name]) => ({ name, expression: measureExpressions[name] })),
  ...latencyBucketColumns.map((name, index) => {
    const lower = index === 0 ? undefined : latencyBucketBoundsMs[index - 1];
    const upper = latencyBucketBoundsMs[index];
    const conditions = [
      ...(lower === undefined ? [] : [`latency_ms > ${lower}`]),
      ...(upper === undefined ? [] : [`latency_ms <= ${upper}`]),
    ];
    return { name, expression: `count(*) filter (where ${conditions.join(' and ')})` };
  }),
];
