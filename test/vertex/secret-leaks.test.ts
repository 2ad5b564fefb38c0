import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyError } from '../../src/proxy/errors.js';
import { readUpstreamText } from '../../src/proxy/upstream/transport.js';
import { GoogleTokenError, requestGoogleAccessToken } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { resolveVertexTarget, vertexClaudeUrl } from '../../src/proxy/upstream/vertex/vertex-endpoints.js';
import { mapGoogleTokenError, mapVertexError } from '../../src/proxy/upstream/vertex/vertex-errors.js';
import { testVertexCredentials } from '../../src/proxy/upstream/vertex/vertex-key-test.js';
import { createFakeServiceAccount, type FakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { createProvider, newTokenKey, startVertexFakes, type VertexFakes } from './helpers.js';

/**
 * Every error path of the Vertex modules, with upstreams that echo what they received: no
 * message, key test result or log line may contain the private key, an assertion or an access
 * token, in whole or in part.
 */
describe('Vertex secret leaks', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  const project = 'leak-project';
  /** Every text a caller or an operator could see. */
  const outputs: { path: string; text: string }[] = [];

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    fakes = await startVertexFakes({ projects: { [project]: [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  /** Returns the secrets known once the paths have run: the key, each assertion sent and each token issued. */
  function secrets(): string[] {
    const pem = serviceAccount.account.private_key;
    const keyBody = pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    const assertions = fakes.tokens.requests.map((request) => new URLSearchParams(request.rawBody).get('assertion') ?? '').filter((value) => value !== '');
    const tokens = fakes.tokens.mints.map((mint) => mint.accessToken);
    return [pem, JSON.stringify(pem).slice(1, -1), ...keyBody, ...assertions, ...tokens];
  }

  function record(path: string, error: unknown): void {
    if (error instanceof GoogleTokenError) {
      outputs.push({ path, text: error.message });
      outputs.push({ path: `${path} (mapped)`, text: mapGoogleTokenError(error, 'pk_leak').message });
      return;
    }
    outputs.push({ path, text: (error as ProxyError | Error).message });
  }

  async function tokenFailure(path: string, behaviour: Parameters<VertexFakes['tokens']['enqueue']>[0]): Promise<void> {
    fakes.tokens.enqueue(behaviour);
    const error = await requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 2_000 }).catch((rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(GoogleTokenError);
    record(path, error);
  }

  it('runs the token endpoint error paths', async () => {
    await tokenFailure('invalid_grant echoing the assertion', { error: { echoAssertion: true } });
    await tokenFailure('500 echoing the assertion', { error: { status: 500, error: 'internal_failure', echoAssertion: true } });
    await tokenFailure('token without expiry', { body: { access_token: `ya29.leaky-${'x'.repeat(20)}`, token_type: 'Bearer' } });
    await tokenFailure('plain-text 503', { error: { status: 503, body: 'Service Unavailable' } });
    await tokenFailure('silent endpoint', { silent: true });

    const broken = { ...serviceAccount.account, private_key: serviceAccount.account.private_key.replace('MII', 'XXX') };
    const error = await requestGoogleAccessToken(fakes.transport, broken, { now: fakes.clock.now, timeoutMs: 2_000 }).catch((rejection: unknown) => rejection);
    record('unparsable private key', error);
    expect(outputs.length).toBeGreaterThanOrEqual(9);
  });

  it('runs the Vertex error paths', async () => {
    const token = (await requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 2_000 })).token;
    const target = resolveVertexTarget({ settings: { location: 'global', projectId: null }, serviceAccount: serviceAccount.account, locationHeader: undefined });
    const url = vertexClaudeUrl(target, 'claude-sonnet-4-5@20250929', false);
    for (const status of [400, 401, 403, 404, 429, 500, 503]) {
      fakes.vertex.enqueue({ error: { status, message: `failed for ${token} with key ${serviceAccount.account.private_key}`, echoCredential: true } });
      const response = await fakes.transport.request({
        url,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ anthropic_version: 'vertex-2023-10-16', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      });
      const body = await readUpstreamText(response.body);
      expect(body).toContain(token);
      const mapped = mapVertexError({
        status: response.statusCode,
        headers: response.headers,
        body,
        providerKeyId: 'pk_leak',
        secrets: [token, serviceAccount.account.private_key],
        target,
        model: 'claude-sonnet-4-5@20250929',
      });
      expect(mapped.status).toBeGreaterThanOrEqual(400);
      record(`Vertex ${status}`, mapped);
    }
  });

  it('runs the token provider paths', async () => {
    const { provider, logs } = createProvider(fakes);
    const key = newTokenKey();
    await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(57 * 60_000);
    fakes.tokens.enqueue({ error: { status: 503, error: 'backend_error', echoAssertion: true } });
    await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(10 * 60_000);
    fakes.tokens.enqueue({ error: { echoAssertion: true } });
    const error = await provider.getAccessToken(key, serviceAccount.account).catch((rejection: unknown) => rejection);
    record('provider rejection', error);
    for (const line of logs.lines) outputs.push({ path: 'provider log', text: line });
    expect(logs.lines.length).toBeGreaterThanOrEqual(2);
  });

  it('runs the key test paths', async () => {
    const run = () => testVertexCredentials({ transport: fakes.transport, serviceAccount: serviceAccount.account, settings: {}, timeoutMs: 2_000, now: fakes.clock.now });
    fakes.tokens.enqueue({ error: { echoAssertion: true } });
    outputs.push({ path: 'key test invalid_grant', text: String((await run()).message) });
    for (const status of [401, 403, 429]) {
      fakes.vertex.enqueue({ error: { status, echoCredential: true } });
      outputs.push({ path: `key test ${status}`, text: String((await run()).message) });
    }
  });

  it('leaks no secret on any path', () => {
    const known = secrets();
    expect(known.length).toBeGreaterThan(10);
    // Pieces of 24 characters, so a secret cut short by a length limit is still found.
    const pieces = known.flatMap((secret) => secret.match(/[^]{24}/g) ?? [secret]);
    const leaks = outputs.flatMap((output) => pieces.filter((piece) => output.text.includes(piece)).map((piece) => `${output.path}: ${piece}`));
    expect(leaks).toEqual([]);
  });
});
