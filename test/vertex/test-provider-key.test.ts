import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  createFakeServiceAccount,
  startFakeGoogleTokenEndpoint,
  startFakeVertex,
  vertexOverrides,
  type FakeGoogleTokenEndpoint,
  type FakeServiceAccount,
  type FakeVertex,
} from '../support/fake-upstreams/vertex.js';

/** testProviderKey for Vertex keys through the real server, database and GraphQL API. */

interface KeyTestResultShape {
  __typename: string;
  outcome?: string;
  message?: string | null;
  httpStatus?: number | null;
}

const TestKey = parse(`
  mutation VertexKeyTestRun($input: TestProviderKeyInput!) {
    testProviderKey(input: $input) {
      __typename
      ... on ProviderKeyTestResult { outcome message httpStatus }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`) as TypedDocumentNode<{ testProviderKey: KeyTestResultShape }, { input: unknown }>;

const CreateKey = parse(`
  mutation VertexKeyTestCreateKey($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload { providerKey { id } }
    }
  }
`) as TypedDocumentNode<{ createProviderKey: { __typename: string; providerKey?: { id: string } } }, { input: unknown }>;

describe('testProviderKey for Vertex AI', () => {
  const project = 'graphql-key-project';
  let serviceAccount: FakeServiceAccount;
  let tokens: FakeGoogleTokenEndpoint;
  let vertex: FakeVertex;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    tokens = await startFakeGoogleTokenEndpoint();
    tokens.register(serviceAccount);
    vertex = await startFakeVertex({ tokens, projects: { [project]: [serviceAccount.account.client_email] } });
    const overrides = vertexOverrides(tokens, vertex).map((override) => `${override.origin}=${override.address}`).join(',');
    server = await startTestServer({ UPSTREAM_OVERRIDES: overrides, PROVIDER_KEY_TEST_TIMEOUT_MS: '2000' });
    token = (await server.createTenant()).token;
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all([tokens?.close(), vertex?.close()]);
  });

  async function runTest(input: unknown): Promise<KeyTestResultShape> {
    const result = await server.graphql(TestKey, { input }, token);
    return result.data!.testProviderKey;
  }

  it('reports an unsaved working key as valid', async () => {
    const result = await runTest({
      unsaved: { provider: 'VERTEX_AI', credentials: { vertexServiceAccount: serviceAccount.json }, settings: { vertexAi: { location: 'europe-west1' } } },
    });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'VALID', httpStatus: 200 });
    expect(vertex.requests.at(-1)?.headers.host).toBe('europe-west1-aiplatform.googleapis.com');
  });

  it('reports a stored working key as valid', async () => {
    const created = await server.graphql(
      CreateKey,
      { input: { provider: 'VERTEX_AI', name: 'vertex', credentials: { vertexServiceAccount: serviceAccount.json }, assignment: { organization: true } } },
      token,
    );
    const id = created.data!.createProviderKey.providerKey?.id;
    expect(id).toBeDefined();
    const result = await runTest({ id });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'VALID' });
    expect(vertex.requests.at(-1)?.path).toContain(`/projects/${project}/locations/global/`);
  });

  it('reports an unknown key as invalid without echoing it', async () => {
    const stranger = createFakeServiceAccount({ projectId: project });
    const result = await runTest({ unsaved: { provider: 'VERTEX_AI', credentials: { vertexServiceAccount: stranger.json } } });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'INVALID' });
    expect(JSON.stringify(result)).not.toContain('PRIVATE KEY');
  });

  it('reports another project as not permitted', async () => {
    const result = await runTest({
      unsaved: { provider: 'VERTEX_AI', credentials: { vertexServiceAccount: serviceAccount.json }, settings: { vertexAi: { projectId: 'someone-elses-project' } } },
    });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'NOT_PERMITTED', httpStatus: 403 });
  });
});
