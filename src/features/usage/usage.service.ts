import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { InputChecker } from '../../validation/input-checker.js';
import { usageRetentionStart } from '../retention/retention-window.js';
import { estimateLatencyQuantile } from './latency-histogram.js';
import { emptyUsageSums, type UsageSums } from './usage-sums.js';
import { bucketStart, canonicalTimeZone, coveringBuckets, findPartHourOffset, type BucketSize, type TimeBucket } from './time-buckets.js';
import { sumHourlyUsage, type HourlyUsageSums, type UsageFilter, type UsageScope } from './usage.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Maximum range per bucket size, in days. 31 days of hours are 744 buckets. 400 days cover a year
 * and leave room to compare a month with the same month a year earlier.
 */
export const maxUsageRangeDays: Readonly<Record<BucketSize, number>> = { HOUR: 31, DAY: 400 };

export interface UsageRequest {
  from: Date;
  to: Date;
  bucket: BucketSize;
  /** An IANA time zone name; DAY buckets are its local days. */
  timeZone: string;
  filter: UsageFilter;
}

export interface UsageFigures extends Omit<UsageSums, 'latencyBuckets'> {
  /** Estimates from the latency histogram, in milliseconds. Null without requests. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
}

export type UsageBucket = TimeBucket & UsageFigures;

export interface Usage {
  /** The requested range widened to whole buckets. */
  from: Date;
  to: Date;
  bucket: BucketSize;
  timeZone: string;
  totals: UsageFigures;
  /** Every bucket of the range, oldest first, with zeros where nothing was logged. */
  buckets: UsageBucket[];
}

interface UsagePlan {
  request: UsageRequest;
  buckets: TimeBucket[];
}

/** Usage from the hourly rollups that the request log writer maintains. */
export class UsageService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly retention: { usageRollupDays: number },
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Throws ValidationError for an invalid time zone or range. */
  async forOrganization(organizationId: string, request: UsageRequest): Promise<Usage> {
    const plan = this.#plan(request);
    const hours = await sumHourlyUsage(this.db, organizationId, { kind: 'organization' }, rangeOf(plan), request.filter);
    return toUsage(plan, hours);
  }

  /**
   * Returns the usage of each provider key of `ids`, in one query. Ids of other organizations get
   * zeros, because the query is limited to `organizationId`. Throws ValidationError as forOrganization.
   */
  forProviderKeys(organizationId: string, ids: readonly string[], request: UsageRequest): Promise<Map<string, Usage>> {
    return this.#forKeys(organizationId, { kind: 'providerKeys', ids }, request);
  }

  /** Like forProviderKeys, for gateway keys. */
  forGatewayKeys(organizationId: string, ids: readonly string[], request: UsageRequest): Promise<Map<string, Usage>> {
    return this.#forKeys(organizationId, { kind: 'gatewayKeys', ids }, request);
  }

  async #forKeys(organizationId: string, scope: Extract<UsageScope, { ids: readonly string[] }>, request: UsageRequest) {
    const plan = this.#plan(request);
    const hours = await sumHourlyUsage(this.db, organizationId, scope, rangeOf(plan), request.filter);
    const hoursByKey = new Map<string, HourlyUsageSums[]>(scope.ids.map((id) => [id, []]));
    for (const hour of hours) hoursByKey.get(hour.scopeId!)?.push(hour);
    return new Map([...hoursByKey].map(([id, keyHours]) => [id, toUsage(plan, keyHours)]));
  }

  /** Checks the request and computes its buckets, or throws a ValidationError listing every problem. */
  #plan(request: UsageRequest): UsagePlan {
    const checker = new InputChecker();
    const timeZone = canonicalTimeZone(request.timeZone);
    if (!timeZone) {
      checker.add(['timeZone'], `${JSON.stringify(request.timeZone.slice(0, 80))} is not an IANA time zone name; pass one such as UTC, Europe/Paris or America/New_York`);
    }

    const spanMs = request.to.getTime() - request.from.getTime();
    const maxDays = maxUsageRangeDays[request.bucket];
    if (spanMs <= 0) {
      checker.add(['to'], `must be later than from (${request.from.toISOString()}); pass the end of the range`);
    } else if (spanMs > maxDays * DAY_MS) {
      checker.add(
        ['to'],
        `the range spans ${formatDays(spanMs)} days, but ${request.bucket} buckets allow at most ${maxDays} days; ` +
          (request.bucket === 'HOUR' ? 'use bucket: DAY or a shorter range' : 'query a shorter range'),
      );
    }
    checker.throwIfInvalid();

    if (request.bucket === 'DAY') {
      const partHour = findPartHourOffset(timeZone!, request.from, request.to);
      if (partHour) {
        checker.add(
          ['timeZone'],
          `${timeZone} is ${formatOffset(partHour.offsetMs)} from UTC on ${partHour.at.toISOString().slice(0, 10)}, not a whole number of hours, ` +
            'so its days cannot be summed exactly from hourly usage; use bucket: HOUR, or a time zone with a whole-hour offset such as UTC',
        );
        checker.throwIfInvalid();
      }
    }

    const buckets = coveringBuckets(request.bucket, timeZone!, request.from, request.to);
    this.#checkRetention(checker, request.bucket, timeZone!, buckets[0]!.start);
    checker.throwIfInvalid();
    return { request: { ...request, timeZone: timeZone! }, buckets };
  }

  /**
   * Rejects a range whose first bucket starts before the retention job's cutoff, because rows before
   * the cutoff may already be deleted and the bucket would be short.
   */
  #checkRetention(checker: InputChecker, size: BucketSize, timeZone: string, firstStart: Date): void {
    const days = this.retention.usageRollupDays;
    const cutoff = usageRetentionStart(days, this.clock()).getTime();
    if (firstStart.getTime() >= cutoff) return;

    const cutoffBucket = bucketStart(size, timeZone, new Date(cutoff));
    const earliest =
      cutoffBucket.getTime() === cutoff ? cutoffBucket : coveringBuckets(size, timeZone, new Date(cutoff), new Date(cutoff + 1))[0]!.end;
    checker.add(
      ['from'],
      `starts before the usage retention of ${days} days (USAGE_ROLLUP_RETENTION_DAYS), so older usage may be deleted; ` +
        `the earliest ${size} bucket${size === 'DAY' ? ` in ${timeZone}` : ''} that is complete starts at ${earliest.toISOString()}: pass that or a later from`,
    );
  }
}

