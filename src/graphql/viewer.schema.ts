import type { Principal } from '../features/management-tokens/management-token.service.js';
import type { Organization } from '../features/organizations/organization.repository.js';
import { builder } from './builder.js';

export const OrganizationRef = builder.objectRef<Organization>('Organization').implement({
  description: 'The tenant. Every object this API returns belongs to the organization of the management token.',
  fields: (t) => ({
    id: t.globalID({ resolve: (organization) => ({ type: 'Organization', id: organization.id }) }),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const TokenScopeEnum = builder.enumType('TokenScope', {
  values: { READ: { value: 'read' }, WRITE: { value: 'write' } } as const,
});

const ManagementTokenRef = builder.objectRef<Principal>('ManagementToken').implement({
  description: 'The management token of this request.',
  fields: (t) => ({
    id: t.globalID({ resolve: (principal) => ({ type: 'ManagementToken', id: principal.tokenId }) }),
    actorLabel: t.exposeString('actorLabel', { description: 'Who or what uses the token; recorded in the audit log.' }),
    scope: t.field({ type: TokenScopeEnum, resolve: (principal) => principal.scope }),
  }),
});

const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  description: 'The caller: its management token and organization.',
  fields: (t) => ({
    organization: t.field({
      type: OrganizationRef,
      resolve: async (principal, _args, context) => {
        const organization = await context.services.organizations.find(principal.organizationId);
        // The token row references the organization with ON DELETE CASCADE, so it cannot be missing.
        if (!organization) throw new Error(`Organization ${principal.organizationId} of a usable token is missing`);
        return organization;
      },
    }),
    token: t.field({ type: ManagementTokenRef, resolve: (principal) => principal }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: ViewerRef, resolve: (_root, _args, context) => context.principal }),
}));
