import { sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceAccountAssertion, requestGoogleAccessToken } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { readUpstreamText } from '../../src/proxy/upstream/transport.js';
import { createFakeServiceAccount, type FakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { startVertexFakes, type VertexFakes } from './helpers.js';

/** The fakes reject what Google would reject, so tests that pass against them mean something. */

type Json = Record<string, unknown>;

function encode(value: Json): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Signs arbitrary header and claims with the account's key. */
function signAssertion(serviceAccount: FakeServiceAccount, header: Json, claims: Json): string {
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), serviceAccount.account.private_key).toString('base64url')}`;
}

describe('fake Google token endpoint', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  const nowSeconds = () => Math.floor(fakes.clock.now() / 1_000);

  beforeAll(async () => {
    fakes = await startVertexFakes();
    serviceAccount = createFakeServiceAccount();
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  async function post(form: Record<string, string>, contentType = 'application/x-www-form-urlencoded') {
    const response = await fakes.transport.request({
      url: 'https://oauth2.googleapis.com/token',
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.statusCode, body: JSON.parse(await readUpstreamText(response.body)) as Json };
  }

  function claims(overrides: Json = {}): Json {
    const iat = nowSeconds();
    return {
      iss: serviceAccount.account.client_email,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: 'https://oauth2.googleapis.com/token',
      iat,
      exp: iat + 3_600,
      ...overrides,
    };
  }

  const grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
  const header = () => ({ alg: 'RS256', typ: 'JWT', kid: serviceAccount.account.private_key_id });

  it('issues a token for a valid assertion', async () => {
    const result = await post({ grant_type: grant, assertion: signAssertion(serviceAccount, header(), claims()) });
    expect(result.status).toBe(200);
    expect(result.body.token_type).toBe('Bearer');
    expect(result.body.expires_in).toBe(3_599);
    expect(String(result.body.access_token)).toMatch(/^ya29\./);
  });

  const rejections: [string, () => Json, () => Json, string][] = [
    ['a wrong audience', header, () => claims({ aud: 'https://www.googleapis.com/oauth2/v4/token' }), 'Failed audience check'],
    ['a missing scope', header, () => claims({ scope: 'https://www.googleapis.com/auth/userinfo.email' }), 'Invalid OAuth scope'],
    ['an expired assertion', header, () => claims({ iat: nowSeconds() - 7_200, exp: nowSeconds() - 3_600 }), 'reasonable timeframe'],
    ['a lifetime over one hour', header, () => claims({ exp: nowSeconds() + 7_200 }), 'reasonable timeframe'],
    ['an assertion from the future', header, () => claims({ iat: nowSeconds() + 600, exp: nowSeconds() + 1_200 }), 'reasonable timeframe'],
    ['an unknown account', header, () => claims({ iss: 'nobody@elsewhere.iam.gserviceaccount.com' }), 'account not found'],
    ['a wrong key id', () => ({ ...header(), kid: 'another-key-id' }), () => claims(), 'Invalid JWT Signature.'],
    ['another algorithm', () => ({ ...header(), alg: 'RS512' }), () => claims(), 'unsupported algorithm'],
  ];
  for (const [name, makeHeader, makeClaims, description] of rejections) {
    it(`rejects ${name}`, async () => {
      const result = await post({ grant_type: grant, assertion: signAssertion(serviceAccount, makeHeader(), makeClaims()) });
      expect(result.status).toBe(400);
      expect(String(result.body.error_description)).toContain(description);
      expect(fakes.tokens.requests.at(-1)?.rejection).toBeDefined();
    });
  }

  it('rejects a signature by another key', async () => {
    const other = createFakeServiceAccount();
    const forged = signAssertion(other, header(), claims());
    const result = await post({ grant_type: grant, assertion: forged });
    expect(result.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
  });

  it('rejects a deleted key', async () => {
    const extra = createFakeServiceAccount({ clientEmail: serviceAccount.account.client_email });
    fakes.tokens.register(extra);
    const assertion = createServiceAccountAssertion(extra.account, nowSeconds());
    expect((await post({ grant_type: grant, assertion })).status).toBe(200);
    fakes.tokens.deleteKey(extra);
    expect((await post({ grant_type: grant, assertion })).body.error_description).toBe('Invalid JWT Signature.');
  });

  it('rejects another grant type', async () => {
    const result = await post({ grant_type: 'client_credentials', assertion: signAssertion(serviceAccount, header(), claims()) });
    expect(result.body.error).toBe('unsupported_grant_type');
  });

  it('rejects a JSON body', async () => {
    const result = await post({ grant_type: grant, assertion: signAssertion(serviceAccount, header(), claims()) }, 'application/json');
    expect(result.status).toBe(400);
  });

  it('rejects a request to the wrong Host', async () => {
    const response = await fetch(`${fakes.tokens.address}/token`, { method: 'POST' });
    expect(response.status).toBe(421);
  });
});

describe('fake Vertex', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  let outsider: FakeServiceAccount;
  const project = 'fake-check-project';

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    outsider = createFakeServiceAccount({ projectId: 'outsider-project' });
    fakes = await startVertexFakes({ projects: { [project]: [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
    fakes.tokens.register(outsider);
  });
  afterAll(async () => {
    await fakes.close();
  });

  async function tokenFor(account = serviceAccount): Promise<string> {
    return (await requestGoogleAccessToken(fakes.transport, account.account, { now: fakes.clock.now, timeoutMs: 2_000 })).token;
  }

  async function post(url: string, body: Json, headers: Record<string, string>) {
    const response = await fakes.transport.request({ url, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: response.statusCode, body: JSON.parse(await readUpstreamText(response.body)) as unknown };
  }

  const rawPredict = (location: string, host: string, model = 'claude-sonnet-4-5@20250929') =>
    `https://${host}/v1/projects/${project}/locations/${location}/publishers/anthropic/models/${model}:rawPredict`;
  const claudeBody = { anthropic_version: 'vertex-2023-10-16', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };

  it('accepts a valid rawPredict', async () => {
    const result = await post(rawPredict('us-central1', 'us-central1-aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(200);
  });

  it('rejects a request without a token', async () => {
    const result = await post(rawPredict('us-central1', 'us-central1-aiplatform.googleapis.com'), claudeBody, {});
    expect(result.status).toBe(401);
    expect(result.body).toMatchObject({ error: { status: 'UNAUTHENTICATED' } });
  });

  it('rejects a token it did not issue', async () => {
    const result = await post(rawPredict('us-central1', 'us-central1-aiplatform.googleapis.com'), claudeBody, { authorization: 'Bearer ya29.made-up-token' });
    expect(result.status).toBe(401);
  });

  it('rejects an expired token', async () => {
    const token = await tokenFor();
    fakes.clock.advance(3_600_000);
    const result = await post(rawPredict('us-central1', 'us-central1-aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${token}` });
    expect(result.status).toBe(401);
  });

  it('rejects an account outside the project', async () => {
    const result = await post(rawPredict('us-central1', 'us-central1-aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${await tokenFor(outsider)}` });
    expect(result.status).toBe(403);
    expect(result.body).toMatchObject({ error: { status: 'PERMISSION_DENIED', details: [{ reason: 'IAM_PERMISSION_DENIED' }] } });
  });

  it('rejects a location sent to another host', async () => {
    const result = await post(rawPredict('europe-west1', 'us-central1-aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(400);
  });

  it('rejects a model in the rawPredict body', async () => {
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com'), { ...claudeBody, model: 'claude-sonnet-4-5@20250929' }, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('rejects a body without anthropic_version', async () => {
    const { anthropic_version: _version, ...body } = claudeBody;
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com'), body, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(400);
  });

  it('rejects a stream on rawPredict', async () => {
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com'), { ...claudeBody, stream: true }, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(400);
  });

  it('returns 404 for an unknown Claude model', async () => {
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com', 'claude-nope@20990101'), claudeBody, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(404);
    expect(result.body).toMatchObject({ error: { status: 'NOT_FOUND' } });
  });

  it('rejects a leaked gateway key header', async () => {
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${await tokenFor()}`, 'x-api-key': 'kr-secret' });
    expect(result.status).toBe(400);
  });

  it('wraps OpenAI-compatible errors in an array', async () => {
    fakes.vertex.enqueue({ error: { status: 429 } });
    const url = `https://aiplatform.googleapis.com/v1/projects/${project}/locations/global/endpoints/openapi/chat/completions`;
    const result = await post(url, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] }, { authorization: `Bearer ${await tokenFor()}` });
    expect(result.status).toBe(429);
    expect(result.body).toMatchObject([{ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } }]);
  });

  it('returns 401 for a revoked token', async () => {
    const token = await tokenFor();
    fakes.vertex.revoke(token);
    const result = await post(rawPredict('global', 'aiplatform.googleapis.com'), claudeBody, { authorization: `Bearer ${token}` });
    expect(result.status).toBe(401);
  });
});
