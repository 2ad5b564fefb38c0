import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latencyBucketBoundsMs } from '../../src/features/usage/latency-histogram.js';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import type { UsageBucketSize, UsageFilter } from '../generated/graphql.js';
import { createGatewayKey, createOrganization, createProviderKey } from '../proxy/helpers.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';
import { makeEntry, type SeededKeys } from '../request-log/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { GatewayKeyUsage, OrganizationUsage } from './documents.js';
import { issueToken, member, runGraphql, writeEntries } from './helpers.js';

// Bucketing of usage at hour and day boundaries, in UTC and in America/New_York across both of its
// 2026 daylight saving changes (March 8, a 23-hour day, and November 1, a 25-hour day), and the
// latency percentiles estimated from the histogram.

let database: TestDatabase;
let server: InProcessServer;
let keys: SeededKeys;
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServerOver(database.handle);
  const organizationId = await createOrganization(server);
  const gatewayKey = await createGatewayKey(server, organizationId);
  const providerKey = await createProviderKey(server, organizationId, {
    provider: 'ANTHROPIC',
    apiKey: apiKeyFor('ANTHROPIC'),
    assignment: { organization: true },
  });
  keys = { organizationId, gatewayKeyId: gatewayKey.id, providerKeyId: providerKey.id };
  token = await issueToken(server, organizationId);
});

afterAll(async () => {
  await server?.stop();
  await database?.destroy();
});

/** Entries with a tag of their own, so each test reads only its own requests. */
function entriesAt(tag: string, times: string[], overrides: Partial<RequestLogEntry> = {}): RequestLogEntry[] {
  return times.map((time) => makeEntry(keys, { occurredAt: new Date(time), tags: [tag], ...overrides }));
}

async function usageOf(tag: string, from: string, to: string, bucket: UsageBucketSize, timeZone = 'UTC', filter: UsageFilter = {}) {
  const response = await runGraphql(server, OrganizationUsage, { from, to, bucket, timeZone, filter: { tag, ...filter } }, token);
  return member(response.data?.viewer.organization.usage, 'Usage');
}

async function rejectionOf(variables: { from: string; to: string; bucket: UsageBucketSize; timeZone: string }) {
  const response = await runGraphql(server, OrganizationUsage, variables, token);
  return member(response.data?.viewer.organization.usage, 'ValidationError');
}

function requestsPerBucket(usage: Awaited<ReturnType<typeof usageOf>>) {
  return usage.buckets.map((bucket) => [bucket.start, bucket.end, bucket.requests]);
}

describe('hour buckets in UTC', () => {
  it('split at the hour, with an empty hour in the middle', async () => {
    await writeEntries(server, entriesAt('hours', ['2026-11-20T09:59:59.999Z', '2026-11-20T10:00:00.000Z', '2026-11-20T12:30:00Z']));

    const usage = await usageOf('hours', '2026-11-20T09:00:00Z', '2026-11-20T13:00:00Z', 'HOUR');

    expect(requestsPerBucket(usage)).toEqual([
      ['2026-11-20T09:00:00.000Z', '2026-11-20T10:00:00.000Z', 1],
      ['2026-11-20T10:00:00.000Z', '2026-11-20T11:00:00.000Z', 1],
      ['2026-11-20T11:00:00.000Z', '2026-11-20T12:00:00.000Z', 0],
      ['2026-11-20T12:00:00.000Z', '2026-11-20T13:00:00.000Z', 1],
    ]);
  });

  it('an empty bucket has zeros and no percentiles', async () => {
    const usage = await usageOf('hours', '2026-11-20T11:00:00Z', '2026-11-20T12:00:00Z', 'HOUR');

    expect(usage.buckets[0]).toMatchObject({ requests: 0, errors: 0, outputTokens: 0, costMicroUsd: 0, latencyP50Ms: null });
  });

  it('widen the range to whole hours', async () => {
    const usage = await usageOf('hours', '2026-11-20T09:30:00Z', '2026-11-20T10:00:00.001Z', 'HOUR');

    expect(usage.from).toBe('2026-11-20T09:00:00.000Z');
    expect(usage.to).toBe('2026-11-20T11:00:00.000Z');
    expect(usage.totals.requests).toBe(2);
  });
});

