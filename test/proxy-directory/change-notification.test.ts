import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  notifyChange,
  parseChangeNotification,
  readChangeSequence,
  type ChangeNotification,
} from '../../src/db/change-notification.js';
import type { ChangeListener, ChangeListenerHandlers } from '../../src/proxy/directory/change-listener.js';
import { PgliteChangeListener } from '../../src/proxy/directory/pglite-change-listener.js';
import { PostgresChangeListener } from '../../src/proxy/directory/postgres-change-listener.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { CountingSecretBox, millisecondsUntil, Seed } from './helpers.js';

let database: TestDatabase;
let seed: Seed;
let listener: ChangeListener;
const received: ChangeNotification[] = [];
let unreadable = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  seed = new Seed(database.db, new CountingSecretBox());
  const handlers: ChangeListenerHandlers = {
    onChange: (notification) => received.push(notification),
    onUnreadableChange: () => {
      unreadable += 1;
    },
    onReconnected: () => undefined,
  };
  const { pool, pglite } = database.handle;
  listener = pool
    ? new PostgresChangeListener({ clientConfig: { ...pool.options, application_name: 'keyroute-listener-test' }, logger: captureLogs().logger, handlers })
    : new PgliteChangeListener({ pglite: pglite!, db: database.db, handlers });
  await listener.start();
});

afterEach(() => {
  received.splice(0);
  unreadable = 0;
});

afterAll(async () => {
  await listener?.stop();
  await database?.destroy();
});

/**
 * The first notification after sequence `after`. A notification of an earlier write can still be on
 * its way when a test starts, so those are skipped.
 */
async function nextNotification(after: number): Promise<ChangeNotification | undefined> {
  const isNew = (notification: ChangeNotification) => notification.sequence > after;
  await millisecondsUntil(async () => received.some(isNew), 2_000);
  return received.find(isNew);
}

describe('notifyChange', () => {
  it('sends the change of a gateway key update', async () => {
    const organizationId = await seed.organization();
    const { id } = await seed.gatewayKey(organizationId);
    const sequence = await readChangeSequence(database.db);
    received.splice(0);

    await seed.gatewayKeys.update(seed.context(organizationId), id, { active: false });

    expect(await nextNotification(sequence)).toEqual({ organizationId, kind: 'gateway_key', id, action: 'updated', sequence: sequence + 1 });
  });

  it('increments the sequence once per write', async () => {
    const organizationId = await seed.organization();
    const before = await readChangeSequence(database.db);

    await seed.gatewayKey(organizationId);

    expect(await readChangeSequence(database.db)).toBe(before + 1);
  });

  it('sends nothing when the transaction rolls back', async () => {
    const before = await readChangeSequence(database.db);

    await database.db
      .transaction()
      .execute(async (trx) => {
        await notifyChange(trx, { organizationId: 'o', kind: 'gateway_key', id: 'x', action: 'updated' });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(await readChangeSequence(database.db)).toBe(before);
    expect(received.filter((notification) => notification.id === 'x')).toEqual([]);
  });

  it('rejects a call outside a transaction', async () => {
    await expect(notifyChange(database.db, { organizationId: 'o', kind: 'gateway_key', id: 'x', action: 'updated' })).rejects.toThrow(
      'inside the transaction',
    );
  });

  it('reports an unreadable payload', async () => {
    await sql`select pg_notify('keyroute_changes', 'not json')`.execute(database.db);

    expect(await millisecondsUntil(async () => unreadable === 1, 2_000)).toBeLessThan(2_000);
  });
});

describe('parseChangeNotification', () => {
  const valid = { organizationId: 'o', kind: 'provider_key', id: 'p', action: 'deleted', sequence: 7 };

  it('reads a valid payload', () => {
    expect(parseChangeNotification(JSON.stringify(valid))).toEqual(valid);
  });

  it.each([
    ['an unknown kind', { ...valid, kind: 'model' }],
    ['an unknown action', { ...valid, action: 'moved' }],
    ['a missing id', { ...valid, id: undefined }],
    ['a text sequence', { ...valid, sequence: '7' }],
  ])('rejects %s', (_name, payload) => {
    expect(parseChangeNotification(JSON.stringify(payload))).toBeUndefined();
  });

  it('rejects text that is not JSON', () => {
    expect(parseChangeNotification('gateway_key')).toBeUndefined();
  });
});
