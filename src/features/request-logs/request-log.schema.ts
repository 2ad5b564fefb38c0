import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { decodeCursor, encodeCursor } from '../../db/keyset.js';
import { NotFoundError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import type { GraphqlContext } from '../../graphql/context.js';
import { decodeIdFor, encodeGlobalID, isUuid } from '../../graphql/global-id.js';
import { assertOwnOrganization } from '../../graphql/organization-scope.js';
import { OrganizationRef } from '../../graphql/viewer.schema.js';
import { GatewayKeyRef } from '../gateway-keys/gateway-key.schema.js';
import { CredentialSourceEnum, ProviderEnum, ProviderKeyRef } from '../provider-keys/provider-key.schema.js';
import type { RequestLog, RequestLogFilter, StatusClass } from './request-log.repository.js';
import { maxRequestLogRangeDays } from './request-log.service.js';

const StatusClassEnum = builder.enumType('HttpStatusClass', {
  values: {
    SUCCESSFUL: { value: 2, description: '2xx.' },
    REDIRECTION: { value: 3, description: '3xx.' },
    CLIENT_ERROR: { value: 4, description: '4xx, including 499 for a client that left before the response ended.' },
    SERVER_ERROR: { value: 5, description: '5xx.' },
  } as const,
});

/** Loads a key through its type's dataloader. Resolves to null when the key was deleted since the request. */
async function loadKeyOrNull<Key>(load: () => Promise<Key>): Promise<Key | null> {
  try {
    return await load();
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

const wholeNumber = 'A whole number. Null when the provider reported no usage.';

export const RequestLogRef = builder.loadableNode('RequestLog', {
  description: 'One proxied request: who sent it, which credential served it, and what it cost. Never the prompt or the completion.',
  id: { resolve: (log: RequestLog) => log.id },
  load: async (ids: string[], context: GraphqlContext) => {
    // `node(id:)` passes the client's id text here; one that is no UUID cannot exist and must not reach SQL.
    const logs = await context.services.requestLogs.findMany(context.principal.organizationId, ids.filter(isUuid));
    const byId = new Map(logs.map((log) => [log.id, log]));
    return ids.map((id) => byId.get(id) ?? new NotFoundError('RequestLog', id));
  },
  fields: (t) => ({
    occurredAt: t.expose('occurredAt', { type: 'DateTime', description: 'When the request arrived.' }),
    gatewayKeyId: t.id({ resolve: (log) => encodeGlobalID('GatewayKey', log.gatewayKeyId) }),
    gatewayKey: t.field({
      type: GatewayKeyRef,
      nullable: true,
      description: 'Null when the gateway key was deleted since.',
      resolve: (log, _args, context) => loadKeyOrNull(() => GatewayKeyRef.getDataloader(context).load(log.gatewayKeyId)),
    }),
    providerKeyId: t.id({
      nullable: true,
      description: 'The provider key that served the request. Null for platform credentials and for requests rejected before a key was chosen.',
      resolve: (log) => (log.providerKeyId ? encodeGlobalID('ProviderKey', log.providerKeyId) : null),
    }),
    providerKey: t.field({
      type: ProviderKeyRef,
      nullable: true,
      description: 'Null as providerKeyId is, and when the provider key was deleted since.',
      resolve: (log, _args, context) =>
        log.providerKeyId ? loadKeyOrNull(() => ProviderKeyRef.getDataloader(context).load(log.providerKeyId!)) : null,
    }),
    credentialSource: t.field({ type: CredentialSourceEnum, nullable: true, resolve: (log) => log.credentialSource }),
    provider: t.field({ type: ProviderEnum, nullable: true, resolve: (log) => log.provider }),
    model: t.exposeString('model', { nullable: true, description: 'The canonical model id, such as `openai/gpt-4o`.' }),
    region: t.exposeString('region', { nullable: true, description: 'The upstream region, such as the Bedrock region that served it.' }),
    stream: t.exposeBoolean('stream'),
    status: t.exposeInt('status', { description: 'HTTP status sent to the client, or 499 when the client left first.' }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    latencyMs: t.exposeInt('latencyMs', { description: 'Milliseconds from arrival to the end of the response.' }),
    ttfbMs: t.exposeInt('ttfbMs', { nullable: true, description: 'Milliseconds from arrival to the first response byte.' }),
    upstreamLatencyMs: t.exposeInt('upstreamLatencyMs', { nullable: true, description: 'Milliseconds the provider took to respond.' }),
    inputUncachedTokens: t.exposeFloat('inputUncachedTokens', { nullable: true, description: wholeNumber }),
    cacheReadTokens: t.exposeFloat('cacheReadTokens', { nullable: true, description: wholeNumber }),
    cacheWriteTokens: t.exposeFloat('cacheWriteTokens', { nullable: true, description: wholeNumber }),
    outputTokens: t.exposeFloat('outputTokens', { nullable: true, description: wholeNumber }),
    reasoningTokens: t.exposeFloat('reasoningTokens', { nullable: true, description: wholeNumber }),
    costMicroUsd: t.exposeFloat('costMicroUsd', {
      nullable: true,
      description: 'Cost at list prices in millionths of a US dollar, a whole number. Null when the model has no price.',
    }),
    priceTableVersion: t.exposeString('priceTableVersion', { nullable: true }),
    tags: t.exposeStringList('tags'),
    requestId: t.exposeString('requestId', { description: "The gateway's request id, as in the `x-request-id` response header." }),
    clientRequestId: t.exposeString('clientRequestId', { nullable: true, description: 'The `X-Request-Id` that the client sent.' }),
    upstreamRequestId: t.exposeString('upstreamRequestId', { nullable: true, description: "The provider's request id." }),
  }),
});

const RequestLogFilterInput = builder.inputType('RequestLogFilter', {
  description: 'Every field that is set must match.',
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum }),
    model: t.string({ description: 'The model as logged, such as `openai/gpt-4o`.' }),
    credentialSource: t.field({ type: CredentialSourceEnum }),
    tag: t.string(),
    statusClass: t.field({ type: StatusClassEnum }),
    gatewayKey: t.id({ description: 'A gateway key id, also of a deleted key.' }),
    providerKey: t.id({ description: 'A provider key id, also of a deleted key.' }),
  }),
});