describe('day buckets in UTC', () => {
  it('split at midnight, with an empty day in the middle', async () => {
    await writeEntries(server, entriesAt('days', ['2026-11-10T23:59:59.999Z', '2026-11-11T00:00:00Z', '2026-11-13T08:00:00Z']));

    const usage = await usageOf('days', '2026-11-10T00:00:00Z', '2026-11-14T00:00:00Z', 'DAY');

    expect(requestsPerBucket(usage)).toEqual([
      ['2026-11-10T00:00:00.000Z', '2026-11-11T00:00:00.000Z', 1],
      ['2026-11-11T00:00:00.000Z', '2026-11-12T00:00:00.000Z', 1],
      ['2026-11-12T00:00:00.000Z', '2026-11-13T00:00:00.000Z', 0],
      ['2026-11-13T00:00:00.000Z', '2026-11-14T00:00:00.000Z', 1],
    ]);
  });
});

describe('day buckets in America/New_York', () => {
  it('the 25-hour day of November 1', async () => {
    // Local midnights: October 31 and November 1 at 04:00Z (EDT), November 2 and 3 at 05:00Z (EST).
    await writeEntries(
      server,
      entriesAt('fall-back', [
        '2026-11-01T03:59:00Z', // October 31, 23:59 EDT
        '2026-11-01T04:00:00Z', // November 1, 00:00 EDT
        '2026-11-02T04:30:00Z', // November 1, 23:30 EST, in the 25th hour of the day
        '2026-11-02T05:00:00Z', // November 2, 00:00 EST
      ]),
    );

    const usage = await usageOf('fall-back', '2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z', 'DAY', 'America/New_York');

    expect(requestsPerBucket(usage)).toEqual([
      ['2026-10-31T04:00:00.000Z', '2026-11-01T04:00:00.000Z', 1],
      ['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', 2],
      ['2026-11-02T05:00:00.000Z', '2026-11-03T05:00:00.000Z', 1],
    ]);
  });

  it('the 23-hour day of March 8', async () => {
    // Local midnights: March 8 at 05:00Z (EST), March 9 at 04:00Z (EDT).
    await writeEntries(
      server,
      entriesAt('spring-forward', [
        '2026-03-08T04:59:00Z', // March 7, 23:59 EST
        '2026-03-09T03:30:00Z', // March 8, 23:30 EDT
        '2026-03-09T04:00:00Z', // March 9, 00:00 EDT
      ]),
    );

    const usage = await usageOf('spring-forward', '2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z', 'DAY', 'America/New_York');

    expect(requestsPerBucket(usage)).toEqual([
      ['2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z', 1],
      ['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', 1],
      ['2026-03-09T04:00:00.000Z', '2026-03-10T04:00:00.000Z', 1],
    ]);
  });

  it('an empty day in the middle', async () => {
    await writeEntries(server, entriesAt('new-york-gap', ['2026-11-18T16:00:00Z', '2026-11-20T16:00:00Z']));

    const usage = await usageOf('new-york-gap', '2026-11-18T05:00:00Z', '2026-11-21T05:00:00Z', 'DAY', 'America/New_York');

    expect(usage.buckets.map((bucket) => bucket.requests)).toEqual([1, 0, 1]);
  });

  it('widen the range to local midnights', async () => {
    const usage = await usageOf('new-york-gap', '2026-11-18T12:00:00Z', '2026-11-20T12:00:00Z', 'DAY', 'America/New_York');

    expect(usage.from).toBe('2026-11-18T05:00:00.000Z');
    expect(usage.to).toBe('2026-11-21T05:00:00.000Z');
  });

  it('a UTC day differs from the local day', async () => {
    // 2026-11-20T03:00Z is November 20 in UTC but November 19 in New York.
    await writeEntries(server, entriesAt('zone-day', ['2026-11-20T03:00:00Z']));

    const utc = await usageOf('zone-day', '2026-11-19T00:00:00Z', '2026-11-21T00:00:00Z', 'DAY', 'UTC');
    const newYork = await usageOf('zone-day', '2026-11-19T05:00:00Z', '2026-11-21T05:00:00Z', 'DAY', 'America/New_York');

    expect(utc.buckets.map((bucket) => bucket.requests)).toEqual([0, 1]);
    expect(newYork.buckets.map((bucket) => bucket.requests)).toEqual([1, 0]);
  });
});

