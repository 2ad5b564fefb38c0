import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogConfig } from '../../src/config/request-log.config.js';
import { latencyBucketColumns } from '../../src/features/usage/latency-histogram.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { QueryLog } from '../support/query-log.js';
import { makeEntry, seedOrganizationWithKeys, type SeededKeys } from '../request-log/fixtures.js';

// The rollups that RequestLogWriter maintains in the transaction of each batch it writes.

const manualFlush: RequestLogConfig = { queueMaxEntries: 10_000, batchSize: 1_000, flushIntervalMs: 600_000, stopTimeoutMs: 5_000 };
const hour = new Date('2026-11-20T10:00:00Z');

let database: TestDatabase;
const writers: RequestLogWriter[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  await Promise.all(writers.splice(0).map((writer) => writer.stop()));
});

afterAll(async () => {
  await database?.destroy();
});

function createWriter(db = database.db) {
  const writer = new RequestLogWriter({ db, logger: captureLogs().logger, config: manualFlush });
  writers.push(writer);
  return writer;
}

async function write(entries: RequestLogEntry[], writer = createWriter()) {
  for (const entry of entries) writer.enqueue(entry);
  await writer.flush();
  return writer;
}

async function hourlyRows(keys: SeededKeys) {
  return database.db
    .selectFrom('usage_hourly')
    .selectAll()
    .where('organization_id', '=', keys.organizationId)
    .orderBy('status_class')
    .execute();
}

async function tagRows(keys: SeededKeys) {
  return database.db.selectFrom('usage_tag_hourly').selectAll().where('organization_id', '=', keys.organizationId).orderBy('tag').execute();
}

describe('hourly rollup', () => {
  it('sums a batch into one row per dimension set', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const entries = [
      makeEntry(keys, { occurredAt: new Date('2026-11-20T10:05:00Z'), inputUncachedTokens: 100, outputTokens: 10, costMicroUsd: 7 }),
      makeEntry(keys, { occurredAt: new Date('2026-11-20T10:55:00Z'), inputUncachedTokens: 200, outputTokens: 20, costMicroUsd: 11 }),
    ];

    await write(entries);
    const rows = await hourlyRows(keys);

    expect(rows).toHaveLength(1);
    expect(rows[0]!.hour).toEqual(hour);
    expect(rows[0]!.request_count).toBe(2);
    expect(Number(rows[0]!.input_uncached_tokens)).toBe(300);
    expect(Number(rows[0]!.output_tokens)).toBe(30);
    expect(Number(rows[0]!.cost_micro_usd)).toBe(18);
  });

  it('adds later batches to the same row', async () => {
    const keys = await seedOrganizationWithKeys(database.db);

    await write([makeEntry(keys, { occurredAt: hour, cacheReadTokens: 5 })]);
    await write([makeEntry(keys, { occurredAt: hour, cacheReadTokens: 7 })]);
    const rows = await hourlyRows(keys);

    expect(rows).toHaveLength(1);
    expect(rows[0]!.request_count).toBe(2);
    expect(Number(rows[0]!.cache_read_tokens)).toBe(12);
  });

  it('splits rows by hour and status class', async () => {
    const keys = await seedOrganizationWithKeys(database.db);

    await write([
      makeEntry(keys, { occurredAt: new Date('2026-11-20T10:59:59.999Z') }),
      makeEntry(keys, { occurredAt: new Date('2026-11-20T11:00:00.000Z') }),
      makeEntry(keys, { occurredAt: new Date('2026-11-20T11:00:00.000Z'), status: 499 }),
      makeEntry(keys, { occurredAt: new Date('2026-11-20T11:00:00.000Z'), status: 502 }),
    ]);
    const rows = await hourlyRows(keys);

    expect(rows.map((row) => [row.hour.toISOString(), row.status_class, row.request_count, row.error_count])).toEqual(
      expect.arrayContaining([
        ['2026-11-20T10:00:00.000Z', 2, 1, 0],
        ['2026-11-20T11:00:00.000Z', 2, 1, 0],
        ['2026-11-20T11:00:00.000Z', 4, 1, 1],
        ['2026-11-20T11:00:00.000Z', 5, 1, 1],
      ]),
    );
    expect(rows).toHaveLength(4);
  });

  it('null token counts add nothing', async () => {
    const keys = await seedOrganizationWithKeys(database.db);

    await write([
      makeEntry(keys, { occurredAt: hour, reasoningTokens: null, costMicroUsd: null, outputTokens: 4 }),
      makeEntry(keys, { occurredAt: hour, reasoningTokens: 3, costMicroUsd: 9, outputTokens: null }),
    ]);
    const [row] = await hourlyRows(keys);

    expect(Number(row!.reasoning_tokens)).toBe(3);
    expect(Number(row!.cost_micro_usd)).toBe(9);
    expect(Number(row!.output_tokens)).toBe(4);
  });

  it('rolls requests without a provider key into one row', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const platform = { providerKeyId: null, credentialSource: 'PLATFORM' as const, occurredAt: hour };

    await write([makeEntry(keys, platform)]);
    await write([makeEntry(keys, platform)]);
    const rows = await hourlyRows(keys);

    expect(rows).toHaveLength(1);
    expect(rows[0]!.provider_key_id).toBeNull();
    expect(rows[0]!.request_count).toBe(2);
  });

  it.each(['usage_provider_key_hourly', 'usage_tag_hourly'] as const)('rolls them into one row of %s too', async (table) => {
    const keys = await seedOrganizationWithKeys(database.db);
    const platform = { providerKeyId: null, credentialSource: 'PLATFORM' as const, occurredAt: hour, tags: ['platform'] };

    await write([makeEntry(keys, platform)]);
    await write([makeEntry(keys, platform)]);
    const rows = await database.db.selectFrom(table).select('request_count').where('organization_id', '=', keys.organizationId).execute();

    expect(rows.map((row) => row.request_count)).toEqual([2]);
  });

  it('counts latency in its histogram bucket', async () => {
    const keys = await seedOrganizationWithKeys(database.db);

    await write([
      makeEntry(keys, { occurredAt: hour, latencyMs: 5 }),
      makeEntry(keys, { occurredAt: hour, latencyMs: 5.4 }),
      makeEntry(keys, { occurredAt: hour, latencyMs: 6 }),
      makeEntry(keys, { occurredAt: hour, latencyMs: 700_000 }),
    ]);
    const [row] = await hourlyRows(keys);

    expect(row!.latency_le_5ms).toBe(2);
    expect(row!.latency_le_10ms).toBe(1);
    expect(row!.latency_gt_600000ms).toBe(1);
    expect(latencyBucketColumns.reduce((sum, column) => sum + Number(row![column]), 0)).toBe(4);
  });
});

