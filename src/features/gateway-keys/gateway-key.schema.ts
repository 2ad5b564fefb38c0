import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { decodeCursor, encodeCursor } from '../../db/keyset.js';
import { ConflictError, EncryptionUnavailableError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import type { GraphqlContext } from '../../graphql/context.js';
import { decodeIdFor, isUuid } from '../../graphql/global-id.js';
import type { GatewayKey } from './gateway-key.repository.js';
import type { GatewayKeyWithSecret, WriteContext } from './gateway-key.service.js';

export const GatewayKeyRef = builder.loadableNode('GatewayKey', {
  description: 'A key that LLM clients send to the proxy. Its secret is shown once, at creation or regeneration.',
  id: { resolve: (key: GatewayKey) => key.id },
  load: async (ids: string[], context: GraphqlContext) => {
    // `node(id:)` passes the client's id text here; one that is no UUID cannot exist and must not reach SQL.
    const keys = await context.services.gatewayKeys.findMany(context.principal.organizationId, ids.filter(isUuid));
    const byId = new Map(keys.map((key) => [key.id, key]));
    return ids.map((id) => byId.get(id) ?? new NotFoundError('GatewayKey', id));
  },
  fields: (t) => ({
    name: t.exposeString('name'),
    displayPrefix: t.exposeString('displayPrefix', {
      description: 'The first characters of the secret, to tell keys apart. Not enough to use the key.',
    }),
    active: t.exposeBoolean('active', { description: 'Inactive keys are rejected by the proxy.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    modelAllowList: t.exposeStringList('modelAllowList', {
      nullable: true,
      description: 'Models this key may use, as canonical `provider/model` ids or `provider/*`. Null allows every model.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const GatewayKeyWithSecretRef = builder.objectRef<GatewayKeyWithSecret>('GatewayKeyWithSecret').implement({
  description: 'A gateway key with its secret. This payload is the only place the secret ever appears.',
  fields: (t) => ({
    gatewayKey: t.field({ type: GatewayKeyRef, resolve: (result) => result.gatewayKey }),
    secret: t.exposeString('secret', {
      description: 'The bearer secret for the proxy. Store it now: it cannot be shown again.',
    }),
  }),
});

const DeletedGatewayKeyRef = builder.objectRef<{ id: string }>('DeletedGatewayKey').implement({
  fields: (t) => ({
    deletedId: t.id({ resolve: (result) => result.id }),
  }),
});

builder.queryFields((t) => ({
  gatewayKeys: t.connection({
    type: GatewayKeyRef,
    description: 'Gateway keys of the organization, newest first.',
    resolve: (_root, args, context) =>
      resolveCursorConnection(
        { args, toCursor: (key: GatewayKey) => encodeCursor({ createdMicros: key.createdMicros, id: key.id }), defaultSize: 20, maxSize: 100 },
        ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
          context.services.gatewayKeys.list(context.principal.organizationId, {
            after: decodeCursor(after, 'after'),
            before: decodeCursor(before, 'before'),
            limit,
            inverted,
          }),
      ),
  }),
}));

const CreateGatewayKeyInput = builder.inputType('CreateGatewayKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1 to 100 characters; surrounding whitespace is removed.' }),
    active: t.boolean({ description: 'Defaults to true.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'A future time after which the proxy rejects the key. Omit for no expiry.' }),
    modelAllowList: t.stringList({
      description: 'Models the key may use: canonical `provider/model` ids or `provider/*`. Omit to allow every model.',
    }),
    idempotencyKey: t.string({
      description: 'A retry with the same key and input within 24 hours returns the first result, secret included, instead of creating another key.',
    }),
  }),
});

const UpdateGatewayKeyInput = builder.inputType('UpdateGatewayKeyInput', {
  description: 'Omitted fields keep their value; null clears a nullable field.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ description: 'Omit to keep. Cannot be null.' }),
    active: t.boolean({ description: 'Omit to keep. Cannot be null.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'Omit to keep; null removes the expiry.' }),
    modelAllowList: t.stringList({ description: 'Omit to keep; null allows every model.' }),
  }),
});

function writeContext(context: GraphqlContext): WriteContext {
  return {
    organizationId: context.principal.organizationId,
    actor: { tokenId: context.principal.tokenId, label: context.principal.actorLabel },
    requestId: context.requestId,
  };
}

builder.mutationFields((t) => ({
  createGatewayKey: t.field({
    type: GatewayKeyWithSecretRef,
    authScopes: { write: true },
    errors: { types: [ValidationError, ConflictError, EncryptionUnavailableError, ForbiddenError], union: { name: 'CreateGatewayKeyResult' } },
    args: { input: t.arg({ type: CreateGatewayKeyInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.gatewayKeys.create(writeContext(context), input),
  }),
  updateGatewayKey: t.field({
    type: GatewayKeyRef,
    authScopes: { write: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError], union: { name: 'UpdateGatewayKeyResult' } },
    args: { input: t.arg({ type: UpdateGatewayKeyInput, required: true }) },
    resolve: (_root, { input }, context) => {
      const id = decodeIdFor('GatewayKey', input.id, ['input', 'id']);
      return context.services.gatewayKeys.update(writeContext(context), id, input);
    },
  }),
  regenerateGatewayKeySecret: t.field({
    type: GatewayKeyWithSecretRef,
    authScopes: { write: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError], union: { name: 'RegenerateGatewayKeySecretResult' } },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      context.services.gatewayKeys.regenerateSecret(writeContext(context), decodeIdFor('GatewayKey', args.id, ['id'])),
  }),
  deleteGatewayKey: t.field({
    type: DeletedGatewayKeyRef,
    authScopes: { write: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError], union: { name: 'DeleteGatewayKeyResult' } },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await context.services.gatewayKeys.delete(writeContext(context), decodeIdFor('GatewayKey', args.id, ['id']));
      return { id: args.id };
    },
  }),
}));
