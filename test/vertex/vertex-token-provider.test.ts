import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoogleTokenError } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { sendWithVertexToken } from '../../src/proxy/upstream/vertex/vertex-token-provider.js';
import { createFakeServiceAccount, type FakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { createProvider, newTokenKey, startVertexFakes, type VertexFakes } from './helpers.js';

const minute = 60_000;

describe('VertexTokenProvider', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: 'provider-project' });
    fakes = await startVertexFakes({ projects: { 'provider-project': [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  it('mints once for many requests', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const before = fakes.tokens.mintCount();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    for (let index = 0; index < 20; index += 1) {
      fakes.clock.advance(minute);
      expect(await provider.getAccessToken(key, serviceAccount.account)).toBe(first);
    }
    expect(fakes.tokens.mintCount() - before).toBe(1);
  });

  it('refreshes within the margin before expiry', async () => {
    const { provider } = createProvider(fakes, { refreshMarginMs: 5 * minute });
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    const before = fakes.tokens.mintCount();

    // Google's tokens last 3599 s, so the refresh is due 5 minutes before that.
    fakes.clock.advance(54 * minute);
    expect(await provider.getAccessToken(key, serviceAccount.account)).toBe(first);
    expect(fakes.tokens.mintCount()).toBe(before);

    fakes.clock.advance(1 * minute);
    const second = await provider.getAccessToken(key, serviceAccount.account);
    expect(second).not.toBe(first);
    expect(fakes.tokens.mintCount()).toBe(before + 1);
  });

  it('caps the margin at half the token lifetime', async () => {
    const { provider } = createProvider(fakes, { refreshMarginMs: 30 * minute });
    const key = newTokenKey();
    fakes.tokens.enqueue({ expiresIn: 600 });
    const first = await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(4 * minute);
    expect(await provider.getAccessToken(key, serviceAccount.account)).toBe(first);
    fakes.clock.advance(1 * minute);
    expect(await provider.getAccessToken(key, serviceAccount.account)).not.toBe(first);
  });

  it('replaces a token with under 10 s left', async () => {
    const { provider } = createProvider(fakes, { refreshMarginMs: 0 });
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);

    // Google's tokens last 3599 s. Vertex checks expiry on arrival, so 5 s left is too little.
    fakes.clock.advance(3_594_000);
    const second = await provider.getAccessToken(key, serviceAccount.account);

    expect(second).not.toBe(first);
  });

  it('mints once for 50 concurrent requests at expiry', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(60 * minute);
    const before = fakes.tokens.mintCount();
    fakes.tokens.enqueue({ headersDelayMs: 50 });

    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getAccessToken(key, serviceAccount.account)));

    expect(fakes.tokens.mintCount() - before).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(first);
  });

  it('never shares a token between provider keys', async () => {
    // Two organizations registered the same service account under their own provider keys.
    const { provider } = createProvider(fakes);
    const first = newTokenKey('org-a');
    const second = newTokenKey('org-b');
    const sameIds = { ...second, providerKeyId: first.providerKeyId };

    const tokenA = await provider.getAccessToken(first, serviceAccount.account);
    const tokenB = await provider.getAccessToken(second, serviceAccount.account);
    const tokenC = await provider.getAccessToken(sameIds, serviceAccount.account);

    expect(tokenB).not.toBe(tokenA);
    expect(tokenC).not.toBe(tokenA);
    expect(tokenC).not.toBe(tokenB);
    expect(provider.size).toBe(3);
  });

  it('mints again after a credentials change', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const rotated = createFakeServiceAccount({ projectId: 'provider-project' });
    fakes.tokens.register(rotated);

    const first = await provider.getAccessToken(key, serviceAccount.account);
    const second = await provider.getAccessToken({ ...key, credentialsVersion: 2 }, rotated.account);

    expect(second).not.toBe(first);
    expect(fakes.tokens.mints.at(-1)?.clientEmail).toBe(rotated.account.client_email);
  });

  it('forces one refresh on invalidate', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    const before = fakes.tokens.mintCount();

    expect(provider.invalidate(key, first)).toBe(true);
    const second = await provider.getAccessToken(key, serviceAccount.account);
    const third = await provider.getAccessToken(key, serviceAccount.account);

    expect(second).not.toBe(first);
    expect(third).toBe(second);
    expect(fakes.tokens.mintCount() - before).toBe(1);
  });

  it('ignores an invalidate for a replaced token', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    provider.invalidate(key, first);
    const second = await provider.getAccessToken(key, serviceAccount.account);
    const before = fakes.tokens.mintCount();

    // A second request that also got 401 for the first token arrives late.
    expect(provider.invalidate(key, first)).toBe(false);
    expect(await provider.getAccessToken(key, serviceAccount.account)).toBe(second);
    expect(fakes.tokens.mintCount()).toBe(before);
  });

  it('evicts the least recently used key beyond its size', async () => {
    const { provider } = createProvider(fakes, { maxEntries: 2 });
    const keys = [newTokenKey(), newTokenKey(), newTokenKey()];
    const first = await provider.getAccessToken(keys[0]!, serviceAccount.account);
    await provider.getAccessToken(keys[1]!, serviceAccount.account);
    await provider.getAccessToken(keys[2]!, serviceAccount.account);

    expect(provider.size).toBe(2);
    expect(await provider.getAccessToken(keys[0]!, serviceAccount.account)).not.toBe(first);
  });

  it('rejects an account Google refuses', async () => {
    const { provider } = createProvider(fakes);
    fakes.tokens.enqueue({ error: { error: 'invalid_grant', description: 'Invalid JWT Signature.' } });
    const error = await provider.getAccessToken(newTokenKey(), serviceAccount.account).catch((rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(GoogleTokenError);
    expect((error as GoogleTokenError).failure).toBe('credential_rejected');
  });

  it('waits the retry interval after a failure', async () => {
    const { provider } = createProvider(fakes, { retryIntervalMs: 5_000 });
    const key = newTokenKey();
    fakes.tokens.enqueue({ error: { error: 'invalid_grant', description: 'Invalid grant: account not found' } });
    const before = fakes.tokens.requests.length;

    await expect(provider.getAccessToken(key, serviceAccount.account)).rejects.toBeInstanceOf(GoogleTokenError);
    await expect(provider.getAccessToken(key, serviceAccount.account)).rejects.toBeInstanceOf(GoogleTokenError);
    expect(fakes.tokens.requests.length - before).toBe(1);

    fakes.clock.advance(5_000);
    expect(await provider.getAccessToken(key, serviceAccount.account)).toMatch(/^ya29\./);
    expect(fakes.tokens.requests.length - before).toBe(2);
  });

  it('keeps the current token while the endpoint is down', async () => {
    const { provider, logs } = createProvider(fakes);
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(57 * minute);
    fakes.tokens.enqueue({ error: { status: 503, body: 'unavailable' } });

    expect(await provider.getAccessToken(key, serviceAccount.account)).toBe(first);
    expect(logs.text()).toContain('Using the current token until it expires');
    expect(logs.text()).not.toContain(first);
  });

  it('drops the current token when Google rejects the account', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    await provider.getAccessToken(key, serviceAccount.account);
    fakes.clock.advance(57 * minute);
    fakes.tokens.enqueue({ error: { error: 'invalid_grant', description: 'Invalid grant: account not found' } });

    await expect(provider.getAccessToken(key, serviceAccount.account)).rejects.toBeInstanceOf(GoogleTokenError);
  });

  it('rejects a waiting caller when its signal aborts', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    fakes.tokens.enqueue({ headersDelayMs: 200 });
    const controller = new AbortController();
    const reason = new Error('client left');
    const leaving = provider.getAccessToken(key, serviceAccount.account, controller.signal);
    const staying = provider.getAccessToken(key, serviceAccount.account);
    controller.abort(reason);

    await expect(leaving).rejects.toBe(reason);
    expect(await staying).toMatch(/^ya29\./);
  });

  it('forgets a deleted provider key', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const first = await provider.getAccessToken(key, serviceAccount.account);
    provider.deleteProviderKey(key.organizationId, key.providerKeyId);
    expect(provider.size).toBe(0);
    expect(await provider.getAccessToken(key, serviceAccount.account)).not.toBe(first);
  });

  it('sweeps expired tokens', async () => {
    const { provider } = createProvider(fakes);
    await provider.getAccessToken(newTokenKey(), serviceAccount.account);
    expect(provider.sweep()).toBe(0);
    fakes.clock.advance(61 * minute);
    expect(provider.sweep()).toBe(1);
    expect(provider.size).toBe(0);
  });
});

