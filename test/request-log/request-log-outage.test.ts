import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogConfig } from '../../src/config/request-log.config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { createTestDatabase, postgresUrl, withDatabaseName, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { countRequestLogs, makeEntry, seedOrganizationWithKeys, waitFor, type SeededKeys } from './fixtures.js';
import { TcpProxy } from './tcp-proxy.js';

// These tests cut the TCP connection between the writer and PostgreSQL. Embedded PGlite runs in
// this process and cannot become unreachable, so they run only with DATABASE_URL.
describe.skipIf(!postgresUrl)('RequestLogWriter while PostgreSQL is unreachable', () => {
  let database: TestDatabase;
  let keys: SeededKeys;
  let proxy: TcpProxy;
  let proxied: DatabaseHandle;
  const writers: RequestLogWriter[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    keys = await seedOrganizationWithKeys(database.db);
    const target = new URL(database.url!);
    proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(withDatabaseName(database.url!, target.pathname.slice(1)));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    proxied = await openDatabase({
      url: url.toString(),
      dataDirectory: '',
      poolMax: 2,
      connectTimeoutMs: 1_000,
      migrateOnStart: false,
    });
  });

  afterEach(async () => {
    proxy.restore();
    await Promise.all(writers.splice(0).map((writer) => writer.stop()));
    await database.db.deleteFrom('request_logs').execute();
  });

  afterAll(async () => {
    await proxied?.close();
    await proxy?.close();
    await database?.destroy();
  });

  function createWriter(config: Partial<RequestLogConfig>) {
    const logs = captureLogs();
    const writer = new RequestLogWriter({
      db: proxied.db,
      logger: logs.logger,
      config: { queueMaxEntries: 1_000, batchSize: 10, flushIntervalMs: 50, stopTimeoutMs: 5_000, ...config },
    });
    writers.push(writer);
    return { writer, logs };
  }

  /** Enqueues `count` entries spread over about `durationMs`. */
  async function enqueueOver(writer: RequestLogWriter, count: number, durationMs: number): Promise<void> {
    for (let index = 0; index < count; index += 1) {
      writer.enqueue(makeEntry(keys));
      await sleep(durationMs / count);
    }
  }

  it('writes entries queued during an outage after it', async () => {
    const { writer } = createWriter({});
    await writer.start();
    await enqueueOver(writer, 20, 200);
    await waitFor(() => writer.stats.written === 20);

    proxy.cut();
    await enqueueOver(writer, 200, 3_000);
    const writtenDuringOutage = writer.stats.written;
    proxy.restore();
    await waitFor(() => writer.stats.queued === 0, 20_000);

    expect(writtenDuringOutage).toBe(20);
    expect(writer.stats.written).toBe(220);
    expect(writer.stats.dropped).toBe(0);
    expect(await countRequestLogs(database.db)).toBe(220);
  });

  it('drops and counts what exceeds the queue during an outage', async () => {
    const { writer } = createWriter({ queueMaxEntries: 50 });
    await writer.start();

    proxy.cut();
    await enqueueOver(writer, 120, 2_000);
    const queuedDuringOutage = writer.stats.queued;
    proxy.restore();
    await waitFor(() => writer.stats.queued === 0, 20_000);

    expect(queuedDuringOutage).toBe(50);
    expect(writer.stats.dropped).toBe(70);
    expect(writer.stats.written).toBe(50);
    expect(writer.stats.written + writer.stats.dropped).toBe(120);
    expect(await countRequestLogs(database.db)).toBe(writer.stats.written);
  });

  it('logs an outage once when it starts and once when it ends', async () => {
    const { writer, logs } = createWriter({});
    await writer.start();

    proxy.cut();
    await enqueueOver(writer, 30, 2_500);
    proxy.restore();
    await waitFor(() => writer.stats.queued === 0, 20_000);

    const failedAttempts = logs.lines.filter((line) => line.includes('batch failed'));
    expect(failedAttempts.length).toBeGreaterThan(2);
    expect(failedAttempts.filter((line) => line.includes('"level":"warn"'))).toHaveLength(1);
    expect(logs.lines.filter((line) => line.includes('succeeds again'))).toHaveLength(1);
  });

  it('backs off between attempts', async () => {
    const { writer, logs } = createWriter({ flushIntervalMs: 20 });
    await writer.start();

    proxy.cut();
    writer.enqueue(makeEntry(keys));
    await sleep(2_500);
    proxy.restore();
    await waitFor(() => writer.stats.queued === 0, 20_000);

    // Delays start at 100 to 200 ms and double, so 2.5 s leave room for at most 6 attempts.
    // Retrying at every 20 ms flush interval instead would make about 100.
    const failedAttempts = logs.lines.filter((line) => line.includes('batch failed'));
    expect(failedAttempts.length).toBeGreaterThan(2);
    expect(failedAttempts.length).toBeLessThanOrEqual(6);
  });

  it('keeps row contents out of outage logs', async () => {
    const { writer, logs } = createWriter({});
    await writer.start();

    proxy.cut();
    writer.enqueue(makeEntry(keys, { model: 'model-name-in-row', tags: ['tag-in-row'] }));
    await sleep(1_000);
    proxy.restore();
    await waitFor(() => writer.stats.queued === 0, 20_000);

    expect(logs.text()).not.toContain('model-name-in-row');
    expect(logs.text()).not.toContain('tag-in-row');
  });

  it('retries on stop until PostgreSQL returns', async () => {
    const { writer } = createWriter({ flushIntervalMs: 600_000 });
    await writer.start();
    proxy.cut();
    for (let index = 0; index < 15; index += 1) writer.enqueue(makeEntry(keys));

    const stopped = writer.stop();
    await sleep(1_000);
    proxy.restore();
    await stopped;

    expect(writer.stats.written).toBe(15);
    expect(writer.stats.dropped).toBe(0);
    expect(await countRequestLogs(database.db)).toBe(15);
  });

  it('gives up on stop after the timeout', async () => {
    const { writer, logs } = createWriter({ flushIntervalMs: 600_000, stopTimeoutMs: 700 });
    await writer.start();
    proxy.cut();
    for (let index = 0; index < 15; index += 1) writer.enqueue(makeEntry(keys));

    const started = performance.now();
    await writer.stop();
    const stopMs = performance.now() - started;

    expect(stopMs).toBeLessThan(2_000);
    expect(writer.stats.dropped).toBe(15);
    expect(writer.stats.queued).toBe(0);
    expect(logs.lines.filter((line) => line.includes('stop timed out'))).toHaveLength(1);
  });
});
