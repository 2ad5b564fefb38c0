import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPreparedStatement } from '../../src/db/prepared-statements.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';

const preparedText = 'select $1::integer + 1 as value';

describe.skipIf(!postgresUrl)('prepared statements on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    registerPreparedStatement('keyroute_test_increment', preparedText);
    database = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await database?.destroy();
  });

  /** Runs `work` and then lists the prepared statements of the connection that ran it. */
  async function preparedNamesAfter(work: (connection: typeof database.db) => Promise<unknown>): Promise<string[]> {
    return database.db.connection().execute(async (connection) => {
      await work(connection);
      const rows = await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(connection);
      return rows.rows.map((row) => row.name);
    });
  }

  it('sends a registered statement by name and returns its result', async () => {
    let values: number[] = [];
    const names = await preparedNamesAfter(async (connection) => {
      for (const input of [41, 1, -5]) {
        const result = await connection.executeQuery<{ value: number }>(CompiledQuery.raw(preparedText, [input]));
        values = [...values, result.rows[0]!.value];
      }
    });

    expect(values).toEqual([42, 2, -4]);
    expect(names).toContain('keyroute_test_increment');
  });

  it('leaves other statements unnamed', async () => {
    const names = await preparedNamesAfter((connection) => connection.executeQuery(CompiledQuery.raw('select $1::integer * 2 as value', [4])));

    expect(names.every((name) => name === 'keyroute_test_increment' || name === 'keyroute_request_log_batch')).toBe(true);
  });

  it('passes an error of a registered statement to the caller', async () => {
    await expect(database.db.executeQuery(CompiledQuery.raw(preparedText, ['not a number']))).rejects.toThrow(/invalid input syntax for type integer/);
    const result = await database.db.executeQuery<{ value: number }>(CompiledQuery.raw(preparedText, [1]));
    expect(result.rows[0]!.value).toBe(2);
  });
});

describe('registerPreparedStatement', () => {
  it('rejects conflicting registrations', () => {
    registerPreparedStatement('keyroute_test_double', 'select 2');
    registerPreparedStatement('keyroute_test_double', 'select 2');

    expect(() => registerPreparedStatement('keyroute_test_other', 'select 2')).toThrow('already prepared as keyroute_test_double');
    expect(() => registerPreparedStatement('keyroute_test_double', 'select 3')).toThrow('name keyroute_test_double is already taken');
  });
});
