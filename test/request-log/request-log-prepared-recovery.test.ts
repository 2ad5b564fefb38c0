import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogConfig } from '../../src/config/request-log.config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { postgresUrl, withDatabaseName } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { countRequestLogs, makeEntry, seedOrganizationWithKeys, waitFor, type SeededKeys } from './fixtures.js';

const batchName = 'keyroute_request_log_batch';
const manualFlush: RequestLogConfig = { queueMaxEntries: 10_000, batchSize: 50, flushIntervalMs: 600_000, stopTimeoutMs: 10_000 };

// These tests end PostgreSQL sessions of their own database, which embedded PGlite does not have.
describe.skipIf(!postgresUrl)('request log batch statement on PostgreSQL sessions', () => {
  const databaseName = `keyroute_test_${randomBytes(6).toString('hex')}`;
  let url: string;
  let first: DatabaseHandle;
  let second: DatabaseHandle;
  /** A session outside both pools, for pg_terminate_backend and row locks. */
  let admin: pg.Client;
  let keys: SeededKeys;
  const writers: RequestLogWriter[] = [];

  beforeAll(async () => {
    const server = new pg.Client({ connectionString: postgresUrl });
    await server.connect();
    await server.query(`create database ${databaseName}`);
    await server.end();

    url = withDatabaseName(postgresUrl!, databaseName);
    const options = { url, dataDirectory: '', poolMax: 4, connectTimeoutMs: 2_000, migrateOnStart: false };
    first = await openDatabase(options);
    second = await openDatabase(options);
    await migrateToLatest(first.db);
    keys = await seedOrganizationWithKeys(first.db);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(writers.splice(0).map((writer) => writer.stop()));
  });

  afterAll(async () => {
    await admin?.end();
    await first?.close();
    await second?.close();
    const server = new pg.Client({ connectionString: postgresUrl });
    await server.connect();
    await server.query(`drop database if exists ${databaseName} with (force)`);
    await server.end();
  });

  function createWriter(handle: DatabaseHandle, config: Partial<RequestLogConfig> = {}) {
    const logs = captureLogs();
    const writer = new RequestLogWriter({ db: handle.db, logger: logs.logger, config: { ...manualFlush, ...config } });
    writers.push(writer);
    return { writer, logs };
  }

  async function terminateOtherSessions(): Promise<number> {
    const result = await admin.query(
      'select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [databaseName],
    );
    return result.rowCount ?? 0;
  }

  async function usageRequestCount(): Promise<number> {
    const result = await sql<{ total: number }>`select coalesce(sum(request_count), 0)::int as total from usage_hourly`.execute(first.db);
    return result.rows[0]!.total;
  }

  async function tagUsageRequestCount(): Promise<number> {
    const result = await sql<{ total: number }>`select coalesce(sum(request_count), 0)::int as total from usage_tag_hourly`.execute(first.db);
    return result.rows[0]!.total;
  }

  /** Returns the prepared statement names of one pool connection. */
  async function preparedNames(handle: DatabaseHandle): Promise<string[]> {
    return handle.db.connection().execute(async (connection) => {
      const rows = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(connection);
      return rows.rows.map((row) => row.name);
    });
  }

  it('prepares the batch statement on the pool connection', async () => {
    const { writer } = createWriter(first, { batchSize: 1 });
    for (let index = 0; index < 5; index += 1) {
      writer.enqueue(makeEntry(keys));
      await writer.flush();
    }

    expect(writer.stats.written).toBe(5);
    expect(await preparedNames(first)).toContain(batchName);
  });

  it('writes later batches after sessions are terminated', async () => {
    const before = await countRequestLogs(first.db);
    const usageBefore = await usageRequestCount();
    const { writer, logs } = createWriter(first, { batchSize: 10 });

    for (let index = 0; index < 30; index += 1) writer.enqueue(makeEntry(keys));
    await writer.flush();
    expect(writer.stats.written).toBe(30);

    // No pause: the pool may still hand out a client whose session just ended.
    expect(await terminateOtherSessions()).toBeGreaterThan(0);

    for (let index = 0; index < 30; index += 1) writer.enqueue(makeEntry(keys));
    await writer.flush();
    await waitFor(() => writer.stats.queued === 0, 15_000);

    expect(writer.stats).toMatchObject({ written: 60, dropped: 0, queued: 0 });
    expect((await countRequestLogs(first.db)) - before).toBe(60);
    expect((await usageRequestCount()) - usageBefore).toBe(60);
    expect(logs.text()).not.toContain('prepared statement');
  });

  it('retries a batch terminated mid-write', async () => {
    const before = await countRequestLogs(first.db);
    const usageBefore = await usageRequestCount();
    const tagUsageBefore = await tagUsageRequestCount();
    const { writer, logs } = createWriter(first, { batchSize: 20 });

    // A row lock on the gateway key holds the batch statement at its last_used_at update.
    await admin.query('begin');
    await admin.query('select id from gateway_keys where id = $1 for update', [keys.gatewayKeyId]);
    for (let index = 0; index < 20; index += 1) writer.enqueue(makeEntry(keys));
    const flushed = writer.flush();

    let blockedPid: number | undefined;
    await waitFor(async () => {
      const result = await admin.query(
        `select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
        [databaseName],
      );
      blockedPid = result.rows[0]?.pid as number | undefined;
      return blockedPid !== undefined;
    });
    await admin.query('select pg_terminate_backend($1)', [blockedPid]);
    await admin.query('commit');
    await flushed;
    await waitFor(() => writer.stats.queued === 0, 15_000);

    expect(writer.stats).toMatchObject({ written: 20, dropped: 0, queued: 0 });
    expect((await countRequestLogs(first.db)) - before).toBe(20);
    expect((await usageRequestCount()) - usageBefore).toBe(20);
    expect((await tagUsageRequestCount()) - tagUsageBefore).toBe(20);
    expect(logs.lines.filter((line) => line.includes('batch failed'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('succeeds again'))).toHaveLength(1);
  });

  it('keeps writing after a column is added to request_logs', async () => {
    const { writer } = createWriter(first, { batchSize: 5 });
    for (let index = 0; index < 5; index += 1) writer.enqueue(makeEntry(keys));
    await writer.flush();

    // An expand migration of a newer version, applied while this process runs.
    await sql`alter table request_logs add column probe_extra text`.execute(first.db);
    try {
      for (let index = 0; index < 5; index += 1) writer.enqueue(makeEntry(keys));
      await writer.flush();
      await waitFor(() => writer.stats.queued === 0, 5_000).catch(() => undefined);

      expect(writer.stats).toMatchObject({ written: 10, dropped: 0, queued: 0 });
    } finally {
      await sql`alter table request_logs drop column probe_extra`.execute(first.db);
    }
  });

  it('writes from two pools at once on the same keys', async () => {
    const before = await countRequestLogs(first.db);
    const usageBefore = await usageRequestCount();
    const one = createWriter(first, { batchSize: 25, flushIntervalMs: 20 });
    const two = createWriter(second, { batchSize: 25, flushIntervalMs: 20 });
    await Promise.all([one.writer.start(), two.writer.start()]);

    for (let index = 0; index < 400; index += 1) {
      one.writer.enqueue(makeEntry(keys));
      two.writer.enqueue(makeEntry(keys));
      if (index % 25 === 0) await sleep(5);
    }
    await Promise.all([one.writer.stop(), two.writer.stop()]);

    expect(one.writer.stats).toMatchObject({ written: 400, dropped: 0, queued: 0 });
    expect(two.writer.stats).toMatchObject({ written: 400, dropped: 0, queued: 0 });
    expect((await countRequestLogs(first.db)) - before).toBe(800);
    expect((await usageRequestCount()) - usageBefore).toBe(800);
    expect(one.logs.text() + two.logs.text()).not.toContain('failed');
  });
});
