import { sql, type Kysely } from 'kysely';

// The encryption key check: one row holding a small envelope of a known constant, which every
// server decrypts at start to prove that its key backend can read the secrets of this database.
// Frozen once released: later changes go into new migration files.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('encryption_key_checks')
    .addColumn('id', 'text', (column) => column.notNull())
    .addColumn('backend', 'text', (column) => column.notNull())
    .addColumn('key_id', 'text', (column) => column.notNull())
    .addColumn('check_envelope', 'bytea', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('encryption_key_checks_pkey', ['id'])
    .addCheckConstraint('encryption_key_checks_singleton_check', sql`id = 'singleton'`)
    .addCheckConstraint('encryption_key_checks_backend_check', sql`backend in ('aws-kms', 'keyring')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('encryption_key_checks').execute();
}