function rangeOf(plan: UsagePlan): { from: Date; to: Date } {
  return { from: plan.buckets[0]!.start, to: plan.buckets[plan.buckets.length - 1]!.end };
}


function addHour(sums: UsageSums, hour: HourlyUsageSums): void {
  sums.requests += hour.requests;
  sums.errors += hour.errors;
  sums.inputUncachedTokens += hour.inputUncachedTokens;
  sums.cacheReadTokens += hour.cacheReadTokens;
  sums.cacheWriteTokens += hour.cacheWriteTokens;
  sums.outputTokens += hour.outputTokens;
  sums.reasoningTokens += hour.reasoningTokens;
  sums.costMicroUsd += hour.costMicroUsd;
  hour.latencyBuckets.forEach((count, index) => {
    sums.latencyBuckets[index]! += count;
  });
}

function toFigures(sums: UsageSums): UsageFigures {
  const { latencyBuckets, ...counts } = sums;
  return {
    ...counts,
    latencyP50Ms: estimateLatencyQuantile(latencyBuckets, 0.5),
    latencyP95Ms: estimateLatencyQuantile(latencyBuckets, 0.95),
    latencyP99Ms: estimateLatencyQuantile(latencyBuckets, 0.99),
  };
}

/** Folds hourly sums into the plan's buckets. Every hour lies in exactly one bucket, because buckets start on UTC hours. */
function toUsage(plan: UsagePlan, hours: readonly HourlyUsageSums[]): Usage {
  const { buckets } = plan;
  const bucketSums = buckets.map(() => emptyUsageSums());
  const total = emptyUsageSums();
  const sorted = [...hours].sort((a, b) => a.hour.getTime() - b.hour.getTime());

  let index = 0;
  for (const hour of sorted) {
    while (index < buckets.length && hour.hour.getTime() >= buckets[index]!.end.getTime()) index += 1;
    if (index === buckets.length) break;
    addHour(bucketSums[index]!, hour);
    addHour(total, hour);
  }

  return {
    from: buckets[0]!.start,
    to: buckets[buckets.length - 1]!.end,
    bucket: plan.request.bucket,
    timeZone: plan.request.timeZone,
    totals: toFigures(total),
    buckets: buckets.map((bucket, position) => ({ ...bucket, ...toFigures(bucketSums[position]!) })),
  };
}

function formatDays(ms: number): string {
  const days = ms / DAY_MS;
  return Number.isInteger(days) ? String(days) : days.toFixed(1);
}

function formatOffset(offsetMs: number): string {
  const minutes = Math.abs(offsetMs) / 60_000;
  const sign = offsetMs < 0 ? '-' : '+';
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
