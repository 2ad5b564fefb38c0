import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/environment.js';
import { PgliteDialect, pgliteParsers } from './pglite-dialect.js';
import { PreparingClient } from './prepared-statements.js';
import type { Database } from './schema.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: DatabaseKind;
  /** A place to show in messages: host, port and database name, or the PGlite directory. Never a password. */
  location: string;
  /** The pg pool, for pool metrics and a dedicated listener connection; absent on PGlite. */
  pool?: pg.Pool;
  /** The embedded database, for its notifications; absent on PostgreSQL. */
  pglite?: PGlite;
  close(): Promise<void>;
}

/** Raised when the database cannot be opened at start; the message names the place and the fix. */
export class DatabaseUnavailableError extends Error {
  readonly code = 'database_unavailable';
}

export function describePostgresUrl(url: string): string {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.slice(1)) || '(default)';
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  return `${host}:${parsed.port || '5432'}/${database}`;
}

export async function openDatabase(config: Config['database']): Promise<DatabaseHandle> {
  return config.url ? openPostgres(config.url, config) : openPglite(config.dataDirectory);
}

async function openPostgres(url: string, config: Config['database']): Promise<DatabaseHandle> {
  const location = describePostgresUrl(url);
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString: url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'keyroute',
  });
  // An idle client that loses its connection emits on the pool; without a listener that would crash.
  pool.on('error', () => undefined);
  // A client checked out of the pool also emits 'error' when its connection drops, such as in the
  // middle of a transaction, and pg-pool listens only on idle clients. The query in flight still
  // fails with the error, and the pool discards the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));

  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseUnavailableError(
      `Cannot connect to PostgreSQL at ${location}: ${describeConnectionError(error)}. ` +
        'Check DATABASE_URL and that the server is running and accepts connections.',
    );
  }
  return { db, kind: 'postgres', location, pool, close: () => db.destroy() };
}

function describeConnectionError(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND') return 'host not found';
    if (code === '3D000') return 'the database does not exist';
    if (code === '28P01' || code === '28000') return 'authentication failed';
    if (message?.includes('timeout')) return 'timed out';
    if (code) return `error ${code}`;
  }
  return 'connection failed';
}

async function openPglite(dataDirectory: string): Promise<DatabaseHandle> {
  const directory = path.resolve(dataDirectory, 'pgdata');
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const releaseLock = await lockDirectory(path.resolve(dataDirectory, 'pgdata.lock'));

  let pglite: PGlite;
  try {
    pglite = await PGlite.create({ dataDir: directory, parsers: pgliteParsers });
  } catch (error) {
    await releaseLock();
    throw new DatabaseUnavailableError(
      `Cannot open the embedded database in ${directory}: ${(error as Error).message}. ` +
        'Move the directory aside to start afresh, or set DATA_DIR to another directory.',
    );
  }
  const handle = wrapPglite(pglite, directory);
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await releaseLock();
    },
  };
}

/** Wraps an open PGlite instance, such as an in-memory one in tests. */
export function wrapPglite(pglite: PGlite, location: string): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  return { db, kind: 'pglite', location, pglite, close: () => db.destroy() };
}

/**
 * Takes an exclusive lock file for the embedded database. PGlite does not lock its directory, and
 * two processes writing one data directory would corrupt it.
 */
async function lockDirectory(lockPath: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(lockPath).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = await readLockOwner(lockPath);
      if (owner !== undefined && owner !== process.pid && isProcessAlive(owner)) {
        throw new DatabaseUnavailableError(
          `The embedded database in ${path.dirname(lockPath)} is in use by process ${owner}, the owner of the lock file ` +
            `${lockPath}. Stop that process, or set DATA_DIR to another directory. If process ${owner} is not ` +
            'a Keyroute server or CLI, delete the lock file.',
        );
      }
      // The owner is gone: the lock is stale.
      // NOTE: two processes that find the same stale lock at once can both remove it and both start.
      await unlink(lockPath).catch(() => undefined);
    }
  }
  throw new DatabaseUnavailableError(`Cannot take the lock file ${lockPath}.`);
}

/**
 * Reads the process id in a lock file, or undefined when there is none. The owner creates the file
 * before it writes its id, so an empty file is read again for about 200 ms before it counts as
 * abandoned. Reading it only once would let a second process start while the first writes its id.
 */
async function readLockOwner(lockPath: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    let text: string;
    try {
      text = await readFile(lockPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const owner = Number(text.trim());
    if (Number.isInteger(owner) && owner > 0) return owner;
    await sleep(20);
  }
  return undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
