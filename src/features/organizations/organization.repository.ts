import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

export async function insertOrganization(db: Kysely<Database>, name: string): Promise<Organization> {
  const row = await db
    .insertInto('organizations')
    .values({ name })
    .returning(['id', 'name', 'created_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

export async function findOrganization(db: Kysely<Database>, id: string): Promise<Organization | undefined> {
  const row = await db
    .selectFrom('organizations')
    .select(['id', 'name', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row && { id: row.id, name: row.name, createdAt: row.created_at };
}

export async function listOrganizations(db: Kysely<Database>): Promise<Organization[]> {
  const rows = await db.selectFrom('organizations').select(['id', 'name', 'created_at']).orderBy('created_at').execute();
  return rows.map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at }));
}

/** Returns false when no organization has this id. */
export async function updatePlatformCredentialsAllowed(db: Kysely<Database>, id: string, allowed: boolean): Promise<boolean> {
  const result = await db
    .updateTable('organizations')
    .set({ platform_credentials_allowed: allowed, updated_at: new Date() })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function countOrganizations(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('organizations')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
