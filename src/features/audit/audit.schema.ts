import { decodeGlobalID, resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { ValidationError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { encodeGlobalID, isUuid } from '../../graphql/global-id.js';
import { assertOwnOrganization } from '../../graphql/organization-scope.js';
import { OrganizationRef } from '../../graphql/viewer.schema.js';
import type { AuditEvent, AuditEventFilter } from './audit.repository.js';
import { decodeAuditCursor, encodeAuditCursor } from './audit.service.js';

const AuditEventRef = builder.objectRef<AuditEvent>('AuditEvent').implement({
  description: 'One change made through the API or the CLI.',
  fields: (t) => ({
    id: t.id({ description: 'Opaque, stable id of the event.', resolve: (event) => encodeGlobalID('AuditEvent', event.id) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    actorLabel: t.exposeString('actorLabel', { description: 'The actor label of the management token, or of the CLI.' }),
    actorTokenId: t.id({
      nullable: true,
      description: 'The id of the management token that made the change, as in `viewer.token.id`. Null for the CLI.',
      resolve: (event) => (event.actorTokenId ? encodeGlobalID('ManagementToken', event.actorTokenId) : null),
    }),
    action: t.exposeString('action', { description: 'What happened, such as `provider_key.updated`.' }),
    subjectType: t.exposeString('subjectType', { description: 'The type of the changed object, such as `ProviderKey`.' }),
    subjectId: t.id({
      nullable: true,
      description: 'The id of the changed object. The object may since have been deleted.',
      resolve: (event) => (event.subjectId ? encodeGlobalID(event.subjectType, event.subjectId) : null),
    }),
    changes: t.string({
      description: 'The change as JSON text, such as `{"name":{"from":"a","to":"b"}}`. It never contains a secret.',
      resolve: (event) => JSON.stringify(event.changes),
    }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The request id of the change, as in its `x-request-id` header.' }),
  }),
});

const AuditEventFilterInput = builder.inputType('AuditEventFilter', {
  description: 'Every field that is set must match.',
  fields: (t) => ({
    action: t.string({ description: 'Such as `gateway_key.created`.' }),
    subject: t.id({ description: 'Only events about this object, such as a provider key id. The object may have been deleted.' }),
  }),
});

function decodeFilter(filter: { action?: string | null; subject?: string | null } | null | undefined): AuditEventFilter {
  if (!filter) return {};
  const decoded: AuditEventFilter = { action: filter.action ?? undefined };
  if (filter.subject !== null && filter.subject !== undefined) {
    let subject: { typename: string; id: string } | undefined;
    try {
      subject = decodeGlobalID(filter.subject);
    } catch {
      subject = undefined;
    }
    if (!subject || !isUuid(subject.id)) {
      throw ValidationError.at(['filter', 'subject'], 'is not a valid id; pass the `id` field of a GatewayKey, ProviderKey or Organization');
    }
    decoded.subjectType = subject.typename;
    decoded.subjectId = subject.id;
  }
  return decoded;
}

builder.objectFields(OrganizationRef, (t) => ({
  auditEvents: t.connection(
    {
      type: AuditEventRef,
      description: 'Changes to the objects of the organization, newest first. Events older than AUDIT_EVENT_RETENTION_DAYS are deleted.',
      args: { filter: t.arg({ type: AuditEventFilterInput }) },
      resolve: (organization, args, context) => {
        assertOwnOrganization(organization.id, context);
        const filter = decodeFilter(args.filter);
        return resolveCursorConnection(
          {
            args,
            toCursor: (event: AuditEvent) => encodeAuditCursor({ createdMicros: event.createdMicros, id: event.id }),
            defaultSize: 20,
            maxSize: 100,
          },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            context.services.auditEvents.list(organization.id, filter, {
              after: decodeAuditCursor(after, 'after'),
              before: decodeAuditCursor(before, 'before'),
              limit,
              inverted,
            }),
        );
      },
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
}));
