import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

const dailyPartitionPattern = /^request_logs_(\d{4})(\d{2})(\d{2})$/;

export interface DailyPartition {
  name: string;
  /** First instant of the partition's UTC day. */
  day: Date;
}

/**
 * Lists the daily partitions attached to request_logs, named request_logs_YYYYMMDD by the request
 * log writer. The default partition and any table of another name are left out.
 */
export async function listDailyRequestLogPartitions(db: Kysely<Database>): Promise<DailyPartition[]> {
  const result = await sql<{ name: string }>`
    select child.relname as name
    from pg_inherits
    join pg_class child on child.oid = pg_inherits.inhrelid
    where pg_inherits.inhparent = 'request_logs'::regclass
  `.execute(db);

  const partitions: DailyPartition[] = [];
  for (const { name } of result.rows) {
    const match = dailyPartitionPattern.exec(name);
    if (!match) continue;
    partitions.push({ name, day: new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) });
  }
  return partitions.sort((a, b) => a.day.getTime() - b.day.getTime());
}

/**
 * Drops one daily partition of request_logs with all its rows.
 *
 * DROP TABLE on a partition takes an ACCESS EXCLUSIVE lock on request_logs itself, and inserts
 * queue behind a waiting lock request. The lock wait is therefore bounded: after 5 seconds the
 * statement fails with SQLSTATE 55P03, and the next run tries again. An insert waits for the drop
 * and then proceeds. A row written later for the dropped day goes to the default partition.
 */
export async function dropRequestLogPartition(db: Kysely<Database>, name: string): Promise<void> {
  if (!dailyPartitionPattern.test(name)) throw new Error(`${name} is not a daily request log partition`);
  await db.transaction().execute(async (trx) => {
    await sql`set local lock_timeout = '5s'`.execute(trx);
    await sql`drop table if exists ${sql.table(name)}`.execute(trx);
  });
}

/**
 * Deletes the rows of the default partition that occurred before `cutoff`. The default partition
 * contains the rows of days that had no partition of their own when they were written.
 */
export async function deleteDefaultPartitionRowsBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await sql`delete from request_logs_default where occurred_at < ${cutoff.toISOString()}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Deletes the usage_hourly rows of hours that start before `cutoff`. */
export async function deleteHourlyUsageBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('usage_hourly').where('hour', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes the usage_provider_key_hourly rows of hours that start before `cutoff`. */
export async function deleteProviderKeyUsageBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('usage_provider_key_hourly').where('hour', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes the usage_tag_hourly rows of hours that start before `cutoff`. */
export async function deleteTagUsageBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('usage_tag_hourly').where('hour', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes the audit events created before `cutoff`. */
export async function deleteAuditEventsBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('audit_events').where('created_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
