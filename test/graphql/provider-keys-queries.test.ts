import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteContext } from '../../src/features/gateway-keys/gateway-key.service.js';
import type { ProviderId } from '../../src/providers/providers.js';
import { graphql } from '../generated/gql.js';
import { QueryLog } from '../support/query-log.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { execute } from './helpers.js';
import { ProviderKeyGatewayKeysResolution } from './provider-keys.documents.js';
import { fakeKeys } from './provider-keys.helpers.js';

const ProviderKeyListDeep = graphql(`
  query ProviderKeyListDeep($first: Int, $after: String) {
    providerKeys(first: $first, after: $after) {
      edges {
        node {
          id
          provider
          name
          credentials {
            __typename
            ... on ApiKey {
              maskedKey
            }
          }
          settings {
            __typename
          }
          assignment {
            __typename
            ... on OrganizationAssignment {
              organization {
                id
                name
              }
            }
            ... on GatewayKeysAssignment {
              gatewayKeys {
                id
                name
                providerKeys {
                  id
                }
                credentialResolution {
                  provider
                  outcome
                  source
                  providerKey {
                    id
                    name
                    enabled
                  }
                }
              }
            }
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const queryLog = new QueryLog();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, { plugins: [queryLog] });
});

afterAll(async () => {
  await server?.close();
});

const apiKeyProviders: ProviderId[] = ['ANTHROPIC', 'OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI'];
const keyOf: Record<string, () => string> = {
  ANTHROPIC: fakeKeys.anthropic,
  OPENAI: fakeKeys.openAiProject,
  MISTRAL: fakeKeys.mistral,
  DEEPSEEK: fakeKeys.deepseek,
  XAI: fakeKeys.xai,
  ZAI: fakeKeys.zai,
};

/**
 * Seeds an organization with `count` provider keys, newest last. The keys at the indexes in
 * `organizationWide` serve the whole organization, so their providers must differ. Key i of the
 * others serves gateway keys i and i + 1, so each of those lists two gateway keys.
 */
async function seedOrganization(count: number, organizationWide: number[]) {
  const tenant = await server.createTenant(`${count} keys`, 'read');
  const context: WriteContext = { organizationId: tenant.organizationId, actor: { tokenId: null, label: 'test seed' } };
  const { gatewayKeys, providerKeys } = server.app.services;

  const gatewayKeyIds: string[] = [];
  for (let index = 0; index < count; index += 1) {
    gatewayKeyIds.push((await gatewayKeys.create(context, { name: `app ${index}` })).gatewayKey.id);
  }
  for (let index = 0; index < count; index += 1) {
    const provider = apiKeyProviders[index % apiKeyProviders.length]!;
    await providerKeys.create(context, {
      provider,
      name: `key ${index}`,
      credentials: { apiKey: keyOf[provider]!() },
      assignment:
        organizationWide.includes(index)
          ? { organization: true }
          : { gatewayKeyIds: [gatewayKeyIds[index]!, gatewayKeyIds[(index + 1) % count]!] },
    });
  }
  return tenant;
}

/** Counts the SQL statements that the server ran for one GraphQL response. */
function statementsOf(response: { headers: Headers }): number {
  return queryLog.queriesOf(response.headers.get('x-request-id')).length;
}

describe('SQL statements per request', () => {
  let small: { token: string };
  let large: { token: string };

  beforeAll(async () => {
    // Each page below contains organization-wide keys, whose organization field has a loader too.
    small = await seedOrganization(20, [0]);
    large = await seedOrganization(200, [0, 1, 2, 195, 196, 197]);
  }, 120_000);

  it('lists 20 and 200 keys with equal statements per page', async () => {
    const smallPage = await execute(server, ProviderKeyListDeep, { first: 100 }, small.token);
    // A page contains at most 100 keys, so 200 keys take two pages. Each must cost what 20 keys cost.
    const firstPage = await execute(server, ProviderKeyListDeep, { first: 100 }, large.token);
    const secondPage = await execute(
      server,
      ProviderKeyListDeep,
      { first: 100, after: firstPage.data?.providerKeys.pageInfo.endCursor },
      large.token,
    );

    expect(smallPage.data?.providerKeys.edges).toHaveLength(20);
    expect(firstPage.data?.providerKeys.edges).toHaveLength(100);
    expect(secondPage.data?.providerKeys.edges).toHaveLength(100);
    expect(statementsOf(smallPage)).toBeGreaterThan(0);
    expect(statementsOf(firstPage)).toBe(statementsOf(smallPage));
    expect(statementsOf(secondPage)).toBe(statementsOf(smallPage));
  });

  it('resolves every assigned gateway key', async () => {
    const page = await execute(server, ProviderKeyListDeep, { first: 100 }, small.token);

    const edges = page.data?.providerKeys.edges ?? [];
    const assignedGatewayKeys = edges.flatMap(({ node }) =>
      node.assignment.__typename === 'GatewayKeysAssignment' ? node.assignment.gatewayKeys : [],
    );
    expect(edges).toHaveLength(20);
    expect(assignedGatewayKeys).toHaveLength(19 * 2);
    expect(assignedGatewayKeys.every((gatewayKey) => gatewayKey.credentialResolution.length === 8)).toBe(true);
  });

  it('lists 20 and 100 gateway keys with equal statements', async () => {
    const smallPage = await execute(server, ProviderKeyGatewayKeysResolution, { first: 100 }, small.token);
    const largePage = await execute(server, ProviderKeyGatewayKeysResolution, { first: 100 }, large.token);

    expect(smallPage.data?.gatewayKeys.edges).toHaveLength(20);
    expect(largePage.data?.gatewayKeys.edges).toHaveLength(100);
    expect(statementsOf(largePage)).toBe(statementsOf(smallPage));
  });
});
