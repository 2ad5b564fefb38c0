import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../db/schema.js';
import { latencyBucketColumns } from '../../features/usage/latency-histogram.js';
import { usageMeasureColumns, type UsageSums } from '../../features/usage/usage-sums.js';
import {
  measureColumns,
  type HourlyUsage,
  type ProviderKeyDimensions,
  type ProviderKeyUsage,
  type Rollup,
  type TagUsage,
  type UsageDimensions,
} from './usage-rollup.js';

/** A column of an upsert: its name, its PostgreSQL type, and its value in an aggregated row. */
type Column<Row> = readonly [name: string, type: string, value: (row: Row) => unknown];

const providerKeyDimensions: Column<ProviderKeyDimensions>[] = [
  ['organization_id', 'uuid', (row) => row.organizationId],
  ['hour', 'timestamptz', (row) => row.hour.toISOString()],
  ['provider_key_id', 'uuid', (row) => row.providerKeyId],
  ['provider', 'text', (row) => row.provider],
  ['model', 'text', (row) => row.model],
  ['credential_source', 'text', (row) => row.credentialSource],
];

const sharedDimensions: Column<UsageDimensions>[] = [...providerKeyDimensions, ['gateway_key_id', 'uuid', (row) => row.gatewayKeyId]];

const measures: Column<UsageSums>[] = [
  ...usageMeasureColumns.map(([name, field, type]): Column<UsageSums> => [name, type, (row) => row[field]]),
  ...latencyBucketColumns.map((name, index): Column<UsageSums> => [name, 'integer', (row) => row.latencyBuckets[index]]),
];

const hourlyColumns: Column<HourlyUsage>[] = [
  ...sharedDimensions,
  ['status_class', 'smallint', (row) => row.statusClass],
  ...measures,
];

const providerKeyColumns: Column<ProviderKeyUsage>[] = [...providerKeyDimensions, ...measures];

const tagColumns: Column<TagUsage>[] = [['tag', 'text', (row) => row.tag], ...sharedDimensions, ...measures];

// The three upserts below write given sums directly, to seed rollups in tests. The request log
// writer does not call them: it sums its batches in SQL through rollupUpsertSql.

/** Adds `rows` to usage_hourly: each row is inserted, or added to the row of the same dimensions. */
export async function upsertHourlyUsage(db: Kysely<Database>, rows: readonly HourlyUsage[]): Promise<void> {
  if (rows.length === 0) return;
  await upsertStatement('usage_hourly', 'usage_hourly_key', hourlyColumns, rows).execute(db);
}

/** Adds `rows` to usage_provider_key_hourly: each row is inserted, or added to the row of the same dimensions. */
export async function upsertProviderKeyUsage(db: Kysely<Database>, rows: readonly ProviderKeyUsage[]): Promise<void> {
  if (rows.length === 0) return;
  await upsertStatement('usage_provider_key_hourly', 'usage_provider_key_hourly_key', providerKeyColumns, rows).execute(db);
}

/** Adds `rows` to usage_tag_hourly: each row is inserted, or added to the row of the same dimensions. */
export async function upsertTagUsage(db: Kysely<Database>, rows: readonly TagUsage[]): Promise<void> {
  if (rows.length === 0) return;
  await upsertStatement('usage_tag_hourly', 'usage_tag_hourly_key', tagColumns, rows).execute(db);
}

/**
 * Builds one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE statement, with one array
 * parameter per column, so its size does not grow with the number of rows. A conflicting row gets
 * every measure added to it.
 */
function upsertStatement<Row>(
  table: 'usage_hourly' | 'usage_provider_key_hourly' | 'usage_tag_hourly',
  constraint: string,
  columns: readonly Column<Row>[],
  rows: readonly Row[],
): RawBuilder<unknown> {
  const names = sql.join(columns.map(([name]) => sql.ref(name)));
  const arrays = sql.join(columns.map(([, type, value]) => sql`${rows.map(value)}::${sql.raw(type)}[]`));
  const additions = sql.join(
    measures.map(([name]) => sql`${sql.ref(name)} = ${sql.table(table)}.${sql.ref(name)} + excluded.${sql.ref(name)}`),
  );
  return sql`
    insert into ${sql.table(table)} (${names})
    select * from unnest(${arrays}) as u(${names})
    on conflict on constraint ${sql.ref(constraint)} do update set ${additions}
  `;
}

/**
 * Returns the upsert of `rollup` from the request_logs rows of `source`, a relation of the
 * enclosing statement, as the text of a data-modifying WITH query. It inserts one row per group,
 * which ON CONFLICT DO UPDATE requires: PostgreSQL rejects an upsert that would update one row
 * twice. A conflicting row gets every measure added to it. The rows go in the order of the
 * dimensions, so that concurrent writers tend to lock rollup rows in one order.
 */
export function rollupUpsertSql(rollup: Rollup, source: string): string {
  const columns = [...rollup.dimensions, ...measureColumns];
  const dimensionPositions = rollup.dimensions.map((_, index) => index + 1).join(', ');
  const additions = measureColumns.map(({ name }) => `${name} = ${rollup.table}.${name} + excluded.${name}`);
  return `insert into ${rollup.table} (${columns.map((column) => column.name).join(', ')})
select ${columns.map((column) => column.expression).join(', ')}
from ${source}${rollup.join === undefined ? '' : ` ${rollup.join}`}
group by ${dimensionPositions}
order by ${dimensionPositions}
on conflict on constraint ${rollup.constraint} do update
set ${additions.join(', ')}`;
}
