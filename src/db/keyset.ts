import { sql, type Expression, type SqlBool } from 'kysely';
import { ValidationError } from '../errors.js';

/**
 * Keyset pagination over (created_at, id), newest first. The cursor carries created_at in
 * microseconds, PostgreSQL's own precision, because JavaScript dates would round it to
 * milliseconds and skip rows created within the same millisecond.
 */
export interface KeysetPosition {
  createdMicros: string;
  id: string;
}

export interface KeysetPage {
  after?: KeysetPosition | undefined;
  before?: KeysetPosition | undefined;
  limit: number;
  /** True when paging backwards: rows come oldest first and the caller reverses them. */
  inverted: boolean;
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(`${position.createdMicros}:${position.id}`, 'utf8').toString('base64url');
}

const cursorPattern = /^(\d{1,20}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function decodeCursor(cursor: string | null | undefined, argument: string): KeysetPosition | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const match = cursorPattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw ValidationError.at([argument], 'is not a cursor returned by this connection; pass a pageInfo or edge cursor');
  }
  return { createdMicros: match[1]!, id: match[2]! };
}

/** `created_at` as microseconds since the epoch, as text: select it with this to build cursors. */
export const createdMicros = sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`;

function positionExpression(position: KeysetPosition) {
  return sql`(timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond', ${position.id}::uuid)`;
}

/** Where-clause expressions for the page's bounds, for newest-first ordering of `table`. */
export function keysetBounds(page: KeysetPage, table?: string): Expression<SqlBool>[] {
  const columns = table ? sql`(${sql.ref(`${table}.created_at`)}, ${sql.ref(`${table}.id`)})` : sql`(created_at, id)`;
  const bounds: Expression<SqlBool>[] = [];
  if (page.after) bounds.push(sql<SqlBool>`${columns} < ${positionExpression(page.after)}`);
  if (page.before) bounds.push(sql<SqlBool>`${columns} > ${positionExpression(page.before)}`);
  return bounds;
}
