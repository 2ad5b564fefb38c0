import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/environment.js';
import type { RetentionConfig } from '../../src/config/retention.config.js';
import { RetentionJob } from '../../src/features/retention/retention-job.js';
import { latencyBucketCount } from '../../src/features/usage/latency-histogram.js';
import { ensureRequestLogPartitions, requestLogPartitionName } from '../../src/proxy/request-log/request-log-partitions.js';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import { RequestLogWriter } from '../../src/proxy/request-log/request-log-writer.js';
import { insertRequestLogs, toRequestLogRow } from '../../src/proxy/request-log/request-log.repository.js';
import { upsertHourlyUsage, upsertProviderKeyUsage, upsertTagUsage } from '../../src/proxy/request-log/usage-rollup.repository.js';
import { makeEntry, seedOrganizationWithKeys, type SeededKeys } from '../request-log/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { startServerOver } from '../support/in-process-server.js';

// The retention job: which request log partitions it drops, and which default partition rows,
// usage rollup rows and audit events it deletes, for a run at a fixed time.

const DAY_MS = 86_400_000;
/** The time of the run. Request logs: 30 days, usage: 10 days, audit events: 5 days. */
const now = new Date('2030-06-15T10:00:00Z');
const config: RetentionConfig = { requestLogDays: 30, usageRollupDays: 10, auditEventDays: 5, intervalMs: 3_600_000 };

let database: TestDatabase;
let keys: SeededKeys;

beforeAll(async () => {
  database = await createTestDatabase();
  keys = await seedOrganizationWithKeys(database.db);
});

afterAll(async () => {
  await database?.destroy();
});

function createJob(jobConfig = config, clock = () => now) {
  const logs = captureLogs();
  return { job: new RetentionJob({ db: database.db, logger: logs.logger, config: jobConfig, clock }), logs };
}

