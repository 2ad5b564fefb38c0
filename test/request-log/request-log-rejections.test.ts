import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogConfig } from '../../src/config/request-log.config.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { makeEntry, seedOrganizationWithKeys, waitFor, type SeededKeys } from './fixtures.js';

const manualFlush: RequestLogConfig = { queueMaxEntries: 1_000, batchSize: 100, flushIntervalMs: 600_000, stopTimeoutMs: 5_000 };

type Kind = 'valid' | 'cyclic' | 'bigint' | 'invalidDate' | 'elevenTags' | 'longTag';

describe('RequestLogWriter rejected entries', () => {
  let database: TestDatabase;
  let keys: SeededKeys;
  const writers: RequestLogWriter[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    keys = await seedOrganizationWithKeys(database.db);
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
