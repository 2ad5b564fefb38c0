/**
 * Upper bounds of the fixed latency histogram of the usage rollups, in milliseconds. Bucket i counts
 * the requests whose latency is above bound i-1 (or 0) and at most bound i. One more bucket counts
 * those above the last bound, 10 minutes, which is the default upstream idle timeout. The bounds
 * must match the columns of migrations/20261204150000_usage_rollups.ts, which a test checks.
 */
export const latencyBucketBoundsMs = [
  5, 10, 25, 50, 100, 150, 250, 400, 600, 1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 15_000, 25_000, 40_000, 60_000,
  120_000, 300_000, 600_000,
] as const;

export const latencyBucketCount = latencyBucketBoundsMs.length + 1;

export type LatencyBucketColumn = `latency_${'le' | 'gt'}_${number}ms`;

/** Column names of the buckets, in bucket order. */
export const latencyBucketColumns: readonly LatencyBucketColumn[] = [
  ...latencyBucketBoundsMs.map((bound): LatencyBucketColumn => `latency_le_${bound}ms`),
  `latency_gt_${latencyBucketBoundsMs[latencyBucketBoundsMs.length - 1]!}ms`,
];

/** Returns the index of the bucket that counts a latency of `latencyMs`. */
export function latencyBucketIndex(latencyMs: number): number {
  for (let index = 0; index < latencyBucketBoundsMs.length; index += 1) {
    if (latencyMs <= latencyBucketBoundsMs[index]!) return index;
  }
  return latencyBucketBoundsMs.length;
}

/**
 * Estimates the `fraction` quantile (0.5 for the median) of the latencies counted in `counts`, one
 * count per bucket, in milliseconds. Returns null when no request was counted.
 *
 * The estimate lies in the bucket that contains the nearest-rank quantile, interpolated linearly
 * within it as Prometheus' histogram_quantile does. For the open last bucket it is the last bound,
 * so a quantile above 10 minutes reads as 10 minutes.
 */
export function estimateLatencyQuantile(counts: readonly number[], fraction: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;

  const rank = fraction * total;
  let below = 0;
  for (let index = 0; index < counts.length; index += 1) {
    const count = counts[index]!;
    if (count > 0 && below + count >= rank) {
      if (index >= latencyBucketBoundsMs.length) return latencyBucketBoundsMs[latencyBucketBoundsMs.length - 1]!;
      const lower = index === 0 ? 0 : latencyBucketBoundsMs[index - 1]!;
      const upper = latencyBucketBoundsMs[index]!;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  // Only reached with fraction above 1.
  return latencyBucketBoundsMs[latencyBucketBoundsMs.length - 1]!;
}
