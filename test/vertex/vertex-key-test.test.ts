import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canTestProvider, ProviderKeyTester } from '../../src/proxy/key-test/provider-key-tester.js';
import { testVertexCredentials, vertexKeyTestModel } from '../../src/proxy/upstream/vertex/vertex-key-test.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { createFakeServiceAccount, type FakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { startVertexFakes, type VertexFakes } from './helpers.js';

describe('testVertexCredentials', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  const project = 'key-test-project';

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    fakes = await startVertexFakes({ projects: { [project]: [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  function run(settings: Record<string, unknown> = { location: 'us-central1', projectId: null }, account = serviceAccount.account, timeoutMs = 2_000) {
    return testVertexCredentials({ transport: fakes.transport, serviceAccount: account, settings, timeoutMs, now: fakes.clock.now });
  }

  it('reports a working key as valid', async () => {
    const mintsBefore = fakes.tokens.mintCount();
    const result = await run();
    expect(result).toMatchObject({ outcome: 'VALID', message: null, httpStatus: 200 });
    expect(fakes.tokens.mintCount()).toBe(mintsBefore + 1);
  });

  it('counts tokens in the configured location and project', async () => {
    await run({ location: 'europe-west1', projectId: null });
    const received = fakes.vertex.requests.at(-1)!;
    expect(received.headers.host).toBe('europe-west1-aiplatform.googleapis.com');
    expect(received.path).toBe(`/v1/projects/${project}/locations/europe-west1/publishers/google/models/${vertexKeyTestModel}:countTokens`);
  });

  it('uses the global host by default', async () => {
    await run({});
    expect(fakes.vertex.requests.at(-1)?.headers.host).toBe('aiplatform.googleapis.com');
  });

  it('mints a new token each time', async () => {
    const before = fakes.tokens.mintCount();
    await run();
    await run();
    expect(fakes.tokens.mintCount() - before).toBe(2);
  });

  it('reports an unknown key as invalid', async () => {
    // Same account, but a key that Google Cloud never issued or has deleted.
    const unknownKey = createFakeServiceAccount({ projectId: project });
    const result = await run(undefined, unknownKey.account);
    expect(result.outcome).toBe('INVALID');
    expect(result.httpStatus).toBe(400);
    expect(result.message).toContain('Invalid JWT Signature.');
  });

  it('reports a deleted account as invalid', async () => {
    const deleted = createFakeServiceAccount({ projectId: project, clientEmail: `deleted@${project}.iam.gserviceaccount.com` });
    const result = await run(undefined, deleted.account);
    expect(result.outcome).toBe('INVALID');
    expect(result.message).toContain('account not found');
  });

  it('reports a disabled API as not permitted', async () => {
    fakes.vertex.enqueue({
      error: { status: 403, code: 'SERVICE_DISABLED', message: `Vertex AI API has not been used in project ${project} before or it is disabled.` },
    });
    const result = await run();
    expect(result.outcome).toBe('NOT_PERMITTED');
    expect(result.httpStatus).toBe(403);
    expect(result.message).toContain('is not enabled in project key-test-project');
  });

  it('reports another project as not permitted', async () => {
    const result = await run({ location: 'global', projectId: 'not-my-project' });
    expect(result.outcome).toBe('NOT_PERMITTED');
    expect(result.message).toContain('aiplatform.endpoints.predict');
  });

  it('reports a 401 as invalid', async () => {
    fakes.vertex.enqueue({ error: { status: 401 } });
    const result = await run();
    expect(result.outcome).toBe('INVALID');
  });

  it('reports a missing probe model as valid with a message', async () => {
    fakes.vertex.enqueue({ error: { status: 404, message: 'Publisher Model not found.' } });
    const result = await run();
    expect(result.outcome).toBe('VALID');
    expect(result.httpStatus).toBe(404);
    expect(result.message).toContain('probe model');
  });

  it('reports a quota error as transient', async () => {
    fakes.vertex.enqueue({ error: { status: 429 } });
    expect((await run()).outcome).toBe('TRANSIENT');
  });

  it('reports a token endpoint outage as transient', async () => {
    fakes.tokens.enqueue({ error: { status: 503, body: 'unavailable' } });
    const result = await run();
    expect(result.outcome).toBe('TRANSIENT');
    expect(result.httpStatus).toBe(503);
  });

  it('reports a silent token endpoint as a timeout', async () => {
    fakes.tokens.enqueue({ silent: true });
    const result = await run(undefined, undefined, 300);
    expect(result).toMatchObject({ outcome: 'TRANSIENT', message: 'Google did not respond within 300 ms.', httpStatus: null });
  });

  it('reports a silent Vertex as a timeout', async () => {
    fakes.vertex.enqueue({ silent: true });
    const result = await run(undefined, undefined, 300);
    expect(result).toMatchObject({ outcome: 'TRANSIENT', message: 'Google did not respond within 300 ms.' });
  });

  it('reports an unreachable Vertex as transient', async () => {
    const transport = createTestTransport([fakes.tokens.override, { origin: 'https://aiplatform.googleapis.com', address: 'http://127.0.0.1:1' }]);
    try {
      const result = await testVertexCredentials({ transport, serviceAccount: serviceAccount.account, settings: {}, timeoutMs: 2_000, now: fakes.clock.now });
      expect(result.outcome).toBe('TRANSIENT');
      expect(result.message).toContain('https://aiplatform.googleapis.com');
    } finally {
      await transport.destroy();
    }
  });

  it('is reachable through ProviderKeyTester', async () => {
    expect(canTestProvider('VERTEX_AI')).toBe(true);
    const tester = new ProviderKeyTester(fakes.transport, 2_000);
    const result = await tester.test('VERTEX_AI', { kind: 'VERTEX_SERVICE_ACCOUNT', serviceAccount: serviceAccount.account }, { location: 'global', projectId: null });
    expect(result.outcome).toBe('VALID');
  });
});
