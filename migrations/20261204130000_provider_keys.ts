import { sql, type Kysely } from 'kysely';

// Provider keys, their assignments, and idempotency records for creates.
// Frozen once released: later changes go into new migration files.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('provider_keys')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('organization_id', 'uuid', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('provider', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('enabled', 'boolean', (column) => column.notNull().defaultTo(true))
    .addColumn('credentials_kind', 'text', (column) => column.notNull())
    .addColumn('credentials_envelope', 'bytea', (column) => column.notNull())
    // The masked view, in clear, so listing keys never needs the key backend.
    .addColumn('masked_credentials', 'jsonb', (column) => column.notNull())
    .addColumn('settings', 'jsonb', (column) => column.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('credentials_version', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('status', 'text', (column) => column.notNull().defaultTo('OK'))
    .addColumn('status_error_code', 'text')
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('credentials_updated_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('created_by_token_id', 'uuid')
    .addCheckConstraint(
      'provider_keys_provider_check',
      sql`provider in ('ANTHROPIC', 'OPENAI', 'VERTEX_AI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI', 'BEDROCK')`,
    )
    .addCheckConstraint(
      'provider_keys_credentials_kind_check',
      sql`credentials_kind in ('API_KEY', 'BEDROCK_REGIONS', 'VERTEX_SERVICE_ACCOUNT')`,
    )
    .addCheckConstraint('provider_keys_status_check', sql`status in ('OK', 'UNDECRYPTABLE')`)
    // Target of the assignments' composite foreign key: an assignment can only name a key of its
    // own organization and provider.
    .addUniqueConstraint('provider_keys_organization_id_provider_id_key', ['organization_id', 'provider', 'id'])
    .execute();
  await db.schema
    .createIndex('provider_keys_organization_id_created_at_idx')
    .on('provider_keys')
    .columns(['organization_id', 'created_at', 'id'])
    .execute();

  // One row per (provider key, gateway key); a null gateway key means organization-wide.
  await db.schema
    .createTable('provider_key_assignments')
    .addColumn('organization_id', 'uuid', (column) => column.notNull())
    .addColumn('provider', 'text', (column) => column.notNull())
    .addColumn('provider_key_id', 'uuid', (column) => column.notNull())
    .addColumn('gateway_key_id', 'uuid')
    .addForeignKeyConstraint(
      'provider_key_assignments_provider_key_fkey',
      ['organization_id', 'provider', 'provider_key_id'],
      'provider_keys',
      ['organization_id', 'provider', 'id'],
      (constraint) => constraint.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'provider_key_assignments_gateway_key_fkey',
      ['organization_id', 'gateway_key_id'],
      'gateway_keys',
      ['organization_id', 'id'],
      (constraint) => constraint.onDelete('cascade'),
    )
    .execute();
  await db.schema
    .createIndex('provider_key_assignments_organization_wide_key')
    .on('provider_key_assignments')
    .columns(['organization_id', 'provider'])
    .unique()
    .where(sql.ref('gateway_key_id'), 'is', null)
    .execute();
  await db.schema
    .createIndex('provider_key_assignments_gateway_key_key')
    .on('provider_key_assignments')
    .columns(['gateway_key_id', 'provider'])
    .unique()
    .where(sql.ref('gateway_key_id'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('provider_key_assignments_provider_key_id_idx')
    .on('provider_key_assignments')
    .column('provider_key_id')
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('organization_id', 'uuid', (column) =>
      column.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('key', 'text', (column) => column.notNull())
    .addColumn('operation', 'text', (column) => column.notNull())
    .addColumn('input_salt', 'bytea', (column) => column.notNull())
    .addColumn('input_hmac', 'bytea', (column) => column.notNull())
    .addColumn('result_id', 'uuid')
    // A created gateway key's secret, encrypted, so a retry can return it; dropped at expiry.
    .addColumn('result_envelope', 'bytea')
    .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (column) => column.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['organization_id', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_keys_expires_at_idx').on('idempotency_keys').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.dropTable('provider_key_assignments').execute();
  await db.schema.dropTable('provider_keys').execute();
}
