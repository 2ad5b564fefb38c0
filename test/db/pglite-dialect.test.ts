import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { wrapPglite } from '../../src/db/database.js';
import { pgliteParsers } from '../../src/db/pglite-dialect.js';
import { createTestDatabase, postgresUrl } from '../support/database.js';

interface ItemTable {
  id: string;
  label: string | null;
  payload: Buffer | null;
}

interface ScratchDatabase {
  items: ItemTable;
}

interface Target {
  name: string;
  open(): Promise<{ db: Kysely<ScratchDatabase>; close(): Promise<void> }>;
}

// Every behaviour runs on the PGlite dialect and, when DATABASE_URL is set, on pg as the reference.
const targets: Target[] = [
  {
    name: 'PGlite',
    async open() {
      const handle = wrapPglite(await PGlite.create({ parsers: pgliteParsers }), 'memory');
      return { db: handle.db as unknown as Kysely<ScratchDatabase>, close: () => handle.close() };
    },
  },
];
if (postgresUrl) {
  targets.push({
    name: 'PostgreSQL',
    async open() {
      const database = await createTestDatabase({ migrate: false });
      return { db: database.db as unknown as Kysely<ScratchDatabase>, close: () => database.destroy() };
    },
  });
}

/** A promise with its resolve function, to let one transaction signal another step. */
function signal(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

class IntendedRollback extends Error {}

describe.each(targets)('$name dialect', (target) => {
  let db: Kysely<ScratchDatabase>;
  let close: () => Promise<void>;

  async function itemIds(): Promise<string[]> {
    const rows = await db.selectFrom('items').select('id').orderBy('id').execute();
    return rows.map((row) => row.id);
  }

  beforeAll(async () => {
    ({ db, close } = await target.open());
    await sql`create table items (id int8 primary key, label text, payload bytea)`.execute(db);
  });

  afterAll(async () => {
    await close?.();
  });

  beforeEach(async () => {
    await sql`truncate items`.execute(db);
  });

  describe('affected rows', () => {
    it('counts inserted rows', async () => {
      const result = await db
        .insertInto('items')
        .values([{ id: '1' }, { id: '2' }, { id: '3' }])
        .executeTakeFirstOrThrow();

      expect(result.numInsertedOrUpdatedRows).toBe(3n);
    });

    it('counts no rows for an insert that conflicts', async () => {
      await db.insertInto('items').values({ id: '1' }).execute();

      const result = await db
        .insertInto('items')
        .values({ id: '1' })
        .onConflict((conflict) => conflict.column('id').doNothing())
        .executeTakeFirstOrThrow();

      expect(result.numInsertedOrUpdatedRows).toBe(0n);
    });

    it('counts updated rows', async () => {
      await db.insertInto('items').values([{ id: '1' }, { id: '2' }, { id: '3' }]).execute();

      const result = await db.updateTable('items').set({ label: 'x' }).where('id', '<=', '2').executeTakeFirstOrThrow();

      expect(result.numUpdatedRows).toBe(2n);
    });

    it('counts no rows for an update that matches nothing', async () => {
      await db.insertInto('items').values({ id: '1' }).execute();

      const result = await db.updateTable('items').set({ label: 'x' }).where('id', '=', '99').executeTakeFirstOrThrow();

      expect(result.numUpdatedRows).toBe(0n);
    });

    it('counts deleted rows', async () => {
      await db.insertInto('items').values([{ id: '1' }, { id: '2' }, { id: '3' }]).execute();

      const result = await db.deleteFrom('items').where('id', '>=', '2').executeTakeFirstOrThrow();

      expect(result.numDeletedRows).toBe(2n);
    });

    it('counts no rows for a delete that matches nothing', async () => {
      const result = await db.deleteFrom('items').where('id', '=', '99').executeTakeFirstOrThrow();

      expect(result.numDeletedRows).toBe(0n);
    });

    it('returns rows of a write with returning', async () => {
      await db.insertInto('items').values([{ id: '1' }, { id: '2' }]).execute();

      const rows = await db.updateTable('items').set({ label: 'y' }).returning(['id', 'label']).execute();

      expect(rows).toEqual([
        { id: '1', label: 'y' },
        { id: '2', label: 'y' },
      ]);
    });
  });

  describe('concurrent transactions', () => {
    it('keep a commit despite a later rollback', async () => {
      const inserted = signal();
      const committing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '11' }).execute();
        inserted.resolve();
        await sleep(50);
      });
      await inserted.promise;
      const failing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '10' }).execute();
        throw new IntendedRollback();
      });

      const [committed, failed] = await Promise.allSettled([committing, failing]);

      expect(committed.status).toBe('fulfilled');
      expect(failed.status).toBe('rejected');
      expect(await itemIds()).toEqual(['11']);
    });

    it('keep a commit despite an earlier rollback', async () => {
      const inserted = signal();
      const failing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '10' }).execute();
        inserted.resolve();
        await sleep(50);
        throw new IntendedRollback();
      });
      await inserted.promise;
      const committing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '11' }).execute();
      });

      const [failed, committed] = await Promise.allSettled([failing, committing]);

      expect(failed.status).toBe('rejected');
      expect(committed.status).toBe('fulfilled');
      expect(await itemIds()).toEqual(['11']);
    });

    it('hide uncommitted rows from other queries', async () => {
      const inserted = signal();
      const failing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '30' }).execute();
        inserted.resolve();
        await sleep(50);
        throw new IntendedRollback();
      });
      await inserted.promise;

      const seen = await itemIds();

      await expect(failing).rejects.toBeInstanceOf(IntendedRollback);
      expect(seen).toEqual([]);
    });
  });

  describe('failed statements', () => {
    it('in a transaction spare later queries', async () => {
      const failing = db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: '20' }).execute();
        await sql`select 1 / 0`.execute(trx);
      });
      await expect(failing).rejects.toThrow(/division by zero/);

      await db.insertInto('items').values({ id: '21' }).execute();
      await db.transaction().execute((trx) => trx.insertInto('items').values({ id: '22' }).execute());

      expect(await itemIds()).toEqual(['21', '22']);
    });

    it('outside a transaction spare later queries', async () => {
      await expect(sql`select * from no_such_table`.execute(db)).rejects.toThrow(/no_such_table/);

      await db.insertInto('items').values({ id: '23' }).execute();

      expect(await itemIds()).toEqual(['23']);
    });

    it('at commit spare later queries', async () => {
      await sql`create temporary table deferred_unique (id int unique deferrable initially deferred)`.execute(db);
      try {
        const failing = db.transaction().execute(async (trx) => {
          await trx.insertInto('items').values({ id: '24' }).execute();
          await sql`insert into deferred_unique values (1), (1)`.execute(trx);
        });
        await expect(failing).rejects.toThrow(/duplicate key/);

        await db.insertInto('items').values({ id: '25' }).execute();

        expect(await itemIds()).toEqual(['25']);
      } finally {
        await sql`drop table if exists deferred_unique`.execute(db);
      }
    });

    it('carry no parameters in the error', async () => {
      const secret = 'krm_parameter-that-must-not-be-logged';

      const error = (await sql`select ${secret}::int`.execute(db).catch((caught: unknown) => caught)) as Error;

      expect(error.message).toMatch(/invalid input syntax/);
      expect(error).not.toHaveProperty('params');
      expect(JSON.stringify(error)).not.toContain(secret);
    });

    it('roll back to a savepoint', async () => {
      const transaction = await db.startTransaction().execute();
      try {
        await transaction.insertInto('items').values({ id: '40' }).execute();
        const savepoint = await transaction.savepoint('before_failure').execute();
        await expect(sql`select 1 / 0`.execute(savepoint)).rejects.toThrow(/division by zero/);
        const restored = await savepoint.rollbackToSavepoint('before_failure').execute();
        await restored.insertInto('items').values({ id: '41' }).execute();
        await restored.commit().execute();
      } finally {
        // Ends the transaction when an assertion failed, so later tests get the connection back.
        if (!transaction.isCommitted && !transaction.isRolledBack) await transaction.rollback().execute();
      }

      expect(await itemIds()).toEqual(['40', '41']);
    });

    it('keep writes after a released savepoint', async () => {
      const transaction = await db.startTransaction().execute();
      try {
        const savepoint = await transaction.savepoint('nested').execute();
        await savepoint.insertInto('items').values({ id: '42' }).execute();
        const released = await savepoint.releaseSavepoint('nested').execute();
        await released.commit().execute();
      } finally {
        if (!transaction.isCommitted && !transaction.isRolledBack) await transaction.rollback().execute();
      }

      expect(await itemIds()).toEqual(['42']);
    });
  });

  describe('value types', () => {
    it('returns int8 as a string', async () => {
      const result = await sql<{ big: unknown }>`select 9007199254740993::int8 as big`.execute(db);

      expect(result.rows[0]!.big).toBe('9007199254740993');
    });

    it('returns count(*) as a string', async () => {
      await db.insertInto('items').values([{ id: '1' }, { id: '2' }]).execute();

      const row = await db
        .selectFrom('items')
        .select((eb) => eb.fn.countAll().as('count'))
        .executeTakeFirstOrThrow();

      expect(row.count).toBe('2');
    });

    it('returns int8 arrays as strings', async () => {
      const result = await sql<{ ids: unknown }>`select array[1, 9007199254740993]::int8[] as ids`.execute(db);

      expect(result.rows[0]!.ids).toEqual(['1', '9007199254740993']);
    });

    it('returns numeric as a string', async () => {
      const result = await sql<{ price: unknown }>`select 0.1::numeric + 0.2::numeric as price`.execute(db);

      expect(result.rows[0]!.price).toBe('0.3');
    });

    it('returns bytea as a Buffer', async () => {
      const payload = Buffer.from([0, 1, 2, 0x5c, 0x78, 255]);
      await db.insertInto('items').values({ id: '1', payload }).execute();

      const row = await db.selectFrom('items').select('payload').executeTakeFirstOrThrow();

      expect(Buffer.isBuffer(row.payload)).toBe(true);
      expect(row.payload!.equals(payload)).toBe(true);
    });

    it('returns an empty bytea as an empty Buffer', async () => {
      await db.insertInto('items').values({ id: '1', payload: Buffer.alloc(0) }).execute();

      const row = await db.selectFrom('items').select('payload').executeTakeFirstOrThrow();

      expect(Buffer.isBuffer(row.payload)).toBe(true);
      expect(row.payload!.length).toBe(0);
    });

    it('matches bytea parameters by value', async () => {
      await db.insertInto('items').values({ id: '1', payload: Buffer.from('abc') }).execute();

      const row = await db.selectFrom('items').select('id').where('payload', '=', Buffer.from('abc')).executeTakeFirst();

      expect(row?.id).toBe('1');
    });

    it('returns timestamptz as a Date', async () => {
      const result = await sql<{ at: unknown }>`select '2026-01-02T03:04:05.678Z'::timestamptz as at`.execute(db);

      expect(result.rows[0]!.at).toEqual(new Date('2026-01-02T03:04:05.678Z'));
    });
  });
});
