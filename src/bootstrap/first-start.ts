import type { Services } from '../services.js';
import { countOrganizations } from '../features/organizations/organization.repository.js';
import type { DatabaseHandle } from '../db/database.js';

export interface FirstStartResult {
  organizationId: string;
  organizationName: string;
  token: string;
}

/**
 * On an empty embedded database, creates the first organization and a write token so that a new
 * user can call the API at once. Only for the embedded default: with PostgreSQL, operators create
 * organizations and tokens with the CLI.
 */
export async function runFirstStart(database: DatabaseHandle, services: Services): Promise<FirstStartResult | undefined> {
  if (database.kind !== 'pglite') return undefined;
  if ((await countOrganizations(database.db)) > 0) return undefined;

  const organization = await services.organizations.create('Default organization');
  const { token } = await services.managementTokens.issue({
    organizationId: organization.id,
    scope: 'write',
    actorLabel: 'first-start',
  });
  return { organizationId: organization.id, organizationName: organization.name, token };
}

/** The text printed once to the terminal; deliberately not through the logger, which may be shipped elsewhere. */
export function formatFirstStartBanner(result: FirstStartResult, baseUrl: string): string {
  return [
    '',
    `First start: created the organization "${result.organizationName}" and a management token with write scope.`,
    'The token is shown only this once. Store it now; create more with `npm run keyroute -- tokens create`.',
    '',
    `  Token     ${result.token}`,
    `  GraphiQL  ${baseUrl}/graphql`,
    `  Header    {"Authorization": "Bearer ${result.token}"}`,
    '',
    `  curl -s ${baseUrl}/graphql -H 'Authorization: Bearer ${result.token}' \\`,
    `    -H 'Content-Type: application/json' -d '{"query":"{ viewer { organization { name } } }"}'`,
    '',
  ].join('\n');
}
