import { latencyBucketCount } from './latency-histogram.js';

/** Counts and sums of a group of requests. Null token counts and costs add nothing. */
export interface UsageSums {
  requests: number;
  /** Requests with a status of 400 or more, 499 (the client left) included. */
  errors: number;
  inputUncachedTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costMicroUsd: number;
  /** One count per bucket of the latency histogram. */
  latencyBuckets: number[];
}

/**
 * The measure columns of the usage rollup tables besides the latency buckets: the column, the
 * UsageSums field it stores, and its PostgreSQL type.
 */
export const usageMeasureColumns = [
  ['request_count', 'requests', 'integer'],
  ['error_count', 'errors', 'integer'],
  ['input_uncached_tokens', 'inputUncachedTokens', 'bigint'],
  ['cache_read_tokens', 'cacheReadTokens', 'bigint'],
  ['cache_write_tokens', 'cacheWriteTokens', 'bigint'],
  ['output_tokens', 'outputTokens', 'bigint'],
  ['reasoning_tokens', 'reasoningTokens', 'bigint'],
  ['cost_micro_usd', 'costMicroUsd', 'bigint'],
] as const satisfies readonly (readonly [column: string, field: Exclude<keyof UsageSums, 'latencyBuckets'>, type: string])[];

/** Returns sums of no requests, with every latency bucket at zero. */
export function emptyUsageSums(): UsageSums {
  return {
    requests: 0,
    errors: 0,
    inputUncachedTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costMicroUsd: 0,
    latencyBuckets: new Array<number>(latencyBucketCount).fill(0),
  };
}
