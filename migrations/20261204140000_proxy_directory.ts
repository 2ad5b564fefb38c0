import { sql, type Kysely } from 'kysely';

// The change sequence that proxy caches compare against to notice missed change notifications,
// and the per-organization permission to use the operator's platform credentials.
// Frozen once released: later changes go into new migration files.

export async function up(db: Kysely<any>): Promise<void> {
  // One row. Every write to gateway keys, provider keys, assignments or organizations increments
  // it in its own transaction, so the new value becomes visible exactly when the change commits.
  await db.schema
    .createTable('change_sequence')
    .addColumn('id', 'text', (column) => column.notNull())
    .addColumn('value', 'bigint', (column) => column.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('change_sequence_pkey', ['id'])
    .addCheckConstraint('change_sequence_singleton_check', sql`id = 'singleton'`)
    .execute();
  await db.insertInto('change_sequence').values({ id: 'singleton', value: 0 }).execute();

  await db.schema
    .alterTable('organizations')
    .addColumn('platform_credentials_allowed', 'boolean', (column) => column.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('organizations').dropColumn('platform_credentials_allowed').execute();
  await db.schema.dropTable('change_sequence').execute();
}
