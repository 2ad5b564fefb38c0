import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { MigrationError, migrateToLatest, migrationsDirectory, readMigrationStatus } from '../../src/db/migrations.js';
import { Readiness } from '../../src/http/readiness.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { startServerOver } from '../support/in-process-server.js';
import { baseEnvironment, ProcessGroup } from '../support/process.js';

/** A name that sorts after every real migration, as one written by a newer build would. */
const newerMigration = '29991231235959_from_a_newer_build';

async function listKnownMigrations(): Promise<string[]> {
  const files = await readdir(migrationsDirectory);
  return files
    .filter((file) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(file))
    .map((file) => file.replace(/\.(ts|js)$/, ''))
    .sort();
}

async function resetSchema(db: Kysely<any>): Promise<void> {
  await sql`drop schema public cascade`.execute(db);
  await sql`create schema public`.execute(db);
}

async function readMigrationRows(db: Kysely<any>): Promise<{ name: string; timestamp: string }[]> {
  return db.selectFrom('kysely_migration').select(['name', 'timestamp']).orderBy('name').execute();
}

/** Applies every known migration except the newest, as on a database that an older build migrated. */
async function migrateAllButNewest(db: Kysely<any>, known: string[]): Promise<string> {
  const newest = known.at(-1)!;
  const migrations: Record<string, Migration> = {};
  for (const name of known.slice(0, -1)) {
    const file = (await readdir(migrationsDirectory)).find((entry) => entry.startsWith(`${name}.`))!;
    migrations[name] = (await import(pathToFileURL(path.join(migrationsDirectory, file)).href)) as Migration;
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
  return newest;
}

describe('migrations', () => {
  let database: TestDatabase;
  let known: string[];

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
    known = await listKnownMigrations();
  });

  afterAll(async () => {
    await database?.destroy();
  });

  beforeEach(async () => {
    await resetSchema(database.db);
  });

  it('apply every known migration', async () => {
    const { applied, status } = await migrateToLatest(database.db);

    expect(known.length).toBeGreaterThan(0);
    expect(applied).toEqual(known);
    expect(status.pending).toEqual([]);
    expect(status.newer).toEqual([]);
  });

  it('apply nothing the second time', async () => {
    await migrateToLatest(database.db);
    const rowsBefore = await readMigrationRows(database.db);

    const { applied, status } = await migrateToLatest(database.db);

    expect(applied).toEqual([]);
    expect(status.pending).toEqual([]);
    expect(await readMigrationRows(database.db)).toEqual(rowsBefore);
  });

  it('report all pending when empty', async () => {
    const status = await readMigrationStatus(database.db);

    expect(status.pending).toEqual(known);
    expect(status.newer).toEqual([]);
  });

  it('tolerate a migration from a newer build', async () => {
    await migrateToLatest(database.db);
    await database.db
      .insertInto('kysely_migration' as never)
      .values({ name: newerMigration, timestamp: new Date().toISOString() } as never)
      .execute();

    const { applied, status } = await migrateToLatest(database.db);
    const readiness = await new Readiness(database.handle).report();

    expect(applied).toEqual([]);
    expect(status.newer).toEqual([newerMigration]);
    expect(readiness.ready).toBe(true);
    expect(readiness.body.checks.migrations).toBe('applied');
    expect(readiness.body.pendingMigrations).toBeUndefined();
  });

  it('reject pending below a newer one', async () => {
    await migrateToLatest(database.db);
    const newest = known.at(-1)!;
    await database.db
      .insertInto('kysely_migration' as never)
      .values({ name: newerMigration, timestamp: new Date().toISOString() } as never)
      .execute();
    await database.db.deleteFrom('kysely_migration' as never).where('name' as never, '=', newest as never).execute();

    const attempt = migrateToLatest(database.db);

    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow(newerMigration);
    await expect(attempt).rejects.toThrow(newest);
  });

  it('refuse to start while pending', async () => {
    const newest = await migrateAllButNewest(database.db, known);
    const attempt = startServerOver(database.handle, {
      MIGRATE_ON_START: 'false',
      ...(database.url && { DATABASE_URL: database.url }),
    });

    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow(newest);
    await expect(attempt).rejects.toThrow('npm run migrate');
  });

  it('report pending on /readyz', async () => {
    const newest = await migrateAllButNewest(database.db, known);
    const readiness = new Readiness(database.handle);
    const pending = await readiness.report();

    expect(pending.ready).toBe(false);
    expect(pending.body.checks.migrations).toBe('pending');
    expect(pending.body.pendingMigrations).toEqual([newest]);
    expect(pending.body.database.status).toBe('ok');

    // What `keyroute migrate` runs.
    const { applied } = await migrateToLatest(database.db);
    const ready = await readiness.report();

    expect(applied).toEqual([newest]);
    expect(ready.ready).toBe(true);
    expect(ready.body.checks.migrations).toBe('applied');
    expect(ready.body.pendingMigrations).toBeUndefined();
  });
});

// Only a PostgreSQL server has separate sessions that can race for Kysely's migration lock; PGlite
// is one session in one process.
describe.skipIf(!postgresUrl)('concurrent migrations on PostgreSQL', () => {
  const processes = new ProcessGroup();
  let known: string[];

  beforeAll(async () => {
    known = await listKnownMigrations();
  });

  afterEach(async () => {
    await processes.killAll();
  });

  it('succeed in two processes at once', async () => {
    const database = await createTestDatabase({ migrate: false });
    try {
      const environment = { ...baseEnvironment(), DATABASE_URL: database.url! };
      const first = processes.spawnCli(['migrate', '--json'], environment);
      const second = processes.spawnCli(['migrate', '--json'], environment);

      const [firstExit, secondExit] = await Promise.all([first.waitForExit(), second.waitForExit()]);

      expect(firstExit.code, first.stderr()).toBe(0);
      expect(secondExit.code, second.stderr()).toBe(0);
      const appliedLists = [first, second].map(
        (spawned) => (JSON.parse(spawned.stdout().trim().split('\n').at(-1)!) as { applied: string[] }).applied,
      );
      expect(appliedLists.flat().sort()).toEqual(known);
      expect((await readMigrationStatus(database.db)).pending).toEqual([]);
    } finally {
      await database.destroy();
    }
  });

  it('apply each migration once across four connections', async () => {
    const database = await createTestDatabase({ migrate: false });
    const handles = await Promise.all(
      Array.from({ length: 4 }, () =>
        openDatabase({ url: database.url, dataDirectory: '', poolMax: 2, connectTimeoutMs: 5_000, migrateOnStart: true }),
      ),
    );
    try {
      const results = await Promise.all(handles.map((handle) => migrateToLatest(handle.db)));

      expect(results.flatMap((result) => result.applied).sort()).toEqual(known);
      expect(await readMigrationRows(database.db)).toHaveLength(known.length);
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
      await database.destroy();
    }
  });
});