describe('latency percentiles', () => {
  /** Returns the bounds of the histogram bucket that contains `latencyMs`. */
  function bucketBounds(latencyMs: number): [number, number] {
    const index = latencyBucketBoundsMs.findIndex((bound) => latencyMs <= bound);
    return [index === 0 ? 0 : latencyBucketBoundsMs[index - 1]!, latencyBucketBoundsMs[index]!];
  }

  beforeAll(async () => {
    // 90 requests of 120 ms, 8 of 3 s and 2 of 70 s: the median is 120 ms, the 95th percentile 3 s
    // and the 99th percentile 70 s, each in a different bucket.
    const times = (count: number) => Array.from({ length: count }, () => '2026-11-22T10:15:00Z');
    await writeEntries(server, [
      ...entriesAt('latency', times(90), { latencyMs: 120 }),
      ...entriesAt('latency', times(8), { latencyMs: 3_000 }),
      ...entriesAt('latency', times(2), { latencyMs: 70_000 }),
    ]);
  });

  it('median in the bucket of 120 ms', async () => {
    const usage = await usageOf('latency', '2026-11-22T10:00:00Z', '2026-11-22T11:00:00Z', 'HOUR');
    const [lower, upper] = bucketBounds(120);

    expect(usage.totals.latencyP50Ms).toBeGreaterThan(lower);
    expect(usage.totals.latencyP50Ms).toBeLessThanOrEqual(upper);
  });

  it('95th percentile in the bucket of 3 s', async () => {
    const usage = await usageOf('latency', '2026-11-22T10:00:00Z', '2026-11-22T11:00:00Z', 'HOUR');
    const [lower, upper] = bucketBounds(3_000);

    expect(usage.totals.latencyP95Ms).toBeGreaterThan(lower);
    expect(usage.totals.latencyP95Ms).toBeLessThanOrEqual(upper);
  });

  it('99th percentile in the bucket of 70 s', async () => {
    const usage = await usageOf('latency', '2026-11-22T10:00:00Z', '2026-11-22T11:00:00Z', 'HOUR');
    const [lower, upper] = bucketBounds(70_000);

    expect(usage.totals.latencyP99Ms).toBeGreaterThan(lower);
    expect(usage.totals.latencyP99Ms).toBeLessThanOrEqual(upper);
  });

  it('the same in the bucket as in the totals', async () => {
    const usage = await usageOf('latency', '2026-11-22T10:00:00Z', '2026-11-22T11:00:00Z', 'HOUR');

    expect(usage.buckets[0]!.latencyP95Ms).toBe(usage.totals.latencyP95Ms);
  });
});

