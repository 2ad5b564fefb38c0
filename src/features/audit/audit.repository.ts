import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Who made a change: the management token and its actor label, or the CLI. */
export interface Actor {
  tokenId: string | null;
  label: string;
}

export interface AuditEventInput {
  organizationId: string;
  actor: Actor;
  action: string;
  subjectType: string;
  subjectId: string | null;
  /** Non-secret description of the change, such as `{ name: { from, to } }`. Never a secret. */
  changes?: Record<string, unknown>;
  requestId?: string | undefined;
}

export async function insertAuditEvent(db: Kysely<Database>, event: AuditEventInput): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      organization_id: event.organizationId,
      actor_token_id: event.actor.tokenId,
      actor_label: event.actor.label,
      action: event.action,
      subject_type: event.subjectType,
      subject_id: event.subjectId,
      changes: JSON.stringify(event.changes ?? {}),
      request_id: event.requestId ?? null,
    })
    .execute();
}

/** One audit event as the API shows it. */
export interface AuditEvent {
  /** A bigint, as text. */
  id: string;
  createdAt: Date;
  /** created_at in microseconds since the epoch, as text, for keyset cursors. */
  createdMicros: string;
  actorTokenId: string | null;
  actorLabel: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  changes: Record<string, unknown>;
  requestId: string | null;
}

/** A position in the newest-first order of audit events: created_at in microseconds and the id. */
export interface AuditEventPosition {
  createdMicros: string;
  id: string;
}

export interface AuditEventFilter {
  action?: string | undefined;
  subjectType?: string | undefined;
  subjectId?: string | undefined;
}

export interface AuditEventPage {
  after?: AuditEventPosition | undefined;
  before?: AuditEventPosition | undefined;
  limit: number;
  /** True when paging backwards: rows come oldest first and the caller reverses them. */
  inverted: boolean;
}

function positionExpression(position: AuditEventPosition) {
  return sql`(timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond', ${position.id}::bigint)`;
}

/** Lists an organization's audit events newest first (oldest first when the page is inverted). */
export async function listAuditEvents(
  db: Kysely<Database>,
  organizationId: string,
  filter: AuditEventFilter,
  page: AuditEventPage,
): Promise<AuditEvent[]> {
  const direction = page.inverted ? 'asc' : 'desc';
  let query = db
    .selectFrom('audit_events')
    .select([
      'id',
      'created_at',
      sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`.as('created_micros'),
      'actor_token_id',
      'actor_label',
      'action',
      'subject_type',
      'subject_id',
      'changes',
      'request_id',
    ])
    .where('organization_id', '=', organizationId)
    .orderBy('created_at', direction)
    .orderBy('id', direction)
    .limit(page.limit);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.subjectType !== undefined) query = query.where('subject_type', '=', filter.subjectType);
  if (filter.subjectId !== undefined) query = query.where('subject_id', '=', filter.subjectId);
  if (page.after) query = query.where(sql<boolean>`(created_at, id) < ${positionExpression(page.after)}`);
  if (page.before) query = query.where(sql<boolean>`(created_at, id) > ${positionExpression(page.before)}`);

  const rows = await query.execute();
  return rows.map((row) => ({
    id: String(row.id),
    createdAt: row.created_at,
    createdMicros: row.created_micros,
    actorTokenId: row.actor_token_id,
    actorLabel: row.actor_label,
    action: row.action,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    changes: row.changes,
    requestId: row.request_id,
  }));
}
