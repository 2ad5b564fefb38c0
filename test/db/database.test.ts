import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/environment.js';
import { DatabaseUnavailableError, describePostgresUrl, openDatabase } from '../../src/db/database.js';
import { postgresUrl, withDatabaseName } from '../support/database.js';
import { createTemporaryDirectory } from '../support/process.js';

function databaseConfig(overrides: Partial<Config['database']>): Config['database'] {
  return { url: undefined, dataDirectory: '', poolMax: 2, connectTimeoutMs: 5_000, migrateOnStart: true, ...overrides };
}

/** Runs a process that exits at once and returns its id, which then belongs to no live process. */
async function pidOfFinishedProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

describe('embedded database lock', () => {
  let directory: Awaited<ReturnType<typeof createTemporaryDirectory>>;
  let lockPath: string;
  // The vitest main process: alive for the whole run and not this worker, so it stands for
  // another server that holds the lock.
  const livePid = process.ppid;

  beforeAll(async () => {
    directory = await createTemporaryDirectory('lock');
    lockPath = path.join(directory.path, 'pgdata.lock');
  });

  afterAll(async () => {
    await directory?.remove();
  });

  it("rejects a live owner's lock", async () => {
    await writeFile(lockPath, String(livePid));

    const opening = openDatabase(databaseConfig({ dataDirectory: directory.path }));

    await expect(opening).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(opening).rejects.toThrow(`in use by process ${livePid}`);
    await expect(opening).rejects.toThrow(`lock file ${lockPath}`);
    expect(await readFile(lockPath, 'utf8')).toBe(String(livePid));
  });

  it('waits for a lock being written', async () => {
    // A process that has just created the lock file has not written its id yet.
    await writeFile(lockPath, '');
    const writing = sleep(50).then(() => writeFile(lockPath, String(livePid)));

    const opening = openDatabase(databaseConfig({ dataDirectory: directory.path }));

    await expect(opening).rejects.toThrow(`in use by process ${livePid}`);
    await writing;
    expect(await readFile(lockPath, 'utf8')).toBe(String(livePid));
  });

  it('takes over a stale lock', async () => {
    await writeFile(lockPath, String(await pidOfFinishedProcess()));

    const handle = await openDatabase(databaseConfig({ dataDirectory: directory.path }));
    try {
      expect(handle.kind).toBe('pglite');
      expect(await readFile(lockPath, 'utf8')).toBe(String(process.pid));
      const result = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
      expect(result.rows).toEqual([{ one: 1 }]);
    } finally {
      await handle.close();
    }

    expect(await exists(lockPath)).toBe(false);
  });
});

describe('PostgreSQL connection errors', () => {
  it('name an unreachable host and port', async () => {
    const started = Date.now();

    const opening = openDatabase(databaseConfig({ url: 'postgres://postgres@127.0.0.1:1/keyroute' }));

    await expect(opening).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(opening).rejects.toThrow('Cannot connect to PostgreSQL at 127.0.0.1:1/keyroute: connection refused.');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('never contain the password', async () => {
    const opening = openDatabase(databaseConfig({ url: 'postgres://keyroute:hunter2-Pa55word@127.0.0.1:1/keyroute' }));

    const error = (await opening.catch((caught: unknown) => caught)) as Error;

    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error.message).not.toContain('hunter2-Pa55word');
    expect(error.message).toContain('127.0.0.1:1/keyroute');
  });

  it.skipIf(!postgresUrl)('name a missing database', async () => {
    const url = withDatabaseName(postgresUrl!, `keyroute_missing_${randomBytes(4).toString('hex')}`);

    const opening = openDatabase(databaseConfig({ url }));

    await expect(opening).rejects.toThrow(/Cannot connect to PostgreSQL at .*keyroute_missing_[0-9a-f]{8}: the database does not exist\./);
  });
});

describe('describePostgresUrl', () => {
  it.each([
    ['postgres://keyroute:secret@db.example.com:5433/keyroute', 'db.example.com:5433/keyroute'],
    ['postgres://db.example.com/keyroute', 'db.example.com:5432/keyroute'],
    ['postgresql:///keyroute?host=/var/run/postgresql', '/var/run/postgresql:5432/keyroute'],
  ])('describes %s as %s', (url, description) => {
    expect(describePostgresUrl(url)).toBe(description);
  });
});
