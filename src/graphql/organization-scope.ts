import type { GraphqlContext } from './context.js';

/**
 * Throws unless `organizationId` is the organization of the request's management token. Every
 * Organization object the API returns is the caller's own, so a failure here is a bug. Fields that
 * read an organization's rows check it anyway, so that such a bug cannot show another tenant's data.
 */
export function assertOwnOrganization(organizationId: string, context: GraphqlContext): void {
  if (organizationId !== context.principal.organizationId) {
    throw new Error(`Organization ${organizationId} is not the organization of the management token`);
  }
}
