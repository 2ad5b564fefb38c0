import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, createProviderKey } from '../proxy/helpers.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { QueryLog } from '../support/query-log.js';
import { ProviderKeyListUsage } from './documents.js';
import { issueToken, member } from './helpers.js';

// `usage` on a page of provider keys goes through a dataloader, so the page costs the same
// statements whatever its number of keys.

let database: TestDatabase;
let server: InProcessServer;
const queryLog = new QueryLog();

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServerOver({ ...database.handle, db: database.handle.db.withPlugin(queryLog) });
});

afterAll(async () => {
  await server?.stop();
  await database?.destroy();
});

/** Creates an organization with `count` provider keys and returns a token for it. */
async function organizationWithKeys(count: number): Promise<string> {
  const organizationId = await createOrganization(server);
  const providers = ['ANTHROPIC', 'OPENAI', 'MISTRAL', 'DEEPSEEK'] as const;
  for (const provider of providers.slice(0, count)) {
    await createProviderKey(server, organizationId, { provider, apiKey: apiKeyFor(provider), assignment: { organization: true } });
  }
  return issueToken(server, organizationId);
}

/** Runs the listing, checks that every key has usage, and returns the statements it ran. */
async function statementsOfListing(token: string, keys: number) {
  const variables = { from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' };
  const response = await fetch(`${server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(ProviderKeyListUsage), variables }),
  });
  const body = (await response.json()) as { data: { providerKeys: { edges: { node: { usage: { __typename: 'Usage' } } }[] } } };
  expect(body.data.providerKeys.edges).toHaveLength(keys);
  for (const { node } of body.data.providerKeys.edges) member(node.usage, 'Usage');
  return queryLog.queriesOf(response.headers.get('x-request-id'));
}

describe('usage of a page of provider keys', () => {
  it('costs the same statements for one key and four', async () => {
    const oneKey = await statementsOfListing(await organizationWithKeys(1), 1);
    const fourKeys = await statementsOfListing(await organizationWithKeys(4), 4);

    expect(fourKeys.length).toBe(oneKey.length);
  });

  it('runs one usage query for three keys', async () => {
    const statements = await statementsOfListing(await organizationWithKeys(3), 3);

    // The usage query is the only raw SQL statement of the listing.
    expect(statements.filter((statement) => statement.kind === 'RawNode')).toHaveLength(1);
  });
});
