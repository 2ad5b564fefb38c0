import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/gql.js';
import type { TestProviderKeyInput } from '../generated/graphql.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { upstreamOverridesVariable } from '../support/fake-upstreams/test-transport.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TestKey = graphql(`
  mutation KeyTestRun($input: TestProviderKeyInput!) {
    testProviderKey(input: $input) {
      __typename
      ... on ProviderKeyTestResult { outcome message httpStatus }
      ... on RateLimitedError { retryAfterSeconds }
      ... on ValidationError { fieldErrors { path message } }
      ... on NotFoundError { id }
    }
  }
`);

const CreateKey = graphql(`
  mutation KeyTestCreateKey($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload { providerKey { id } }
    }
  }
`);

describe('testProviderKey', () => {
  const goodKey = `sk-proj-${'g'.repeat(40)}`;
  let fake: FakeUpstream;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: goodKey });
    server = await startTestServer({
      UPSTREAM_OVERRIDES: upstreamOverridesVariable(fake),
      PROVIDER_KEY_TEST_TIMEOUT_MS: '500',
      PROVIDER_KEY_TESTS_PER_MINUTE: '6',
    });
    token = (await server.createTenant()).token;
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  async function runTest(input: TestProviderKeyInput) {
    const result = await server.graphql(TestKey, { input }, token);
    return result.data!.testProviderKey;
  }

  it('reports a stored good key as valid', async () => {
    const created = await server.graphql(
      CreateKey,
      { input: { provider: 'OPENAI', name: 'good', credentials: { apiKey: goodKey }, assignment: { organization: true } } },
      token,
    );
    const payload = created.data!.createProviderKey;
    if (payload.__typename !== 'ProviderKeyPayload') throw new Error(`create failed: ${payload.__typename}`);
    const id = payload.providerKey.id;
    const result = await runTest({ id });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'VALID', httpStatus: 200 });
    expect(fake.requests.at(-1)?.path).toBe('/v1/models');
  });

  it('reports a revoked key as invalid without echoing it', async () => {
    const revoked = `sk-proj-${'r'.repeat(40)}`;
    const result = await runTest({ unsaved: { provider: 'OPENAI', credentials: { apiKey: revoked } } });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'INVALID' });
    expect(JSON.stringify(result)).not.toContain(revoked);
  });

  it('reports a key without funds', async () => {
    fake.enqueue({ error: { status: 429, code: 'insufficient_quota', message: 'You exceeded your current quota' } });
    const result = await runTest({ unsaved: { provider: 'OPENAI', credentials: { apiKey: goodKey } } });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'NO_FUNDS', httpStatus: 429 });
  });

  it('reports a timeout as transient', async () => {
    fake.enqueue({ silent: true });
    const result = await runTest({ unsaved: { provider: 'OPENAI', credentials: { apiKey: goodKey } } });
    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'TRANSIENT' });
  });

  it('rejects credentials of the wrong kind before calling anyone', async () => {
    const before = fake.requests.length;
    const result = await runTest({ unsaved: { provider: 'OPENAI', credentials: { apiKey: 'sk-ant-api03-xxxxxxxxxxxx' } } });
    expect(result.__typename).toBe('ValidationError');
    expect(fake.requests.length).toBe(before);
  });

  it('limits tests per organization', async () => {
    const results = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      results.push(await runTest({ unsaved: { provider: 'OPENAI', credentials: { apiKey: goodKey } } }));
    }
    expect(results.some((result) => result.__typename === 'RateLimitedError')).toBe(true);
  });
});