describe('usage arguments', () => {
  it('an HOUR range over 31 days is rejected', async () => {
    const error = await rejectionOf({ from: '2026-10-01T00:00:00Z', to: '2026-11-02T00:00:00Z', bucket: 'HOUR', timeZone: 'UTC' });

    expect(error.fieldErrors).toEqual([{ path: ['to'], message: expect.stringContaining('at most 31 days') }]);
    expect(error.message).toContain('use bucket: DAY');
  });

  it('a DAY range over 400 days is rejected', async () => {
    const error = await rejectionOf({ from: '2025-10-01T00:00:00Z', to: '2026-11-20T00:00:00Z', bucket: 'DAY', timeZone: 'UTC' });

    expect(error.fieldErrors).toEqual([{ path: ['to'], message: expect.stringContaining('at most 400 days') }]);
  });

  it('a range before the usage retention is rejected', async () => {
    const from = new Date(Date.now() - 402 * 86_400_000);
    const to = new Date(from.getTime() + 86_400_000);

    const error = await rejectionOf({ from: from.toISOString(), to: to.toISOString(), bucket: 'DAY', timeZone: 'UTC' });

    expect(error.fieldErrors[0]!.path).toEqual(['from']);
    expect(error.message).toContain('USAGE_ROLLUP_RETENTION_DAYS');
    expect(error.message).toMatch(/starts at \d{4}-\d{2}-\d{2}T00:00:00\.000Z/);
  });

  it('the earliest from the error names is accepted', async () => {
    const from = new Date(Date.now() - 402 * 86_400_000);
    const to = new Date(from.getTime() + 2 * 86_400_000);
    const error = await rejectionOf({ from: from.toISOString(), to: to.toISOString(), bucket: 'DAY', timeZone: 'UTC' });
    const earliest = /starts at (\S+):/.exec(error.message)![1]!;

    const usage = await usageOf('none', earliest, new Date(Date.parse(earliest) + 86_400_000).toISOString(), 'DAY');

    expect(usage.from).toBe(earliest);
  });

  it('the last 400 days in Europe/Paris are accepted', async () => {
    // One reading of the clock: two would make the range a millisecond or more longer than 400 days.
    const now = Date.now();
    const usage = await usageOf('none', new Date(now - 400 * 86_400_000).toISOString(), new Date(now).toISOString(), 'DAY', 'Europe/Paris');

    expect(usage.buckets.length).toBeGreaterThanOrEqual(400);
  });

  it('to before from is rejected', async () => {
    const error = await rejectionOf({ from: '2026-11-20T00:00:00Z', to: '2026-11-19T00:00:00Z', bucket: 'DAY', timeZone: 'UTC' });

    expect(error.fieldErrors).toEqual([{ path: ['to'], message: expect.stringContaining('must be later than from') }]);
  });

  it('an unknown time zone is rejected', async () => {
    const error = await rejectionOf({ from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z', bucket: 'DAY', timeZone: 'Mars/Olympus' });

    expect(error.fieldErrors).toEqual([{ path: ['timeZone'], message: expect.stringContaining('is not an IANA time zone name') }]);
  });

  it('an offset is not a time zone name', async () => {
    const error = await rejectionOf({ from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z', bucket: 'DAY', timeZone: '+05:30' });

    expect(error.fieldErrors[0]!.path).toEqual(['timeZone']);
  });

  it('day buckets of a half-hour zone are rejected', async () => {
    const error = await rejectionOf({ from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z', bucket: 'DAY', timeZone: 'Asia/Kolkata' });

    expect(error.fieldErrors).toEqual([{ path: ['timeZone'], message: expect.stringContaining('+05:30') }]);
    expect(error.message).toContain('use bucket: HOUR');
    expect(error.message).toContain('Asia/Kolkata');
  });

  it('hour buckets of a half-hour zone are accepted', async () => {
    const usage = await usageOf('hours', '2026-11-20T09:00:00Z', '2026-11-20T13:00:00Z', 'HOUR', 'Asia/Kolkata');

    expect(usage.totals.requests).toBe(3);
  });

  it('a time zone is returned canonically spelled', async () => {
    const usage = await usageOf('none', '2026-11-20T00:00:00Z', '2026-11-21T00:00:00Z', 'DAY', 'america/new_york');

    expect(usage.timeZone).toBe('America/New_York');
  });

  it('a gateway key reports the same error', async () => {
    const response = await runGraphql(
      server,
      GatewayKeyUsage,
      { id: encodeGlobalID('GatewayKey', keys.gatewayKeyId), from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z', bucket: 'DAY', timeZone: 'Nowhere/Else' },
      token,
    );

    const error = member(member(response.data?.node, 'GatewayKey').usage, 'ValidationError');
    expect(error.fieldErrors[0]!.path).toEqual(['timeZone']);
  });
});