describe('sendWithVertexToken', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  const project = 'retry-project';

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    fakes = await startVertexFakes({ projects: { [project]: [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  const url = `https://us-central1-aiplatform.googleapis.com/v1/projects/${project}/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens`;

  function send(tokensSent: string[]) {
    return (accessToken: string) => {
      tokensSent.push(accessToken);
      return fakes.transport.request({
        url,
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
      });
    };
  }

  it('retries once with a new token after 401', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    const stale = await provider.getAccessToken(key, serviceAccount.account);
    fakes.vertex.revoke(stale);
    const sent: string[] = [];

    const response = await sendWithVertexToken(provider, key, serviceAccount.account, send(sent));
    await response.body.dump();

    expect(response.statusCode).toBe(200);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toBe(stale);
    expect(sent[1]).not.toBe(stale);
  });

  it('returns the second 401 without a third try', async () => {
    const { provider } = createProvider(fakes);
    const key = newTokenKey();
    fakes.vertex.enqueue({ error: { status: 401 } }, { error: { status: 401 } });
    const sent: string[] = [];
    const before = fakes.tokens.mintCount();

    const response = await sendWithVertexToken(provider, key, serviceAccount.account, send(sent));
    await response.body.dump();

    expect(response.statusCode).toBe(401);
    expect(sent).toHaveLength(2);
    expect(fakes.tokens.mintCount() - before).toBe(2);
  });

  it('sends once when the first answer is not 401', async () => {
    const { provider } = createProvider(fakes);
    fakes.vertex.enqueue({ error: { status: 429 } });
    const sent: string[] = [];

    const response = await sendWithVertexToken(provider, newTokenKey(), serviceAccount.account, send(sent));
    await response.body.dump();

    expect(response.statusCode).toBe(429);
    expect(sent).toHaveLength(1);
  });
});
