import type { Kysely } from 'kysely';
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