describe('provider key rollup', () => {
  it('sums gateway keys and status classes into one row', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const otherGatewayKey = { ...keys, gatewayKeyId: randomUUID() };

    await write([
      makeEntry(keys, { occurredAt: hour, outputTokens: 10 }),
      makeEntry(otherGatewayKey, { occurredAt: hour, outputTokens: 5, status: 500 }),
      makeEntry(keys, { occurredAt: hour, model: 'claude-haiku-4-5', outputTokens: 1 }),
    ]);
    const rows = await database.db
      .selectFrom('usage_provider_key_hourly')
      .selectAll()
      .where('organization_id', '=', keys.organizationId)
      .orderBy('model')
      .execute();

    expect(rows.map((row) => [row.model, row.request_count, row.error_count, Number(row.output_tokens)])).toEqual([
      ['claude-haiku-4-5', 1, 0, 1],
      ['claude-sonnet-4-5', 2, 1, 15],
    ]);
  });
});

describe('tag rollup', () => {
  it('counts a request once per tag', async () => {
    const keys = await seedOrganizationWithKeys(database.db);

    await write([
      makeEntry(keys, { occurredAt: hour, tags: ['checkout', 'eu'], outputTokens: 10 }),
      makeEntry(keys, { occurredAt: hour, tags: ['eu'], outputTokens: 5 }),
      makeEntry(keys, { occurredAt: hour, tags: [] }),
    ]);
    const rows = await tagRows(keys);

    expect(rows.map((row) => [row.tag, row.request_count, Number(row.output_tokens)])).toEqual([
      ['checkout', 1, 10],
      ['eu', 2, 15],
    ]);
  });

  it('groups by the exact tag text', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const tags = ['NULL', 'null', 'a,b', '{a}', 'say "hi"', 'back\\slash', ' padded ', 'Grüße 😀'];

    await write([makeEntry(keys, { occurredAt: hour, tags }), makeEntry(keys, { occurredAt: hour, tags: ['a', 'b'] })]);
    const rows = await tagRows(keys);

    expect(rows.map((row) => row.tag).sort()).toEqual([...tags, 'a', 'b'].sort());
    for (const row of rows) expect(row.request_count).toBe(1);
  });
});

describe('rollup dimensions', () => {
  it('groups by the exact model text', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const models = ['model "x", {y}', 'model \\x', 'NULL', ''];

    await write([...models, ...models].map((model) => makeEntry(keys, { occurredAt: hour, model })));
    const rows = await hourlyRows(keys);

    expect(rows.map((row) => row.model).sort()).toEqual([...models].sort());
    for (const row of rows) expect(row.request_count).toBe(2);
  });
});

