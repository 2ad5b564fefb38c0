import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ValidationError } from '../../errors.js';
import { listAuditEvents, type AuditEvent, type AuditEventFilter, type AuditEventPage, type AuditEventPosition } from './audit.repository.js';

const cursorPattern = /^(\d{1,20}):(\d{1,19})$/;

/** Encodes a position in the audit event order as an opaque connection cursor. */
export function encodeAuditCursor(position: AuditEventPosition): string {
  return Buffer.from(`${position.createdMicros}:${position.id}`, 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeAuditCursor. Any other text is a ValidationError at `argument`. */
export function decodeAuditCursor(cursor: string | null | undefined, argument: string): AuditEventPosition | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const match = cursorPattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw ValidationError.at([argument], 'is not a cursor returned by this connection; pass a pageInfo or edge cursor');
  }
  return { createdMicros: match[1]!, id: match[2]! };
}

/** Reads the audit log for the GraphQL API. */
export class AuditEventService {
  constructor(private readonly db: Kysely<Database>) {}

  list(organizationId: string, filter: AuditEventFilter, page: AuditEventPage): Promise<AuditEvent[]> {
    return listAuditEvents(this.db, organizationId, filter, page);
  }
}