const requestLogArgs = builder.args((t) => ({
  from: t.field({ type: 'DateTime', description: 'Start of the range. Defaults to one day before `to`.' }),
  to: t.field({ type: 'DateTime', description: 'End of the range, exclusive. Defaults to now.' }),
  filter: t.field({ type: RequestLogFilterInput }),
}));

const connectionDescription =
  `Proxied requests, newest first, in the range [from, to) of at most ${maxRequestLogRangeDays} days. A range that starts ` +
  'before the request log retention (REQUEST_LOG_RETENTION_DAYS) or is longer is an error with code `validation_failed` that names the limit.';

interface RequestLogArgs {
  from?: Date | null;
  to?: Date | null;
  filter?: {
    provider?: RequestLogFilter['provider'] | null;
    model?: string | null;
    credentialSource?: RequestLogFilter['credentialSource'] | null;
    tag?: string | null;
    statusClass?: StatusClass | null;
    gatewayKey?: string | null;
    providerKey?: string | null;
  } | null;
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/** Resolves one page for the organization of the token, narrowed by `scope` (the parent key) and the filter. */
function resolveRequestLogs(context: GraphqlContext, args: RequestLogArgs, scope: Pick<RequestLogFilter, 'providerKeyId' | 'gatewayKeyId'>) {
  const filter: RequestLogFilter = {
    provider: args.filter?.provider ?? undefined,
    model: args.filter?.model ?? undefined,
    credentialSource: args.filter?.credentialSource ?? undefined,
    tag: args.filter?.tag ?? undefined,
    statusClass: args.filter?.statusClass ?? undefined,
    gatewayKeyId: args.filter?.gatewayKey ? decodeIdFor('GatewayKey', args.filter.gatewayKey, ['filter', 'gatewayKey']) : undefined,
    providerKeyId: args.filter?.providerKey ? decodeIdFor('ProviderKey', args.filter.providerKey, ['filter', 'providerKey']) : undefined,
  };
  // The parent key is an additional condition: a filter naming another key matches nothing.
  const conflicts =
    (scope.providerKeyId !== undefined && filter.providerKeyId !== undefined && scope.providerKeyId !== filter.providerKeyId) ||
    (scope.gatewayKeyId !== undefined && filter.gatewayKeyId !== undefined && scope.gatewayKeyId !== filter.gatewayKeyId);
  const range = context.services.requestLogs.checkRange({ from: args.from, to: args.to });

  return resolveCursorConnection(
    { args, toCursor: (log: RequestLog) => encodeCursor({ createdMicros: log.occurredMicros, id: log.id }), defaultSize: 20, maxSize: 100 },
    async ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) => {
      const page = { after: decodeCursor(after, 'after'), before: decodeCursor(before, 'before'), limit, inverted };
      if (conflicts) return [];
      return context.services.requestLogs.list(context.principal.organizationId, range, { ...filter, ...scope }, page);
    },
  );
}

const RequestLogConnection = builder.connectionObject({ type: RequestLogRef, name: 'RequestLogConnection' }, { name: 'RequestLogEdge' });

builder.objectFields(OrganizationRef, (t) => ({
  requestLogs: t.connection(
    {
      type: RequestLogRef,
      description: connectionDescription,
      args: requestLogArgs,
      resolve: (organization, args, context) => {
        assertOwnOrganization(organization.id, context);
        return resolveRequestLogs(context, args, {});
      },
    },
    RequestLogConnection,
  ),
}));

builder.objectFields(ProviderKeyRef, (t) => ({
  requestLogs: t.connection(
    {
      type: RequestLogRef,
      description: `${connectionDescription} Only the requests this provider key served.`,
      args: requestLogArgs,
      resolve: (key, args, context) => resolveRequestLogs(context, args, { providerKeyId: key.id }),
    },
    RequestLogConnection,
  ),
}));

builder.objectFields(GatewayKeyRef, (t) => ({
  requestLogs: t.connection(
    {
      type: RequestLogRef,
      description: `${connectionDescription} Only the requests sent with this gateway key.`,
      args: requestLogArgs,
      resolve: (key, args, context) => resolveRequestLogs(context, args, { gatewayKeyId: key.id }),
    },
    RequestLogConnection,
  ),
}));