describe('rollup consistency', () => {
  it('a row stored again is not counted again', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const entry = makeEntry(keys, { occurredAt: hour, tags: ['retry'] });

    // The second write is what a retry does after a commit whose acknowledgement was lost.
    await write([entry]);
    await write([{ ...entry }, makeEntry(keys, { occurredAt: hour })]);
    const rows = await hourlyRows(keys);
    const tags = await tagRows(keys);

    expect(rows[0]!.request_count).toBe(2);
    expect(tags[0]!.request_count).toBe(1);
  });

  it('a rejected row is neither stored nor counted', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const tooManyTags = Array.from({ length: 11 }, (_, index) => `tag-${index}`);

    const writer = await write([
      makeEntry(keys, { occurredAt: hour }),
      makeEntry(keys, { occurredAt: hour, tags: tooManyTags }),
      makeEntry(keys, { occurredAt: hour }),
    ]);
    const rows = await hourlyRows(keys);

    expect(writer.stats.dropped).toBe(1);
    expect(rows[0]!.request_count).toBe(2);
  });

  it('a failed rollup leaves the batch unwritten', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    // Makes the rollup upsert, not the log insert, fail for one model.
    await sql`alter table usage_hourly add constraint usage_test_reject check (model is distinct from 'rollup-rejects-this')`.execute(database.db);
    try {
      const writer = await write([
        makeEntry(keys, { occurredAt: hour }),
        makeEntry(keys, { occurredAt: hour, model: 'rollup-rejects-this' }),
      ]);
      const stored = await database.db.selectFrom('request_logs').select('model').where('organization_id', '=', keys.organizationId).execute();
      const rows = await hourlyRows(keys);

      expect(writer.stats.dropped).toBe(1);
      expect(stored.map((row) => row.model)).toEqual(['claude-sonnet-4-5']);
      expect(rows.map((row) => row.request_count)).toEqual([1]);
    } finally {
      await sql`alter table usage_hourly drop constraint usage_test_reject`.execute(database.db);
    }
  });

  it('request count equals stored rows', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const entries = Array.from({ length: 250 }, (_, index) =>
      makeEntry(keys, {
        occurredAt: new Date(hour.getTime() + index * 60_000),
        status: index % 7 === 0 ? 500 : 200,
        tags: index % 3 === 0 ? ['third'] : [],
      }),
    );

    await write(entries);
    const stored = await sql<{ count: number }>`
      select count(*)::int as count from request_logs where organization_id = ${keys.organizationId}
    `.execute(database.db);
    const counted = await sql<{ count: number; errors: number }>`
      select sum(request_count)::int as count, sum(error_count)::int as errors from usage_hourly where organization_id = ${keys.organizationId}
    `.execute(database.db);

    expect(counted.rows[0]!.count).toBe(stored.rows[0]!.count);
    expect(counted.rows[0]!.errors).toBe(entries.filter((entry) => entry.status >= 400).length);
  });

  it('a batch costs the same statements at any size', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const queryLog = new QueryLog();
    const writer = createWriter(database.db.withPlugin(queryLog));

    await write([makeEntry(keys, { tags: ['a'] })], writer);
    const small = queryLog.queries.length;
    queryLog.clear();
    await write(
      Array.from({ length: 300 }, (_, index) => makeEntry(keys, { tags: [`tag-${index % 5}`], model: `model-${index % 4}` })),
      writer,
    );

    expect(queryLog.queries.length).toBe(small);
  });
});

describe('usage rollup schema', () => {
  it.each(['usage_hourly', 'usage_provider_key_hourly', 'usage_tag_hourly'])('%s has one column per latency bucket', async (table) => {
    const columns = await sql<{ column_name: string }>`
      select column_name from information_schema.columns
      where table_name = ${table} and column_name like 'latency\\_%' order by ordinal_position
    `.execute(database.db);

    expect(columns.rows.map((row) => row.column_name)).toEqual(latencyBucketColumns);
  });

  it('rejects an hour that is not a UTC hour start', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const zeros = Object.fromEntries(latencyBucketColumns.map((column) => [column, 0]));

    const insert = database.db
      .insertInto('usage_hourly')
      .values({
        organization_id: keys.organizationId,
        hour: '2026-11-20T10:30:00Z',
        gateway_key_id: randomUUID(),
        provider_key_id: null,
        provider: null,
        model: null,
        credential_source: null,
        status_class: 2,
        request_count: 1,
        error_count: 0,
        input_uncached_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 0,
        reasoning_tokens: 0,
        cost_micro_usd: 0,
        ...zeros,
      })
      .execute();

    await expect(insert).rejects.toMatchObject({ code: '23514' });
  });
});
