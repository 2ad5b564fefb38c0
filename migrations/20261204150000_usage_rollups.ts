import { sql, type CreateTableBuilder, type Kysely } from 'kysely';

// Hourly usage rollups of the request log, written by the request log writer in the transaction of
// each batch it inserts. Frozen once released: later changes go into new migration files.
//
// Three tables of the same measures at different grains, each row for one UTC hour:
// - usage_hourly: per organization, gateway key, provider key, provider, model, credential source
//   and status class. It serves usage per gateway key.
// - usage_provider_key_hourly: the same without gateway key and status class, so it has far fewer
//   rows per hour. It serves usage per organization and per provider key.
// - usage_tag_hourly: per organization, tag, gateway key, provider key, provider, model and
//   credential source. A request with three tags is counted in three of its rows.
//
// Measures: exact request and error counts, token and cost sums, and a latency histogram. Each
// latency_le_<N>ms column counts the requests whose latency_ms is above the previous bound and at
// most N, and latency_gt_600000ms counts those above 10 minutes. The bounds follow a roughly
// 1-1.5-2.5-4-6 series, so neighbouring bounds are 1.5 to 2.5 times apart.
//
// NULLS NOT DISTINCT (PostgreSQL 15 and later) in the unique constraints makes the rows of requests
// without a provider key (platform credentials) conflict with each other, so that the writer's
// upsert adds to one row. No foreign keys, like request_logs: deleting an organization or a key
// keeps its usage history.

const latencyBoundsMs = [
  5, 10, 25, 50, 100, 150, 250, 400, 600, 1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 15_000, 25_000, 40_000, 60_000,
  120_000, 300_000, 600_000,
];

const latencyColumns = [...latencyBoundsMs.map((bound) => `latency_le_${bound}ms`), 'latency_gt_600000ms'];

const sumColumns = ['input_uncached_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'cost_micro_usd'];

/** Adds the measure columns, and the check that `hour` is the first instant of a UTC hour. */
function addMeasures(table: CreateTableBuilder<any, any>, name: string): CreateTableBuilder<any, any> {
  // Counts per hour and dimension set fit an integer: 2^31 in one hour is 600,000 requests per second.
  let builder = table
    .addColumn('request_count', 'integer', (column) => column.notNull())
    // Requests with a status of 400 or more, 499 (the client left) included.
    .addColumn('error_count', 'integer', (column) => column.notNull());
  for (const column of sumColumns) builder = builder.addColumn(column, 'bigint', (definition) => definition.notNull());
  for (const column of latencyColumns) builder = builder.addColumn(column, 'integer', (definition) => definition.notNull());
  return builder.addCheckConstraint(`${name}_hour_check`, sql`extract(epoch from hour) % 3600 = 0`);
}

export async function up(db: Kysely<any>): Promise<void> {
  const hourly = db.schema
    .createTable('usage_hourly')
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    // The UTC hour, as its first instant.
    .addColumn('hour', 'timestamptz', (column) => column.notNull())
    .addColumn('gateway_key_id', 'uuid', (column) => column.notNull())
    .addColumn('provider_key_id', 'uuid')
    .addColumn('provider', 'text')
    .addColumn('model', 'text')
    .addColumn('credential_source', 'text')
    // The first digit of the HTTP status: 2 for 2xx, 4 for 4xx and for 499.
    .addColumn('status_class', 'smallint', (column) => column.notNull())
    .addUniqueConstraint(
      'usage_hourly_key',
      ['organization_id', 'hour', 'gateway_key_id', 'provider_key_id', 'provider', 'model', 'credential_source', 'status_class'],
      (constraint) => constraint.nullsNotDistinct(),
    );
  await addMeasures(hourly, 'usage_hourly').execute();
  await db.schema
    .createIndex('usage_hourly_gateway_key_idx')
    .on('usage_hourly')
    .columns(['organization_id', 'gateway_key_id', 'hour'])
    .execute();

  const byProviderKey = db.schema
    .createTable('usage_provider_key_hourly')
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    .addColumn('hour', 'timestamptz', (column) => column.notNull())
    .addColumn('provider_key_id', 'uuid')
    .addColumn('provider', 'text')
    .addColumn('model', 'text')
    .addColumn('credential_source', 'text')
    // Its index also serves the organization's usage, which reads a range of hours.
    .addUniqueConstraint(
      'usage_provider_key_hourly_key',
      ['organization_id', 'hour', 'provider_key_id', 'provider', 'model', 'credential_source'],
      (constraint) => constraint.nullsNotDistinct(),
    );
  await addMeasures(byProviderKey, 'usage_provider_key_hourly').execute();
  await db.schema
    .createIndex('usage_provider_key_hourly_provider_key_idx')
    .on('usage_provider_key_hourly')
    .columns(['organization_id', 'provider_key_id', 'hour'])
    .execute();

  const tagged = db.schema
    .createTable('usage_tag_hourly')
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    .addColumn('tag', 'text', (column) => column.notNull())
    .addColumn('hour', 'timestamptz', (column) => column.notNull())
    .addColumn('gateway_key_id', 'uuid', (column) => column.notNull())
    .addColumn('provider_key_id', 'uuid')
    .addColumn('provider', 'text')
    .addColumn('model', 'text')
    .addColumn('credential_source', 'text')
    // The tag comes second, so that this index serves usage filtered by a tag.
    .addUniqueConstraint(
      'usage_tag_hourly_key',
      ['organization_id', 'tag', 'hour', 'gateway_key_id', 'provider_key_id', 'provider', 'model', 'credential_source'],
      (constraint) => constraint.nullsNotDistinct(),
    );
  await addMeasures(tagged, 'usage_tag_hourly').execute();

  // Rows are written in roughly increasing hour order, which suits BRIN indexes for the retention
  // job's `hour < cutoff` deletes, at a tiny fraction of a B-tree's size and write cost.
  for (const table of ['usage_hourly', 'usage_provider_key_hourly', 'usage_tag_hourly']) {
    await db.schema.createIndex(`${table}_hour_idx`).on(table).using('brin').column('hour').execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('usage_tag_hourly').execute();
  await db.schema.dropTable('usage_provider_key_hourly').execute();
  await db.schema.dropTable('usage_hourly').execute();
}
