import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ConflictError, ValidationError } from '../../errors.js';

/** How long a create's idempotency key is remembered. */
export const idempotencyLifetimeMs = 24 * 60 * 60 * 1000;

const keyPattern = /^[\x21-\x7e]{1,255}$/;

export type Claim = { kind: 'claimed' } | { kind: 'replay'; resultId: string; resultEnvelope: Buffer | null };

export function checkIdempotencyKey(key: string, path: (string | number)[]): void {
  if (!keyPattern.test(key)) {
    throw ValidationError.at(path, 'must be 1 to 255 printable ASCII characters without spaces, such as a UUID');
  }
}

/**
 * JSON with sorted object keys, so the same input always hashes the same. The input includes
 * secrets, so only its HMAC under a random per-row salt is stored.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function inputHmac(salt: Buffer, operation: string, input: unknown): Buffer {
  return createHmac('sha256', salt).update(operation).update('\0').update(canonicalJson(input)).digest();
}

/**
 * Claims an idempotency key inside the transaction that performs the create. The row is inserted
 * first under the unique (organization, key): a concurrent retry blocks on that insert until the
 * first transaction ends, then either replays its committed result or, after a rollback, claims the
 * key itself. So concurrent retries create one object.
 */
export async function claimIdempotencyKey(
  trx: Kysely<Database>,
  request: { organizationId: string; key: string; operation: string; input: unknown },
): Promise<Claim> {
  await trx
    .deleteFrom('idempotency_keys')
    .where('organization_id', '=', request.organizationId)
    .where('key', '=', request.key)
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();

  const salt = randomBytes(16);
  const inserted = await trx
    .insertInto('idempotency_keys')
    .values({
      organization_id: request.organizationId,
      key: request.key,
      operation: request.operation,
      input_salt: salt,
      input_hmac: inputHmac(salt, request.operation, request.input),
      expires_at: new Date(Date.now() + idempotencyLifetimeMs),
    })
    .onConflict((conflict) => conflict.columns(['organization_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  if (inserted) return { kind: 'claimed' };

  const existing = await trx
    .selectFrom('idempotency_keys')
    .select(['operation', 'input_salt', 'input_hmac', 'result_id', 'result_envelope'])
    .where('organization_id', '=', request.organizationId)
    .where('key', '=', request.key)
    .executeTakeFirstOrThrow();
  const sameInput =
    existing.operation === request.operation &&
    timingSafeEqual(existing.input_hmac, inputHmac(existing.input_salt, request.operation, request.input));
  if (!sameInput || existing.result_id === null) {
    throw new ConflictError(
      `The idempotency key ${JSON.stringify(request.key)} was already used with a different request in the last 24 hours. ` +
        'Use a new idempotency key for a new request.',
    );
  }
  return { kind: 'replay', resultId: existing.result_id, resultEnvelope: existing.result_envelope };
}

export async function completeIdempotencyKey(
  trx: Kysely<Database>,
  request: { organizationId: string; key: string; resultId: string; resultEnvelope?: Buffer },
): Promise<void> {
  await trx
    .updateTable('idempotency_keys')
    .set({ result_id: request.resultId, result_envelope: request.resultEnvelope ?? null })
    .where('organization_id', '=', request.organizationId)
    .where('key', '=', request.key)
    .execute();
}

export async function deleteExpiredIdempotencyKeys(db: Kysely<Database>): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', sql<Date>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Idempotency rows that hold an envelope, for rotation. */
export async function listIdempotencyEnvelopes(
  db: Kysely<Database>,
): Promise<{ organizationId: string; key: string; resultId: string; envelope: Buffer }[]> {
  const rows = await db
    .selectFrom('idempotency_keys')
    .select(['organization_id', 'key', 'result_id', 'result_envelope'])
    .where('result_envelope', 'is not', null)
    .where('result_id', 'is not', null)
    .execute();
  return rows.map((row) => ({ organizationId: row.organization_id, key: row.key, resultId: row.result_id!, envelope: row.result_envelope! }));
}

export async function replaceIdempotencyEnvelope(
  db: Kysely<Database>,
  row: { organizationId: string; key: string; previous: Buffer; envelope: Buffer },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ result_envelope: row.envelope })
    .where('organization_id', '=', row.organizationId)
    .where('key', '=', row.key)
    .where('result_envelope', '=', row.previous)
    .execute();
}
