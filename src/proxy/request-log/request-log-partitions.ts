import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Name of the partition that stores the rows of the UTC day containing `day`: request_logs_YYYYMMDD. */
export function requestLogPartitionName(day: Date): string {
  return `request_logs_${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Creates the daily partitions of `request_logs` for `days` UTC days starting with the day of
 * `fromDay`, skipping those that exist. Returns the names of the partitions it created.
 *
 * It is safe to run from several processes at once, because an advisory lock serializes creation
 * and each partition is checked again under the lock. Rows of the new day that are already in the default
 * partition move into the new partition, because PostgreSQL refuses to attach a partition whose
 * range still has rows in the default partition.
 */
export async function ensureRequestLogPartitions(db: Kysely<Database>, fromDay: Date, days: number): Promise<string[]> {
  const firstDayMs = Math.floor(fromDay.getTime() / DAY_MS) * DAY_MS;
  const dayStarts = Array.from({ length: days }, (_, offset) => new Date(firstDayMs + offset * DAY_MS));

  const missing = new Set(await findMissingTables(db, dayStarts.map(requestLogPartitionName)));
  const created: string[] = [];
  for (const dayStart of dayStarts) {
    const name = requestLogPartitionName(dayStart);
    if (missing.has(name) && (await createPartition(db, name, dayStart))) created.push(name);
  }
  return created;
}

/**
 * Finds which of `names` are not tables of the current schema. It reads pg_class with the
 * statement's snapshot rather than calling to_regclass(), whose catalog cache can miss a table that
 * another session committed while this one waited for an advisory lock.
 */
async function findMissingTables(db: Kysely<Database>, names: string[]): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select name from unnest(${names}::text[]) as name
    where not exists (
      select from pg_class where relname = name and relnamespace = current_schema()::regnamespace
    )
  `.execute(db);
  return result.rows.map((row) => row.name);
}

async function createPartition(db: Kysely<Database>, name: string, dayStart: Date): Promise<boolean> {
  const from = dayStart.toISOString();
  const to = new Date(dayStart.getTime() + DAY_MS).toISOString();
  const table = sql.table(name);

  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('request_logs partitions'))`.execute(trx);
    if ((await findMissingTables(trx, [name])).length === 0) return false;

    // ATTACH PARTITION takes an ACCESS EXCLUSIVE lock on the default partition. While it waits for
    // a long query on that partition, inserts routed there wait behind it, so give up early and
    // let the next scheduled run try again.
    await sql`set local lock_timeout = '5s'`.execute(trx);
    await sql`create table ${table} (like request_logs including all)`.execute(trx);
    await sql`
      with moved as (
        delete from request_logs_default where occurred_at >= ${from} and occurred_at < ${to} returning *
      )
      insert into ${table} select * from moved
    `.execute(trx);
    // ATTACH rather than CREATE TABLE ... PARTITION OF, because ATTACH locks the parent table in
    // SHARE UPDATE EXCLUSIVE mode only, which lets inserts and queries continue meanwhile.
    await sql`
      alter table request_logs attach partition ${table} for values from (${sql.lit(from)}) to (${sql.lit(to)})
    `.execute(trx);
    return true;
  });
}
