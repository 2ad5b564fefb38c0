import { describe, expect, it } from 'vitest';
import { estimateLatencyQuantile, latencyBucketBoundsMs, latencyBucketCount, latencyBucketIndex } from '../../src/features/usage/latency-histogram.js';
import { canonicalTimeZone, coveringBuckets, findPartHourOffset } from '../../src/features/usage/time-buckets.js';

// Bucket arithmetic that the usage query relies on, for zones and cases the GraphQL tests do not reach.

function spans(buckets: { start: Date; end: Date }[]) {
  return buckets.map((bucket) => [bucket.start.toISOString(), (bucket.end.getTime() - bucket.start.getTime()) / 3_600_000]);
}

describe('day buckets', () => {
  it('start at 01:00 where daylight saving skips midnight', () => {
    // America/Santiago moves from 00:00 -04 to 01:00 -03 on 2026-09-06.
    const buckets = coveringBuckets('DAY', 'America/Santiago', new Date('2026-09-05T12:00:00Z'), new Date('2026-09-07T12:00:00Z'));

    expect(spans(buckets)).toEqual([
      ['2026-09-05T04:00:00.000Z', 24],
      ['2026-09-06T04:00:00.000Z', 23],
      ['2026-09-07T03:00:00.000Z', 24],
    ]);
  });

  it('follow a zone east of UTC', () => {
    // Australia/Sydney moves from +10 to +11 on 2026-10-04, whose local midnight is 2026-10-03T14:00Z.
    const buckets = coveringBuckets('DAY', 'Australia/Sydney', new Date('2026-10-03T14:00:00Z'), new Date('2026-10-04T14:00:00Z'));

    expect(spans(buckets)).toEqual([
      ['2026-10-03T14:00:00.000Z', 23],
      ['2026-10-04T13:00:00.000Z', 24],
    ]);
  });

  it('end exactly at a bucket start without adding a bucket', () => {
    const buckets = coveringBuckets('DAY', 'UTC', new Date('2026-11-01T00:00:00Z'), new Date('2026-11-03T00:00:00Z'));

    expect(buckets).toHaveLength(2);
  });
});

describe('time zone names', () => {
  it.each([
    ['UTC', 'UTC'],
    ['utc', 'UTC'],
    ['Europe/Paris', 'Europe/Paris'],
    ['Etc/GMT+5', 'Etc/GMT+5'],
    ['Asia/Kolkata', 'Asia/Kolkata'],
    ['Europe/Kyiv', 'Europe/Kyiv'],
  ])('accepts %s', (name, canonical) => {
    expect(canonicalTimeZone(name)).toBe(canonical);
  });

  it.each(['', '+05:30', 'GMT+05:30', 'Mars/Olympus', 'Europe/Paris; drop table'])('rejects %j', (name) => {
    expect(canonicalTimeZone(name)).toBeUndefined();
  });

  it('finds the part-hour offset of Asia/Kathmandu', () => {
    const found = findPartHourOffset('Asia/Kathmandu', new Date('2026-11-01T00:00:00Z'), new Date('2026-11-02T00:00:00Z'));

    expect(found?.offsetMs).toBe((5 * 60 + 45) * 60_000);
  });

  it('finds none for America/New_York', () => {
    expect(findPartHourOffset('America/New_York', new Date('2026-01-01T00:00:00Z'), new Date('2026-12-31T00:00:00Z'))).toBeUndefined();
  });
});

describe('latency histogram', () => {
  it('counts a bound in its own bucket', () => {
    expect(latencyBucketIndex(5)).toBe(0);
    expect(latencyBucketIndex(5.5)).toBe(1);
    expect(latencyBucketIndex(600_000)).toBe(latencyBucketBoundsMs.length - 1);
    expect(latencyBucketIndex(600_001)).toBe(latencyBucketBoundsMs.length);
  });

  it('has no quantile without requests', () => {
    expect(estimateLatencyQuantile(new Array<number>(latencyBucketCount).fill(0), 0.5)).toBeNull();
  });

  it('reads the open last bucket as its lower bound', () => {
    const counts = new Array<number>(latencyBucketCount).fill(0);
    counts[latencyBucketCount - 1] = 3;

    expect(estimateLatencyQuantile(counts, 0.99)).toBe(600_000);
  });

  it('interpolates within a bucket', () => {
    // Four requests between 100 and 150 ms: the median is half-way, at rank 2 of 4.
    const counts = new Array<number>(latencyBucketCount).fill(0);
    counts[latencyBucketIndex(120)] = 4;

    expect(estimateLatencyQuantile(counts, 0.5)).toBe(125);
  });
});
