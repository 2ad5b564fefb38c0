import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import {
  ensureRequestLogPartitions,
  requestLogPartitionName,
} from '../../src/proxy/request-log/request-log-partitions.js';
import { insertRequestLogs, toRequestLogRow } from '../../src/proxy/request-log/request-log.repository.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { makeEntry, partitionOf, seedOrganizationWithKeys, type SeededKeys } from './fixtures.js';

describe('request log partitions', () => {
  let database: TestDatabase;
  let keys: SeededKeys;

  beforeAll(async () => {
    database = await createTestDatabase();
    keys = await seedOrganizationWithKeys(database.db);
  });

  afterAll(async () => {
    await database?.destroy();
  });

  async function partitionBounds(name: string): Promise<string | undefined> {
    const result = await sql<{ bounds: string }>`
      select pg_get_expr(child.relpartbound, child.oid) as bounds
      from pg_inherits
      join pg_class child on child.oid = pg_inherits.inhrelid
      where pg_inherits.inhparent = 'request_logs'::regclass and child.relname = ${name}
    `.execute(database.db);
    return result.rows[0]?.bounds;
  }

  async function insertAt(occurredAt: Date): Promise<string> {
    const entry = makeEntry(keys, { occurredAt });
    await insertRequestLogs(database.db, [toRequestLogRow(entry)]);
    return entry.id;
  }

  it('names a partition by its UTC day', () => {
    expect(requestLogPartitionName(new Date('2031-03-09T23:30:00-05:00'))).toBe('request_logs_20310310');
  });

  it('creates one partition per day', async () => {
    const created = await ensureRequestLogPartitions(database.db, new Date('2030-01-30T17:00:00Z'), 3);

    expect(created).toEqual(['request_logs_20300130', 'request_logs_20300131', 'request_logs_20300201']);
  });

  it('bounds a partition by UTC midnights', async () => {
    await ensureRequestLogPartitions(database.db, new Date('2030-02-10T00:00:00Z'), 1);

    const bounds = await partitionBounds('request_logs_20300210');

    expect(bounds).toMatch(/^FOR VALUES FROM \('2030-02-10 00:00:00\+00'\) TO \('2030-02-11 00:00:00\+00'\)$/);
  });

  it('creates nothing for existing days', async () => {
    await ensureRequestLogPartitions(database.db, new Date('2030-03-01T00:00:00Z'), 2);

    const created = await ensureRequestLogPartitions(database.db, new Date('2030-03-01T00:00:00Z'), 3);

    expect(created).toEqual(['request_logs_20300303']);
  });

  it('routes a row to the partition of its UTC day', async () => {
    await ensureRequestLogPartitions(database.db, new Date('2030-04-01T00:00:00Z'), 2);

    const lastMoment = await insertAt(new Date('2030-04-01T23:59:59.999Z'));
    const nextMidnight = await insertAt(new Date('2030-04-02T00:00:00.000Z'));

    expect(await partitionOf(database.db, lastMoment)).toBe('request_logs_20300401');
    expect(await partitionOf(database.db, nextMidnight)).toBe('request_logs_20300402');
  });

  it('stores a row without a partition in the default partition', async () => {
    const id = await insertAt(new Date('2030-05-20T12:00:00Z'));

    expect(await partitionOf(database.db, id)).toBe('request_logs_default');
  });

  it('moves rows of a new day out of the default partition', async () => {
    const stranded = await insertAt(new Date('2030-06-15T08:00:00Z'));
    const otherDay = await insertAt(new Date('2030-06-16T08:00:00Z'));

    const created = await ensureRequestLogPartitions(database.db, new Date('2030-06-15T00:00:00Z'), 1);

    expect(created).toEqual(['request_logs_20300615']);
    expect(await partitionOf(database.db, stranded)).toBe('request_logs_20300615');
    expect(await partitionOf(database.db, otherDay)).toBe('request_logs_default');
  });

  it('gives new partitions the indexes of the parent', async () => {
    await ensureRequestLogPartitions(database.db, new Date('2030-07-01T00:00:00Z'), 1);

    const result = await sql<{ parent: string }>`
      select parent_index.relname as parent
      from pg_inherits
      join pg_class child_index on child_index.oid = pg_inherits.inhrelid
      join pg_class parent_index on parent_index.oid = pg_inherits.inhparent
      join pg_index on pg_index.indexrelid = child_index.oid
      where pg_index.indrelid = 'request_logs_20300701'::regclass
      order by parent_index.relname
    `.execute(database.db);

    expect(result.rows.map((row) => row.parent)).toEqual([
      'request_logs_gateway_key_id_occurred_at_idx',
      'request_logs_organization_id_occurred_at_idx',
      'request_logs_pkey',
      'request_logs_provider_key_id_occurred_at_idx',
    ]);
  });

  it('declares no foreign keys', async () => {
    const result = await sql<{ count: number }>`
      select count(*)::int as count from pg_constraint
      where contype = 'f' and conrelid in (select 'request_logs'::regclass union all select inhrelid from pg_inherits where inhparent = 'request_logs'::regclass)
    `.execute(database.db);

    expect(result.rows[0]!.count).toBe(0);
  });

  it('skips a row already stored', async () => {
    const entry = makeEntry(keys, { occurredAt: new Date('2030-08-01T10:00:00Z') });
    await insertRequestLogs(database.db, [toRequestLogRow(entry)]);

    await insertRequestLogs(database.db, [toRequestLogRow({ ...entry, model: 'changed' })]);

    const rows = await database.db.selectFrom('request_logs').select('model').where('id', '=', entry.id).execute();
    expect(rows).toEqual([{ model: 'claude-sonnet-4-5' }]);
  });

  // Two processes need two sessions; PGlite is a single session in one process.
  it.skipIf(!postgresUrl)('lets two processes create partitions at once', async () => {
    const open = () =>
      openDatabase({ url: database.url, dataDirectory: '', poolMax: 2, connectTimeoutMs: 5_000, migrateOnStart: false });
    const [first, second] = await Promise.all([open(), open()]);
    try {
      const results = await Promise.allSettled([
        ensureRequestLogPartitions(first.db, new Date('2030-09-01T00:00:00Z'), 5),
        ensureRequestLogPartitions(second.db, new Date('2030-09-01T00:00:00Z'), 5),
      ]);

      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
      const created = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
      expect(created.sort()).toEqual([
        'request_logs_20300901',
        'request_logs_20300902',
        'request_logs_20300903',
        'request_logs_20300904',
        'request_logs_20300905',
      ]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  // Needs separate sessions, as above.
  it.skipIf(!postgresUrl)('lets many sessions create the same partition at once', async () => {
    const handles = await Promise.all(
      Array.from({ length: 6 }, () =>
        openDatabase({ url: database.url, dataDirectory: '', poolMax: 1, connectTimeoutMs: 5_000, migrateOnStart: false }),
      ),
    );
    try {
      const results = await Promise.allSettled(
        handles.map((handle) => ensureRequestLogPartitions(handle.db, new Date('2030-10-01T00:00:00Z'), 1)),
      );

      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      const created = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
      expect(created).toEqual(['request_logs_20301001']);
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
    }
  });

  it('keeps an id unique per time, not across times', async () => {
    const id = randomUUID();
    const first = makeEntry(keys, { id, occurredAt: new Date('2030-11-01T10:00:00Z') });
    const second = makeEntry(keys, { id, occurredAt: new Date('2030-11-01T10:00:01Z') });

    await insertRequestLogs(database.db, [toRequestLogRow(first), toRequestLogRow(second)]);

    const rows = await database.db.selectFrom('request_logs').select('id').where('id', '=', id).execute();
    expect(rows).toHaveLength(2);
  });
});
