import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { GraphqlContext } from './context.js';

/**
 * The one schema builder. Plugin order matters: errors wraps everything so that scope-auth's
 * ForbiddenError becomes a typed result; relay decodes global ids before scope-auth runs.
 */
export const builder = new SchemaBuilder<{
  Context: GraphqlContext;
  AuthScopes: { write: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [ErrorsPlugin, RelayPlugin, ScopeAuthPlugin, ValidationPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ write: context.principal.scope === 'write' }),
    unauthorizedError: () =>
      new ForbiddenError('This management token has read scope; mutations need a token with write scope.'),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: {
      nullable: true,
      // Loaders return NotFoundError for ids that do not resolve, ids of other organizations
      // included; `node` returns null for those, as Relay clients expect.
      resolve: async (_root, args, _context, _info, resolveNode) => {
        const node = await resolveNode(args.id);
        return node instanceof NotFoundError ? null : node;
      },
    },
    nodesQueryOptions: false,
  },
  errors: {
    directResult: true,
  },
});
