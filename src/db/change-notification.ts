import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Change notifications for caches in other processes. Every transaction that writes gateway keys,
 * provider keys, their assignments or an organization's proxy settings calls `notifyChange`. The
 * function increments the one-row change sequence and sends the change on a PostgreSQL channel.
 * Both take effect only when the transaction commits, so a listener never hears of a change that
 * was rolled back, and the sequence never shows a change before its notification can arrive.
 */

/** The PostgreSQL `LISTEN`/`NOTIFY` channel of changes. */
export const changeChannel = 'keyroute_changes';

export type ChangeKind = 'gateway_key' | 'provider_key' | 'organization';
export type ChangeAction = 'created' | 'updated' | 'deleted';

export interface Change {
  organizationId: string;
  /** The table of the changed row. Assignment changes are provider key changes. */
  kind: ChangeKind;
  /** Id of the gateway key, provider key or organization that changed. */
  id: string;
  action: ChangeAction;
}

/** A change as a listener receives it, with the change sequence value that its transaction set. */
export interface ChangeNotification extends Change {
  sequence: number;
}

const changeKinds: readonly string[] = ['gateway_key', 'provider_key', 'organization'] satisfies ChangeKind[];
const changeActions: readonly string[] = ['created', 'updated', 'deleted'] satisfies ChangeAction[];

/**
 * Increments the change sequence and sends `change` on `changeChannel`, in one statement. `trx`
 * must be the transaction that writes the change.
 */
export async function notifyChange(trx: Kysely<Database>, change: Change): Promise<void> {
  if (!trx.isTransaction) {
    throw new Error('notifyChange must run inside the transaction that writes the change, so both commit together.');
  }
  // Concurrent writers queue on the row lock, so committed values are consecutive and listeners
  // receive them in order, which lets a listener tell a missed notification from a late one.
  const result = await sql<{ sequence: string }>`
    with bumped as (
      update change_sequence set value = value + 1 where id = 'singleton' returning value
    )
    select
      value::text as sequence,
      pg_notify(
        ${changeChannel},
        json_build_object(
          'organizationId', ${change.organizationId}::text,
          'kind', ${change.kind}::text,
          'id', ${change.id}::text,
          'action', ${change.action}::text,
          'sequence', value
        )::text
      )
    from bumped
  `.execute(trx);
  if (result.rows.length !== 1) {
    throw new Error('The change_sequence row is missing. Apply the database migrations.');
  }
}

/** Reads the current change sequence value. */
export async function readChangeSequence(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('change_sequence')
    .select('value')
    .where('id', '=', 'singleton')
    .executeTakeFirst();
  if (!row) throw new Error('The change_sequence row is missing. Apply the database migrations.');
  return Number(row.value);
}

/** Parses a notification payload. Returns undefined when it is not a change this build can read. */
export function parseChangeNotification(payload: string): ChangeNotification | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { organizationId, kind, id, action, sequence } = parsed as Record<string, unknown>;
  if (typeof organizationId !== 'string' || typeof id !== 'string') return undefined;
  if (typeof kind !== 'string' || !changeKinds.includes(kind)) return undefined;
  if (typeof action !== 'string' || !changeActions.includes(action)) return undefined;
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence)) return undefined;
  return { organizationId, kind: kind as ChangeKind, id, action: action as ChangeAction, sequence };
}
