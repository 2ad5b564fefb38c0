import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/gql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { Viewer } from './documents.js';
import { createGatewayKey, execute, postGraphql } from './helpers.js';

const WideQuery = graphql(`
  query QueryLimitsWide {
    viewer {
      organization {
        id
        name
        createdAt
      }
      token {
        id
        actorLabel
        scope
      }
    }
    gatewayKeys(first: 10) {
      edges {
        cursor
        node {
          id
          name
          displayPrefix
          active
          expiresAt
          modelAllowList
          createdAt
          updatedAt
          lastUsedAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.createTenant('Query limits', 'read'));
});

afterAll(async () => {
  await server?.close();
});

function post(query: string) {
  return postGraphql(server, { query }, { authorization: `Bearer ${token}` });
}

/** `{ viewer { viewer { ... { id } } } }` with `levels` nested selections. */
function nestedQuery(levels: number): string {
  let selection = 'id';
  for (let level = 0; level < levels; level += 1) selection = `viewer { ${selection} }`;
  return `{ ${selection} }`;
}

async function expectServing() {
  const response = await execute(server, Viewer, {}, token);
  expect(response.status).toBe(200);
  expect(response.data?.viewer.token.scope).toBe('READ');
}

describe('a query 50 levels deep', () => {
  it('gets an error naming the exceeded limit', async () => {
    const response = await post(nestedQuery(50));

    expect(response.status).toBe(200);
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toMatch(/limit of \d+ exceeded/);
  });

  it('leaves the server serving', async () => {
    await post(nestedQuery(50));

    await expectServing();
  });
});

describe('a query with 1,000 aliases', () => {
  const query = `{ ${Array.from({ length: 1_000 }, (_, index) => `alias${index}: __typename`).join(' ')} }`;

  it('gets an error naming the exceeded limit', async () => {
    const response = await post(query);

    expect(response.status).toBe(200);
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toMatch(/limit of \d+ exceeded/);
  });

  it('leaves the server serving', async () => {
    await post(query);

    await expectServing();
  });
});

describe('aliases', () => {
  // graphql-armor does not count aliases of __typename, so these alias a real field.
  function aliasedQuery(count: number): string {
    return `{ ${Array.from({ length: count }, (_, index) => `alias${index}: viewer { token { scope } }`).join(' ')} }`;
  }

  it('pass up to the configured maximum', async () => {
    const count = server.config.graphql.maxAliases;

    const response = await post(aliasedQuery(count));

    expect(response.errors).toBeUndefined();
    expect(Object.keys(response.data ?? {})).toHaveLength(count);
  });

  it('fail one past the configured maximum', async () => {
    const count = server.config.graphql.maxAliases + 1;

    const response = await post(aliasedQuery(count));

    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.message).toContain(`Aliases limit of ${server.config.graphql.maxAliases} exceeded, found ${count}`);
  });
});

describe('a 1 MB query document', () => {
  const query = `{ __typename } # ${'x'.repeat(1024 * 1024)}`;

  it('gets 413 from the body limit', async () => {
    const response = await post(query);

    expect(response.status).toBe(413);
    expect(response.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(response.errors?.[0]?.message).toContain(`larger than ${server.config.graphql.maxBodyBytes} bytes`);
  });

  it('leaves the server serving', async () => {
    await post(query);

    await expectServing();
  });
});

describe('a wide query of normal depth', () => {
  it('succeeds', async () => {
    const writer = await server.createTenant('Wide', 'write');
    await createGatewayKey(server, writer.token, { name: 'wide', modelAllowList: ['openai/*'] });

    const response = await execute(server, WideQuery, {}, writer.token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.viewer.organization.name).toBe('Wide');
    expect(response.data?.gatewayKeys.edges.map((edge) => edge.node.name)).toEqual(['wide']);
  });
});
