import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { openDatabase, wrapPglite, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { pgliteParsers } from '../../src/db/pglite-dialect.js';
import type { Database } from '../../src/db/schema.js';

export interface TestDatabase {
  db: Kysely<Database>;
  handle: DatabaseHandle;
  /** The URL of this test's own PostgreSQL database; undefined on PGlite. */
  url: string | undefined;
  destroy(): Promise<void>;
}

/** The PostgreSQL server the tests use, or undefined to run on embedded PGlite. */
export const postgresUrl = process.env.DATABASE_URL || undefined;

/**
 * A fresh, migrated database for one test file: its own PostgreSQL database when DATABASE_URL is
 * set, so files run in parallel without sharing rows, or an in-memory PGlite otherwise.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let handle: DatabaseHandle;
  let url: string | undefined;
  let dropDatabase = async () => {};

  if (postgresUrl) {
    const name = `keyroute_test_${randomBytes(6).toString('hex')}`;
    await withAdminClient((client) => client.query(`create database ${name}`));
    url = withDatabaseName(postgresUrl, name);
    handle = await openDatabase({ url, dataDirectory: '', poolMax: 10, connectTimeoutMs: 5_000, migrateOnStart: true });
    dropDatabase = () => withAdminClient((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined);
  } else {
    handle = wrapPglite(await PGlite.create({ parsers: pgliteParsers }), 'memory');
  }

  if (options.migrate !== false) await migrateToLatest(handle.db);
  return {
    db: handle.db,
    handle,
    url,
    async destroy() {
      await handle.close().catch(() => undefined);
      await dropDatabase();
    },
  };
}

export function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
