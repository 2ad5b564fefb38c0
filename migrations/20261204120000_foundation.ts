import { sql, type Kysely } from 'kysely';

// Organizations, management tokens, gateway keys and the audit log.
// Frozen once released: later changes go into new migration files.

export async function up(db: Kysely<any>): Promise<void> {

  await db.schema
    .createTable('organizations')
    .addColumn('id', 'uuid', (column) => column.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('management_tokens')
    .addColumn('id', 'uuid', (column) => column.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('actor_label', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull())
    .addColumn('token_hash', 'bytea', (column) => column.notNull())
    .addColumn('display_prefix', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addCheckConstraint('management_tokens_scope_check', sql`scope in ('read', 'write')`)
    .addUniqueConstraint('management_tokens_token_hash_key', ['token_hash'])
    .execute();
  await db.schema
    .createIndex('management_tokens_organization_id_idx')
    .on('management_tokens')
    .column('organization_id')
    .execute();

  await db.schema
    .createTable('gateway_keys')
    .addColumn('id', 'uuid', (column) => column.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('display_prefix', 'text', (column) => column.notNull())
    .addColumn('secret_hash', 'bytea', (column) => column.notNull())
    .addColumn('active', 'boolean', (column) => column.notNull().defaultTo(true))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('model_allow_list', sql`text[]`)
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('created_by_token_id', 'uuid')
    .addUniqueConstraint('gateway_keys_secret_hash_key', ['secret_hash'])
    // Target of composite foreign keys, so rows that point at a gateway key cannot cross organizations.
    .addUniqueConstraint('gateway_keys_organization_id_id_key', ['organization_id', 'id'])
    .execute();
  await db.schema
    .createIndex('gateway_keys_organization_id_created_at_idx')
    .on('gateway_keys')
    .columns(['organization_id', 'created_at', 'id'])
    .execute();

  // No foreign keys: the audit trail outlives the rows it describes.
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigint', (column) => column.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    .addColumn('actor_token_id', 'uuid')
    .addColumn('actor_label', 'text', (column) => column.notNull())
    .addColumn('action', 'text', (column) => column.notNull())
    .addColumn('subject_type', 'text', (column) => column.notNull())
    .addColumn('subject_id', 'uuid')
    .addColumn('changes', 'jsonb', (column) => column.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('request_id', 'text')
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('audit_events_organization_id_created_at_idx')
    .on('audit_events')
    .columns(['organization_id', 'created_at desc', 'id desc'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
  await db.schema.dropTable('gateway_keys').execute();
  await db.schema.dropTable('management_tokens').execute();
  await db.schema.dropTable('organizations').execute();
}