async function partitionNames(): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select child.relname as name from pg_inherits
    join pg_class child on child.oid = pg_inherits.inhrelid
    where pg_inherits.inhparent = 'request_logs'::regclass
    order by name
  `.execute(database.db);
  return result.rows.map((row) => row.name);
}

async function storedIds(ids: string[]): Promise<string[]> {
  const rows = await database.db.selectFrom('request_logs').select('id').where('id', 'in', ids).execute();
  return rows.map((row) => row.id);
}

function usageRow(hour: string) {
  return {
    organizationId: keys.organizationId,
    hour: new Date(hour),
    gatewayKeyId: keys.gatewayKeyId,
    providerKeyId: keys.providerKeyId,
    provider: 'ANTHROPIC',
    model: 'claude-sonnet-4-5',
    credentialSource: 'ORGANIZATION',
    requests: 1,
    errors: 0,
    inputUncachedTokens: 1,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 1,
    reasoningTokens: 0,
    costMicroUsd: 1,
    latencyBuckets: new Array<number>(latencyBucketCount).fill(0),
  };
}

describe('retention run', () => {
  let inserted: Record<'inDroppedPartition' | 'inKeptPartition' | 'oldInDefault' | 'recentInDefault', RequestLogEntry>;
  let result: Awaited<ReturnType<RetentionJob['run']>>;

  beforeAll(async () => {
    // The cutoff for request logs is 2030-05-16T00:00Z: days up to May 15 are past it.
    await ensureRequestLogPartitions(database.db, new Date('2030-05-13T00:00:00Z'), 6);
    await ensureRequestLogPartitions(database.db, now, 2);
    inserted = {
      inDroppedPartition: makeEntry(keys, { occurredAt: new Date('2030-05-15T23:59:59Z') }),
      inKeptPartition: makeEntry(keys, { occurredAt: new Date('2030-05-16T00:00:00Z') }),
      // No partition exists for May 10 or May 20, so these rows go to the default partition.
      oldInDefault: makeEntry(keys, { occurredAt: new Date('2030-05-10T12:00:00Z') }),
      recentInDefault: makeEntry(keys, { occurredAt: new Date('2030-05-20T12:00:00Z') }),
    };
    await insertRequestLogs(database.db, Object.values(inserted).map(toRequestLogRow));

    // The cutoff for usage is 2030-06-04T00:00Z: ten days and one more before today's UTC midnight.
    const rollups = [usageRow('2030-06-03T23:00:00Z'), usageRow('2030-06-04T00:00:00Z')];
    await upsertHourlyUsage(database.db, rollups.map((row) => ({ ...row, statusClass: 2 })));
    await upsertProviderKeyUsage(database.db, rollups);
    await upsertTagUsage(database.db, rollups.map((row) => ({ ...row, tag: 'kept' })));

    // The cutoff for audit events is 2030-06-10T10:00Z.
    await database.db
      .insertInto('audit_events')
      .values(
        ['2030-06-10T09:59:59Z', '2030-06-10T10:00:00Z'].map((createdAt) => ({
          organization_id: keys.organizationId,
          actor_label: 'retention test',
          action: 'gateway_key.updated',
          subject_type: 'GatewayKey',
          subject_id: keys.gatewayKeyId,
          changes: '{}',
          created_at: new Date(createdAt),
        })),
      )
      .execute();

    result = await createJob().job.run();
  });

  it('drops the partitions of days past the window', async () => {
    expect(result.droppedPartitions).toEqual(['request_logs_20300513', 'request_logs_20300514', 'request_logs_20300515']);
  });

  it("keeps later days, today's and the default partition", async () => {
    expect(await partitionNames()).toEqual([
      'request_logs_20300516',
      'request_logs_20300517',
      'request_logs_20300518',
      'request_logs_20300615',
      'request_logs_20300616',
      'request_logs_default',
    ]);
  });

  it('keeps the rows of the first day in the window', async () => {
    const ids = await storedIds([inserted.inDroppedPartition.id, inserted.inKeptPartition.id]);

    expect(ids).toEqual([inserted.inKeptPartition.id]);
  });

  it('deletes old rows of the default partition', async () => {
    const ids = await storedIds([inserted.oldInDefault.id, inserted.recentInDefault.id]);

    expect(result.deletedDefaultPartitionRows).toBe(1);
    expect(ids).toEqual([inserted.recentInDefault.id]);
  });

  it.each(['usage_hourly', 'usage_provider_key_hourly', 'usage_tag_hourly'] as const)('deletes %s rows before the usage cutoff', async (table) => {
    const rows = await database.db.selectFrom(table).select('hour').execute();

    expect(rows.map((row) => row.hour.toISOString())).toEqual(['2030-06-04T00:00:00.000Z']);
  });

  it('counts the deleted usage rows', () => {
    expect(result.deletedHourlyUsageRows).toBe(1);
    expect(result.deletedProviderKeyUsageRows).toBe(1);
    expect(result.deletedTagUsageRows).toBe(1);
  });

  it('deletes audit events before the audit cutoff', async () => {
    const events = await database.db.selectFrom('audit_events').select('created_at').execute();

    expect(result.deletedAuditEvents).toBe(1);
    expect(events.map((row) => row.created_at.toISOString())).toEqual(['2030-06-10T10:00:00.000Z']);
  });

  it('reports no failed step', () => {
    expect(result.failedSteps).toEqual([]);
  });

  it('a second run deletes nothing', async () => {
    const again = await createJob().job.run();

    expect(again.droppedPartitions).toEqual([]);
    expect(again.deletedDefaultPartitionRows + again.deletedHourlyUsageRows + again.deletedAuditEvents).toBe(0);
  });

  it('a row for a dropped day goes to the default partition', async () => {
    const late = makeEntry(keys, { occurredAt: new Date('2030-05-14T08:00:00Z') });

    await insertRequestLogs(database.db, [toRequestLogRow(late)]);
    const result = await sql<{ partition: string }>`
      select tableoid::regclass::text as partition from request_logs where id = ${late.id}
    `.execute(database.db);

    expect(result.rows[0]?.partition).toBe('request_logs_default');
  });
});

describe('retention while the writer writes', () => {
  it('drops a partition without failing a batch', async () => {
    const realNow = new Date();
    const oldDay = new Date(realNow.getTime() - 40 * DAY_MS);
    await ensureRequestLogPartitions(database.db, oldDay, 1);
    const writer = new RequestLogWriter({
      db: database.db,
      logger: captureLogs().logger,
      config: { queueMaxEntries: 100_000, batchSize: 50, flushIntervalMs: 10, stopTimeoutMs: 10_000 },
    });
    await writer.start();
    const entries = Array.from({ length: 2_000 }, (_, index) =>
      makeEntry(keys, { occurredAt: index % 2 === 0 ? realNow : new Date(oldDay.getTime() + 3_600_000), tags: [] }),
    );

    const writing = (async () => {
      for (let offset = 0; offset < entries.length; offset += 100) {
        for (const entry of entries.slice(offset, offset + 100)) writer.enqueue(entry);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const { job } = createJob({ ...config, requestLogDays: 30 }, () => realNow);
    const [run] = await Promise.all([job.run(), writing]);
    await writer.stop();
    const today = entries.filter((entry) => entry.occurredAt === realNow).map((entry) => entry.id);

    expect(run.failedSteps).toEqual([]);
    expect(run.droppedPartitions).toContain(requestLogPartitionName(oldDay));
    expect(writer.stats.dropped).toBe(0);
    expect(writer.stats.written).toBe(entries.length);
    expect((await storedIds(today)).length).toBe(today.length);
  });
});

describe('retention job schedule', () => {
  it('runs at start and stops', async () => {
    const { job, logs } = createJob({ ...config, intervalMs: 60_000 });

    job.start();
    await job.stop();

    expect(logs.text()).toContain('Retention job started');
  });

  it('starts with the server', async () => {
    const server = await startServerOver(database.handle);
    try {
      expect(server.logs.text()).toContain('Retention job started');
      expect(server.running.app.retention).toBeInstanceOf(RetentionJob);
    } finally {
      await server.stop();
    }
  });

  it('a failed step is logged and reported', async () => {
    const logs = captureLogs();
    const broken = new RetentionJob({ db: database.db.withSchema('no_such_schema'), logger: logs.logger, config, clock: () => now });

    const result = await broken.run();

    expect(result.failedSteps).toContain('delete old audit events');
    expect(logs.text()).toContain('A retention step failed');
  });
});

describe('retention configuration', () => {
  it('defaults to 30, 400 and 400 days, hourly', () => {
    const { retention } = loadConfig({});

    expect(retention).toEqual({ requestLogDays: 30, usageRollupDays: 400, auditEventDays: 400, intervalMs: 3_600_000 });
  });

  it('reads every variable', () => {
    const { retention } = loadConfig({
      REQUEST_LOG_RETENTION_DAYS: '7',
      USAGE_ROLLUP_RETENTION_DAYS: '90',
      AUDIT_EVENT_RETENTION_DAYS: '365',
      RETENTION_INTERVAL_MS: '600000',
    });

    expect(retention).toEqual({ requestLogDays: 7, usageRollupDays: 90, auditEventDays: 365, intervalMs: 600_000 });
  });

  it('rejects zero days with the expected range', () => {
    let error: unknown;
    try {
      loadConfig({ REQUEST_LOG_RETENTION_DAYS: '0' });
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { variable: 'REQUEST_LOG_RETENTION_DAYS', message: 'expected an integer from 1 to 3650 (days), got "0"' },
    ]);
  });
});
