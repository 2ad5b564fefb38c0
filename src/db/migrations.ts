import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export const migrationsDirectory = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface MigrationStatus {
  /** Migrations of this build that the database has not applied. */
  pending: string[];
  /** Migrations the database has applied that this build does not know: a newer build ran them. */
  newer: string[];
}

/**
 * Loads `migrations/*.ts` by file name. Kysely's own FileMigrationProvider would do the same, but its
 * `import()` runs inside node_modules, where test runners do not load TypeScript.
 */
class DirectoryMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(migrationsDirectory))
      .filter((file) => /^\d{14}_[a-z0-9_]+\.(ts|js)$/.test(file))
      .sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      migrations[file.replace(/\.(ts|js)$/, '')] = (await import(pathToFileURL(path.join(migrationsDirectory, file)).href)) as Migration;
    }
    return migrations;
  }
}

function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: new DirectoryMigrationProvider() });
}

export async function readMigrationStatus(db: Kysely<any>): Promise<MigrationStatus> {
  const known = (await createMigrator(db).getMigrations()).map((migration) => migration.name);
  const applied = await readAppliedMigrations(db);
  return {
    pending: known.filter((name) => !applied.has(name)),
    newer: [...applied].filter((name) => !known.includes(name)).sort(),
  };
}

async function readAppliedMigrations(db: Kysely<any>): Promise<Set<string>> {
  const table = await sql<{ exists: boolean }>`select to_regclass('kysely_migration') is not null as exists`.execute(db);
  if (!table.rows[0]?.exists) return new Set();
  const rows = await db.selectFrom('kysely_migration').select('name').execute();
  return new Set(rows.map((row: { name: string }) => row.name));
}

/** Raised when migrations cannot run; the message names the migration and the cause. */
export class MigrationError extends Error {
  readonly code = 'migration_failed';
}

/**
 * Applies every pending migration. Migrations are expand/contract, so a database that a newer build
 * already migrated is fine for this build as long as none of this build's migrations is missing.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<{ applied: string[]; status: MigrationStatus }> {
  const status = await readMigrationStatus(db);
  if (status.pending.length === 0) return { applied: [], status };
  if (status.newer.length > 0) {
    throw new MigrationError(
      `The database has migrations from a newer build (${status.newer.join(', ')}) but lacks ` +
        `${status.pending.join(', ')} of this build. Run the migrations of the newest build instead.`,
    );
  }

  const { error, results = [] } = await createMigrator(db).migrateToLatest();
  const failed = results.find((result) => result.status === 'Error');
  if (error) {
    const name = failed ? ` ${failed.migrationName}` : '';
    throw new MigrationError(`Migration${name} failed: ${(error as Error).message ?? String(error)}`);
  }
  return {
    applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName),
    status: await readMigrationStatus(db),
  };
}
