import { sql, type Kysely } from 'kysely';

// The request log: one row per proxied request, partitioned by UTC day on occurred_at.
// Frozen once released: later changes go into new migration files.
//
// This migration creates the parent table and its default partition only. The application creates
// the daily partitions request_logs_YYYYMMDD ahead of time, and the default partition takes the
// rows of any day that has none, so an insert never fails for a missing partition.

export async function up(db: Kysely<any>): Promise<void> {
  // A CHECK constraint cannot loop over array elements itself, so it calls this function. It is
  // PL/pgSQL because an SQL function with a subquery is not inlined: inserting 300,000 rows with
  // such a check took 1.5 to 2 times as long as with this loop (one measurement on PostgreSQL 15,
  // on a busy 2-core machine).
  await sql`
    create function request_log_tags_are_bounded(tags text[]) returns boolean
    language plpgsql immutable parallel safe
    as $$
    declare
      tag text;
    begin
      if cardinality(tags) > 10 then
        return false;
      end if;
      foreach tag in array tags loop
        if tag is null or char_length(tag) not between 1 and 64 then
          return false;
        end if;
      end loop;
      return true;
    end
    $$
  `.execute(db);

  // No foreign keys: deleting an organization or a key must keep the history of its requests.
  await db.schema
    .createTable('request_logs')
    .addColumn('id', 'uuid', (column) => column.notNull())
    .addColumn('occurred_at', 'timestamptz', (column) => column.notNull())
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    .addColumn('gateway_key_id', 'uuid', (column) => column.notNull())
    .addColumn('provider_key_id', 'uuid')
    .addColumn('credential_source', 'text')
    .addColumn('provider', 'text')
    .addColumn('model', 'text')
    .addColumn('region', 'text')
    .addColumn('stream', 'boolean', (column) => column.notNull())
    .addColumn('status', 'integer', (column) => column.notNull())
    .addColumn('error_code', 'text')
    .addColumn('latency_ms', 'integer', (column) => column.notNull())
    .addColumn('ttfb_ms', 'integer')
    .addColumn('upstream_latency_ms', 'integer')
    .addColumn('input_uncached_tokens', 'bigint')
    .addColumn('cache_read_tokens', 'bigint')
    .addColumn('cache_write_tokens', 'bigint')
    .addColumn('output_tokens', 'bigint')
    .addColumn('reasoning_tokens', 'bigint')
    .addColumn('raw_usage', 'jsonb')
    .addColumn('cost_micro_usd', 'bigint')
    .addColumn('price_table_version', 'text')
    .addColumn('tags', sql`text[]`, (column) => column.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('request_id', 'text', (column) => column.notNull())
    .addColumn('client_request_id', 'text')
    .addColumn('upstream_request_id', 'text')
    // PostgreSQL requires every unique constraint of a partitioned table to include the partition key.
    .addPrimaryKeyConstraint('request_logs_pkey', ['id', 'occurred_at'])
    .addCheckConstraint(
      'request_logs_credential_source_check',
      sql`credential_source in ('GATEWAY_KEY', 'ORGANIZATION', 'PLATFORM')`,
    )
    .addCheckConstraint('request_logs_tags_check', sql`request_log_tags_are_bounded(tags)`)
    .modifyEnd(sql`partition by range (occurred_at)`)
    .execute();

  await sql`create table request_logs_default partition of request_logs default`.execute(db);

  // Indexes on the parent are created on every partition, present and future.
  // The id column makes keyset pagination over (occurred_at, id) an index scan.
  await db.schema
    .createIndex('request_logs_organization_id_occurred_at_idx')
    .on('request_logs')
    .columns(['organization_id', 'occurred_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('request_logs_provider_key_id_occurred_at_idx')
    .on('request_logs')
    .columns(['provider_key_id', 'occurred_at'])
    .execute();
  await db.schema
    .createIndex('request_logs_gateway_key_id_occurred_at_idx')
    .on('request_logs')
    .columns(['gateway_key_id', 'occurred_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // Dropping the parent drops every partition, including those the application created.
  await db.schema.dropTable('request_logs').execute();
  await sql`drop function request_log_tags_are_bounded(text[])`.execute(db);
}
