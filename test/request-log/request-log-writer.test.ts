import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogConfig } from '../../src/config/request-log.config.js';
import { boundTags, type RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import { requestLogPartitionName } from '../../src/proxy/request-log/request-log-partitions.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import {
  countRequestLogs,
  makeEntry,
  partitionOf,
  seedOrganizationWithKeys,
  waitFor,
  type SeededKeys,
} from './fixtures.js';

/** The entries that enqueue() accepts ('valid') or drops, for the rejected-entries tests. */
type Kind = 'valid' | 'cyclic' | 'bigint' | 'invalidDate' | 'elevenTags' | 'longTag';

// A flush interval this long never fires during a test, so only batch size, flush() and stop() write.
const manualFlush: RequestLogConfig = { queueMaxEntries: 1_000, batchSize: 100, flushIntervalMs: 600_000, stopTimeoutMs: 5_000 };

describe('RequestLogWriter', () => {
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

  function createWriter(config: Partial<RequestLogConfig> = {}) {
    const logs = captureLogs();
    const writer = new RequestLogWriter({ db: database.db, logger: logs.logger, config: { ...manualFlush, ...config } });
    writers.push(writer);
    return { writer, logs };
  }

  async function rowsOf(keys: SeededKeys) {
    return database.db
      .selectFrom('request_logs')
      .selectAll()
      .where('organization_id', '=', keys.organizationId)
      .orderBy('occurred_at')
      .execute();
  }

  async function lastUsedAt(table: 'gateway_keys' | 'provider_keys', id: string): Promise<Date | null> {
    const row = await database.db.selectFrom(table).select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow();
    return row.last_used_at;
  }

  it('writes every column of an entry', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const entry = makeEntry(keys, {
      occurredAt: new Date('2030-01-15T10:20:30.456Z'),
      credentialSource: 'GATEWAY_KEY',
      provider: 'BEDROCK',
      model: 'anthropic.claude-sonnet-4-5',
      region: 'eu-central-1',
      status: 499,
      errorCode: 'client_closed_request',
      reasoningTokens: 42,
      tags: ['checkout', 'eu'],
      clientRequestId: 'client-7',
    });

    writer.enqueue(entry);
    await writer.flush();

    expect(await rowsOf(keys)).toEqual([
      {
        id: entry.id,
        occurred_at: new Date('2030-01-15T10:20:30.456Z'),
        organization_id: keys.organizationId,
        gateway_key_id: keys.gatewayKeyId,
        provider_key_id: keys.providerKeyId,
        credential_source: 'GATEWAY_KEY',
        provider: 'BEDROCK',
        model: 'anthropic.claude-sonnet-4-5',
        region: 'eu-central-1',
        stream: true,
        status: 499,
        error_code: 'client_closed_request',
        latency_ms: 1_250,
        ttfb_ms: 310,
        upstream_latency_ms: 1_200,
        input_uncached_tokens: '1000',
        cache_read_tokens: '200',
        cache_write_tokens: '0',
        output_tokens: '350',
        reasoning_tokens: '42',
        raw_usage: { input_tokens: 1_000, cache_read_input_tokens: 200, output_tokens: 350 },
        cost_micro_usd: '8850',
        price_table_version: '2026-12-01',
        tags: ['checkout', 'eu'],
        request_id: entry.requestId,
        client_request_id: 'client-7',
        upstream_request_id: 'req_upstream_1',
      },
    ]);
  });

  it('writes null for absent values', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const entry = makeEntry(keys, {
      providerKeyId: null,
      credentialSource: null,
      provider: null,
      model: null,
      ttfbMs: null,
      upstreamLatencyMs: null,
      inputUncachedTokens: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      outputTokens: null,
      rawUsage: null,
      costMicroUsd: null,
      priceTableVersion: null,
      tags: [],
      upstreamRequestId: null,
    });

    writer.enqueue(entry);
    await writer.flush();

    const [row] = await rowsOf(keys);
    expect(row?.provider_key_id).toBeNull();
    expect(row?.raw_usage).toBeNull();
    expect(row?.cost_micro_usd).toBeNull();
    expect(row?.tags).toEqual([]);
  });

  it('stores client-supplied text exactly', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const entry = makeEntry(keys, {
      model: 'model "x", {y} \\ z',
      region: 'NULL',
      errorCode: 'bad,code\n',
      rawUsage: { note: 'quote " and backslash \\', list: [null, 'NULL', '{}'] },
      tags: ['NULL', 'a,b', '{x}', 'say "hi"', 'back\\slash', ' padded ', 'Grüße 😀', 'tab\there'],
      clientRequestId: '',
      upstreamRequestId: 'null',
    });

    writer.enqueue(entry);
    await writer.flush();

    const [row] = await rowsOf(keys);
    expect(row?.model).toBe(entry.model);
    expect(row?.region).toBe('NULL');
    expect(row?.error_code).toBe(entry.errorCode);
    expect(row?.raw_usage).toEqual(entry.rawUsage);
    expect(row?.tags).toEqual(entry.tags);
    expect(row?.client_request_id).toBe('');
    expect(row?.upstream_request_id).toBe('null');
  });

  it('keeps occurred_at to the millisecond', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const times = ['2030-01-15T10:20:30.001Z', '2030-01-15T10:20:30.999Z', '2030-01-15T23:59:59.999Z'].map((time) => new Date(time));

    for (const occurredAt of times) writer.enqueue(makeEntry(keys, { occurredAt }));
    await writer.flush();

    expect((await rowsOf(keys)).map((row) => row.occurred_at)).toEqual(times);
  });

  it('rounds fractional durations', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();

    writer.enqueue(makeEntry(keys, { latencyMs: 1_250.6, ttfbMs: 310.2, upstreamLatencyMs: 0.5 }));
    await writer.flush();

    const [row] = await rowsOf(keys);
    expect(row?.latency_ms).toBe(1_251);
    expect(row?.ttfb_ms).toBe(310);
    expect(row?.upstream_latency_ms).toBe(1);
  });

  it('writes rows into the partition of their day', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    await writer.start();
    const today = makeEntry(keys, { occurredAt: new Date() });
    const tomorrow = makeEntry(keys, { occurredAt: new Date(Date.now() + 24 * 60 * 60 * 1000) });
    const lastYear = makeEntry(keys, { occurredAt: new Date(Date.now() - 365 * 24 * 60 * 60 * 1000) });

    for (const entry of [today, tomorrow, lastYear]) writer.enqueue(entry);
    await writer.flush();

    expect(await partitionOf(database.db, today.id)).toBe(requestLogPartitionName(today.occurredAt));
    expect(await partitionOf(database.db, tomorrow.id)).toBe(requestLogPartitionName(tomorrow.occurredAt));
    expect(await partitionOf(database.db, lastYear.id)).toBe('request_logs_default');
  });

  it('keeps rows after their gateway key is deleted', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    writer.enqueue(makeEntry(keys));
    writer.enqueue(makeEntry(keys));
    await writer.flush();

    await database.db.deleteFrom('gateway_keys').where('id', '=', keys.gatewayKeyId).execute();

    expect(await rowsOf(keys)).toHaveLength(2);
  });

  it('keeps rows after their organization is deleted', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    writer.enqueue(makeEntry(keys));
    await writer.flush();

    await database.db.deleteFrom('organizations').where('id', '=', keys.organizationId).execute();

    expect(await rowsOf(keys)).toHaveLength(1);
  });

  it('writes a full batch without waiting for the interval', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 3 });

    for (let index = 0; index < 3; index += 1) writer.enqueue(makeEntry(keys));

    await waitFor(() => writer.stats.written === 3);
    expect(await rowsOf(keys)).toHaveLength(3);
  });

  it('waits for the interval with a partial batch', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 3 });

    writer.enqueue(makeEntry(keys));
    writer.enqueue(makeEntry(keys));
    await sleep(200);

    expect(writer.stats.written).toBe(0);
    expect(writer.stats.queued).toBe(2);
  });

  it('writes a partial batch at the interval', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 100, flushIntervalMs: 50 });
    await writer.start();

    writer.enqueue(makeEntry(keys));
    writer.enqueue(makeEntry(keys));

    await waitFor(() => writer.stats.written === 2);
    expect(await rowsOf(keys)).toHaveLength(2);
  });

  it('splits the queue into batches', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 4 });

    for (let index = 0; index < 10; index += 1) writer.enqueue(makeEntry(keys));
    await writer.flush();

    expect(writer.stats.written).toBe(10);
    expect(writer.stats.flushes).toBe(3);
    expect(writer.stats.lastFlushMs).toBeGreaterThan(0);
  });

  it('enqueues without waiting for the database', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 1 });

    writer.enqueue(makeEntry(keys));

    // Even a batch of one is written on a later turn of the event loop, never during enqueue().
    expect(writer.stats.queued).toBe(1);
    expect(writer.stats.written).toBe(0);
    await waitFor(() => writer.stats.written === 1);
  });

  it('drops and counts entries beyond the queue bound', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter({ queueMaxEntries: 5 });

    for (let index = 0; index < 8; index += 1) writer.enqueue(makeEntry(keys));

    expect(writer.stats.queued).toBe(5);
    expect(writer.stats.dropped).toBe(3);
    await writer.flush();
    expect(writer.stats.written).toBe(5);
    expect(await rowsOf(keys)).toHaveLength(5);
    expect(logs.lines.filter((line) => line.includes('queue is full'))).toHaveLength(1);
  });

  it('accepts entries again once the queue has room', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter({ queueMaxEntries: 2 });
    for (let index = 0; index < 3; index += 1) writer.enqueue(makeEntry(keys));
    await writer.flush();

    writer.enqueue(makeEntry(keys));

    expect(writer.stats.queued).toBe(1);
    expect(writer.stats.dropped).toBe(1);
    expect(logs.lines.filter((line) => line.includes('queue has room again'))).toHaveLength(1);
  });

  it('writes queued entries on stop', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 5 });
    await writer.start();
    for (let index = 0; index < 7; index += 1) writer.enqueue(makeEntry(keys));

    await writer.stop();

    expect(writer.stats.queued).toBe(0);
    expect(writer.stats.written).toBe(7);
    expect(await rowsOf(keys)).toHaveLength(7);
  });

  it('drops entries enqueued after stop', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter();
    await writer.stop();

    writer.enqueue(makeEntry(keys));
    writer.enqueue(makeEntry(keys));

    expect(writer.stats.dropped).toBe(2);
    expect(writer.stats.queued).toBe(0);
    expect(logs.lines.filter((line) => line.includes('writer is stopped'))).toHaveLength(1);
  });

  it('logs start and stop', async () => {
    const { writer, logs } = createWriter();

    await writer.start();
    await writer.stop();

    expect(logs.lines.filter((line) => line.includes('Request log writer started'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('Request log writer stopped'))).toHaveLength(1);
  });

  it('moves lastUsedAt to the latest time of the batch', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const times = ['2030-02-01T10:00:00Z', '2030-02-01T10:00:05Z', '2030-02-01T09:59:00Z'].map((time) => new Date(time));

    for (const occurredAt of times) writer.enqueue(makeEntry(keys, { occurredAt }));
    await writer.flush();

    expect(await lastUsedAt('gateway_keys', keys.gatewayKeyId)).toEqual(new Date('2030-02-01T10:00:05Z'));
    expect(await lastUsedAt('provider_keys', keys.providerKeyId)).toEqual(new Date('2030-02-01T10:00:05Z'));
  });

  it('moves lastUsedAt per key', async () => {
    const first = await seedOrganizationWithKeys(database.db);
    const second = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();

    writer.enqueue(makeEntry(first, { occurredAt: new Date('2030-02-02T08:00:00Z') }));
    writer.enqueue(makeEntry(second, { occurredAt: new Date('2030-02-02T09:00:00Z') }));
    await writer.flush();

    expect(await lastUsedAt('gateway_keys', first.gatewayKeyId)).toEqual(new Date('2030-02-02T08:00:00Z'));
    expect(await lastUsedAt('gateway_keys', second.gatewayKeyId)).toEqual(new Date('2030-02-02T09:00:00Z'));
  });

  it('keeps a later lastUsedAt', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const later = new Date('2030-03-01T12:00:00Z');
    await database.db.updateTable('gateway_keys').set({ last_used_at: later }).where('id', '=', keys.gatewayKeyId).execute();
    const { writer } = createWriter();

    writer.enqueue(makeEntry(keys, { occurredAt: new Date('2030-03-01T11:00:00Z') }));
    await writer.flush();

    expect(await lastUsedAt('gateway_keys', keys.gatewayKeyId)).toEqual(later);
  });

  it('leaves provider keys alone for platform credentials', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();

    writer.enqueue(makeEntry(keys, { providerKeyId: null, credentialSource: 'PLATFORM' }));
    await writer.flush();

    expect(await lastUsedAt('provider_keys', keys.providerKeyId)).toBeNull();
    expect(await lastUsedAt('gateway_keys', keys.gatewayKeyId)).not.toBeNull();
  });

  it('stores tags bounded by boundTags', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const raw = [' a ', 'a', ...Array.from({ length: 12 }, (_, index) => `${index}-${'z'.repeat(70)}`)];

    writer.enqueue(makeEntry(keys, { tags: boundTags(raw) }));
    await writer.flush();

    const [row] = await rowsOf(keys);
    expect(row?.tags).toHaveLength(10);
    expect(row?.tags[0]).toBe('a');
    expect(Math.max(...row!.tags.map((tag) => tag.length))).toBe(64);
  });

  it('drops a row that the database rejects and writes the rest', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ batchSize: 7 });
    const tooManyTags = Array.from({ length: 11 }, (_, index) => `tag-${index}`);
    const entries = Array.from({ length: 7 }, () => makeEntry(keys));
    entries[4] = makeEntry(keys, { tags: tooManyTags });

    for (const entry of entries) writer.enqueue(entry);
    await writer.flush();

    expect(writer.stats.written).toBe(6);
    expect(writer.stats.dropped).toBe(1);
    expect(writer.stats.queued).toBe(0);
    const stored = (await rowsOf(keys)).map((row) => row.id).sort();
    expect(stored).toEqual(entries.filter((_, index) => index !== 4).map((entry) => entry.id).sort());
  });

  it('logs a rejected row by id without its contents', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter();
    const rejected = makeEntry(keys, { tags: ['x'.repeat(65)], model: 'secret-model-name' });

    writer.enqueue(rejected);
    writer.enqueue(makeEntry(keys));
    await writer.flush();

    const warnings = logs.lines.filter((line) => line.includes('cannot be stored'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(rejected.id);
    expect(warnings[0]).toContain(rejected.requestId);
    expect(warnings[0]).toContain('request_logs_tags_check');
    expect(logs.text()).not.toContain('xxxxxxxxxx');
    expect(logs.text()).not.toContain('secret-model-name');
  });

  it('logs rejected rows once per streak', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter({ batchSize: 2 });
    const invalid = () => makeEntry(keys, { tags: Array.from({ length: 11 }, (_, index) => `tag-${index}`) });

    for (const entry of [invalid(), makeEntry(keys), invalid(), makeEntry(keys), makeEntry(keys), makeEntry(keys)]) {
      writer.enqueue(entry);
    }
    await writer.flush();

    expect(writer.stats.dropped).toBe(2);
    expect(logs.lines.filter((line) => line.includes('"level":"warn"') && line.includes('cannot be stored'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('without rejected rows again'))).toHaveLength(1);
  });

  it('drops an entry whose raw usage is not JSON', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter();
    const cyclic: Record<string, unknown> = { input_tokens: 1 };
    cyclic.self = cyclic;
    const unserializable = makeEntry(keys, { rawUsage: cyclic });

    writer.enqueue(unserializable);
    writer.enqueue(makeEntry(keys));
    await writer.flush();

    expect(writer.stats.written).toBe(1);
    expect(writer.stats.dropped).toBe(1);
    expect(logs.lines.filter((line) => line.includes(unserializable.id))).toHaveLength(1);
  });

  it('drops an entry with an invalid time', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter();
    const invalid = makeEntry(keys, { occurredAt: new Date(Number.NaN) });

    writer.enqueue(invalid);
    writer.enqueue(makeEntry(keys));
    await writer.flush();

    expect(writer.stats.written).toBe(1);
    expect(writer.stats.dropped).toBe(1);
    expect(writer.stats.queued).toBe(0);
    expect(logs.lines.filter((line) => line.includes(invalid.id))).toHaveLength(1);
  });

  it('reports an entry rejected at enqueue when nothing else is queued', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer, logs } = createWriter({ flushIntervalMs: 20 });
    const invalid = makeEntry(keys, { occurredAt: new Date(Number.NaN) });
    await writer.start();

    writer.enqueue(invalid);
    expect(writer.stats).toMatchObject({ dropped: 1, queued: 0 });
    const deadline = Date.now() + 2_000;
    while (!logs.text().includes(invalid.id) && Date.now() < deadline) await sleep(10);

    const warnings = logs.lines.filter((line) => line.includes('cannot be stored'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(invalid.requestId);
  });

  it('stores the raw usage as it was at enqueue', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const entry = makeEntry(keys, { rawUsage: { output_tokens: 3 } });

    writer.enqueue(entry);
    entry.rawUsage!.output_tokens = 99;
    await writer.flush();

    const [row] = await rowsOf(keys);
    expect(row!.raw_usage).toEqual({ output_tokens: 3 });
  });

  it('skips an entry already stored', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter();
    const entry = makeEntry(keys);

    writer.enqueue(entry);
    await writer.flush();
    writer.enqueue(entry);
    await writer.flush();

    expect(writer.stats.dropped).toBe(0);
    expect(await rowsOf(keys)).toHaveLength(1);
  });

  it('accounts for every enqueued entry', async () => {
    const keys = await seedOrganizationWithKeys(database.db);
    const { writer } = createWriter({ queueMaxEntries: 50, batchSize: 20 });
    const before = await countRequestLogs(database.db);
    const entries: RequestLogEntry[] = [];
    for (let index = 0; index < 120; index += 1) {
      const entry = index % 17 === 0 ? makeEntry(keys, { tags: ['y'.repeat(65)] }) : makeEntry(keys);
      entries.push(entry);
      writer.enqueue(entry);
      if (index % 10 === 0) await sleep(1);
    }

    await writer.stop();

    const { written, dropped, queued } = writer.stats;
    expect(written + dropped).toBe(entries.length);
    expect(queued).toBe(0);
    expect((await countRequestLogs(database.db)) - before).toBe(written);
  });

  describe('rejected entries', () => {
    let keys: SeededKeys;

    beforeAll(async () => {
      keys = await seedOrganizationWithKeys(database.db);
    });

    /** Builds an entry of `kind` whose model and raw usage carry markers that no log line may contain. */
    function entryOf(kind: Kind): RequestLogEntry {
      const rawUsage: Record<string, unknown> = { usage_marker_key: 'usage-marker-value', output_tokens: 3 };
      const base = { model: 'model-marker', rawUsage };
      switch (kind) {
        case 'valid':
          return makeEntry(keys, base);
        case 'cyclic':
          rawUsage.cycle_marker_key = rawUsage;
          return makeEntry(keys, base);
        case 'bigint':
          rawUsage.output_tokens = 3n;
          return makeEntry(keys, base);
        case 'invalidDate':
          return makeEntry(keys, { ...base, occurredAt: new Date('not a date') });
        case 'elevenTags':
          return makeEntry(keys, { ...base, tags: Array.from({ length: 11 }, (_, index) => `t${index}`) });
        case 'longTag':
          return makeEntry(keys, { ...base, tags: ['z'.repeat(65)] });
      }
    }

    async function storedIds(ids: string[]): Promise<string[]> {
      if (ids.length === 0) return [];
      const rows = await database.db.selectFrom('request_logs').select('id').where('id', 'in', ids).execute();
      return rows.map((row) => row.id).sort();
    }

    it('accounts for mixed invalid entries across batches', async () => {
      const { writer, logs } = createWriter({ batchSize: 4 });
      const kinds: Kind[] = ['valid', 'cyclic', 'valid', 'invalidDate', 'elevenTags', 'valid', 'longTag', 'bigint', 'valid', 'valid', 'cyclic', 'longTag', 'valid'];
      const entries = kinds.map((kind) => ({ kind, entry: entryOf(kind) }));

      for (const [index, { entry }] of entries.entries()) {
        writer.enqueue(entry);
        const { queued, written, dropped } = writer.stats;
        expect(queued + written + dropped).toBe(index + 1);
      }
      await writer.flush();
      await waitFor(() => writer.stats.queued === 0);

      const valid = entries.filter(({ kind }) => kind === 'valid').map(({ entry }) => entry.id);
      const invalid = entries.filter(({ kind }) => kind !== 'valid').map(({ entry }) => entry);
      expect(writer.stats).toMatchObject({ written: valid.length, dropped: invalid.length, queued: 0 });
      expect(await storedIds(entries.map(({ entry }) => entry.id))).toEqual([...valid].sort());
      for (const entry of invalid) {
        expect(logs.lines.filter((line) => line.includes(entry.id)), entry.id).toHaveLength(1);
      }
      expect(logs.text()).not.toContain('model-marker');
      expect(logs.text()).not.toContain('usage-marker-value');
    });

    it('keeps raw usage keys out of the log', async () => {
      const { writer, logs } = createWriter();
      const cyclic = entryOf('cyclic');

      writer.enqueue(cyclic);
      writer.enqueue(entryOf('valid'));
      await writer.flush();

      const line = logs.lines.find((candidate) => candidate.includes(cyclic.id));
      expect(line).toBeDefined();
      expect(line).not.toContain('cycle_marker_key');
      expect(line).not.toContain('usage_marker_key');
    });

    it('logs rejected entries pending at stop', async () => {
      const { writer, logs } = createWriter();
      await writer.start();
      const invalid = entryOf('invalidDate');

      writer.enqueue(invalid);
      await writer.stop();

      expect(writer.stats).toMatchObject({ dropped: 1, queued: 0, written: 0 });
      expect(logs.lines.filter((line) => line.includes(invalid.id))).toHaveLength(1);
    });

    it('logs rejected entries pending at stop with rows queued', async () => {
      const { writer, logs } = createWriter();
      await writer.start();
      const invalid = entryOf('cyclic');

      writer.enqueue(invalid);
      writer.enqueue(entryOf('valid'));
      await writer.stop();

      expect(writer.stats).toMatchObject({ dropped: 1, queued: 0, written: 1 });
      expect(logs.lines.filter((line) => line.includes(invalid.id))).toHaveLength(1);
    });

    it('counts an entry rejected during a write once', async () => {
      const { writer, logs } = createWriter({ batchSize: 50 });
      for (let index = 0; index < 50; index += 1) writer.enqueue(entryOf('valid'));
      const flushed = writer.flush();
      const invalid = entryOf('bigint');
      writer.enqueue(invalid);
      writer.enqueue(entryOf('valid'));
      await flushed;
      await writer.flush();

      expect(writer.stats).toMatchObject({ written: 51, dropped: 1, queued: 0 });
      expect(logs.lines.filter((line) => line.includes(invalid.id))).toHaveLength(1);
    });

    it('stores the tags as they were at enqueue', async () => {
      const { writer } = createWriter();
      const entry = makeEntry(keys, { tags: ['first'] });

      writer.enqueue(entry);
      entry.tags.push('added-after-enqueue');
      await writer.flush();

      const row = await database.db.selectFrom('request_logs').select('tags').where('id', '=', entry.id).executeTakeFirstOrThrow();
      expect(row.tags).toEqual(['first']);
    });
  });
});
