import { createPrivateKey, generateKeyPairSync, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudPlatformScope,
  createServiceAccountAssertion,
  GoogleTokenError,
  googleTokenEndpoint,
  requestGoogleAccessToken,
} from '../../src/proxy/upstream/vertex/google-access-token.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { createFakeServiceAccount, type FakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { startVertexFakes, type VertexFakes } from './helpers.js';

type Json = Record<string, unknown>;

function decodePart(part: string): Json {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Json;
}

describe('service account assertion', () => {
  const serviceAccount = createFakeServiceAccount({ projectId: 'assertion-project' });
  const issuedAt = 1_760_000_000;
  const assertion = createServiceAccountAssertion(serviceAccount.account, issuedAt);
  const [header, claims, signature] = assertion.split('.') as [string, string, string];

  it('has an RS256 header naming the key', () => {
    expect(decodePart(header)).toEqual({ alg: 'RS256', typ: 'JWT', kid: serviceAccount.account.private_key_id });
  });

  it('has the claims of the JWT-bearer grant', () => {
    expect(decodePart(claims)).toEqual({
      iss: serviceAccount.account.client_email,
      scope: cloudPlatformScope,
      aud: googleTokenEndpoint,
      iat: issuedAt,
      exp: issuedAt + 3_600,
    });
  });

  it('is signed by the private key', () => {
    const valid = verify('sha256', Buffer.from(`${header}.${claims}`), serviceAccount.publicKey, Buffer.from(signature, 'base64url'));
    expect(valid).toBe(true);
  });

  it('is not signed by another key', () => {
    const other = createFakeServiceAccount();
    const valid = verify('sha256', Buffer.from(`${header}.${claims}`), other.publicKey, Buffer.from(signature, 'base64url'));
    expect(valid).toBe(false);
  });

  it('rejects an unusable private key without echoing it', () => {
    const broken = { ...serviceAccount.account, private_key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n' };
    let caught: unknown;
    try {
      createServiceAccountAssertion(broken, issuedAt);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GoogleTokenError);
    expect((caught as GoogleTokenError).failure).toBe('credential_rejected');
    expect((caught as GoogleTokenError).message).not.toContain('not a key');
  });

  it('rejects a key that cannot sign RS256', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecAccount = { ...serviceAccount.account, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    expect(createPrivateKey(ecAccount.private_key).asymmetricKeyType).toBe('ec');
    expect(() => createServiceAccountAssertion(ecAccount, issuedAt)).toThrow(/is of type ec, but RS256 needs an RSA key/);
  });
});

describe('requestGoogleAccessToken', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;

  beforeAll(async () => {
    fakes = await startVertexFakes();
    serviceAccount = createFakeServiceAccount();
    fakes.tokens.register(serviceAccount);
  });
  afterAll(async () => {
    await fakes.close();
  });

  function request(account = serviceAccount.account, timeoutMs = 2_000) {
    return requestGoogleAccessToken(fakes.transport, account, { now: fakes.clock.now, timeoutMs });
  }

  async function failure(promise: Promise<unknown>): Promise<GoogleTokenError> {
    const error = await promise.then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    if (!(error instanceof GoogleTokenError)) throw new Error(`expected a GoogleTokenError, got ${String(error)}`);
    return error;
  }

  it('obtains a token the endpoint verified', async () => {
    const token = await request();
    const mint = fakes.tokens.mints.at(-1)!;
    expect(token.token).toBe(mint.accessToken);
    expect(mint.clientEmail).toBe(serviceAccount.account.client_email);
    expect(mint.keyId).toBe(serviceAccount.account.private_key_id);
  });

  it('posts the form to the token endpoint with its Host', async () => {
    await request();
    const received = fakes.tokens.requests.at(-1)!;
    expect(received.headers.host).toBe('oauth2.googleapis.com');
    expect(received.path).toBe('/token');
    expect(received.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(received.rawBody).get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  it('computes the expiry from expires_in', async () => {
    fakes.tokens.enqueue({ expiresIn: 1_200 });
    const token = await request();
    expect(token.expiresAtMs - token.obtainedAtMs).toBe(1_200_000);
    expect(token.obtainedAtMs).toBe(fakes.clock.now());
  });

  it('maps invalid_grant to a rejected credential', async () => {
    fakes.tokens.enqueue({ error: { error: 'invalid_grant', description: 'Invalid JWT Signature.' } });
    const error = await failure(request());
    expect(error.failure).toBe('credential_rejected');
    expect(error.oauthError).toBe('invalid_grant');
    expect(error.httpStatus).toBe(400);
    expect(error.message).toContain('Invalid JWT Signature.');
    expect(error.message).toContain(serviceAccount.account.client_email);
  });

  it('maps a key unknown to Google to a rejected credential', async () => {
    const stranger = createFakeServiceAccount();
    const error = await failure(request(stranger.account));
    expect(error.failure).toBe('credential_rejected');
    expect(error.oauthError).toBe('invalid_grant');
    expect(error.message).toContain('account not found');
  });

  it('maps a rotated key to a rejected credential', async () => {
    const rotated = createFakeServiceAccount({ clientEmail: serviceAccount.account.client_email, projectId: serviceAccount.account.project_id });
    const error = await failure(request({ ...rotated.account, private_key_id: serviceAccount.account.private_key_id }));
    expect(error.failure).toBe('credential_rejected');
    expect(error.message).toContain('Invalid JWT Signature.');
  });

  it('maps a disabled account to a rejected credential', async () => {
    const disabled = createFakeServiceAccount();
    fakes.tokens.register(disabled);
    fakes.tokens.disable(disabled.account.client_email);
    const error = await failure(request(disabled.account));
    expect(error.failure).toBe('credential_rejected');
    expect(error.oauthError).toBe('invalid_grant');
  });

  for (const oauthError of ['invalid_client', 'unauthorized_client']) {
    it(`maps ${oauthError} to a rejected credential`, async () => {
      fakes.tokens.enqueue({ error: { error: oauthError, description: 'The OAuth client was not found.', status: 401 } });
      const error = await failure(request());
      expect(error.failure).toBe('credential_rejected');
      expect(error.oauthError).toBe(oauthError);
    });
  }

  it('maps a 503 to an unavailable endpoint', async () => {
    fakes.tokens.enqueue({ error: { status: 503, body: 'Service Unavailable' } });
    const error = await failure(request());
    expect(error.failure).toBe('unavailable');
    expect(error.httpStatus).toBe(503);
  });

  it('maps a 429 to an unavailable endpoint', async () => {
    fakes.tokens.enqueue({ error: { status: 429, error: 'rate_limit_exceeded', description: 'Too many requests' } });
    const error = await failure(request());
    expect(error.failure).toBe('unavailable');
  });

  it('maps a response without a token to an unavailable endpoint', async () => {
    fakes.tokens.enqueue({ body: { token_type: 'Bearer', expires_in: 3599 } });
    const error = await failure(request());
    expect(error.failure).toBe('unavailable');
    expect(error.message).toContain('without an access_token');
  });

  it('maps a response without expires_in to an unavailable endpoint', async () => {
    fakes.tokens.enqueue({ body: { access_token: 'ya29.partial-token-value', token_type: 'Bearer' } });
    const error = await failure(request());
    expect(error.failure).toBe('unavailable');
    expect(error.message).toContain('expires_in');
    expect(error.message).not.toContain('ya29.partial-token-value');
  });

  it('maps a timeout to an unavailable endpoint', async () => {
    fakes.tokens.enqueue({ silent: true });
    const error = await failure(request(serviceAccount.account, 200));
    expect(error.failure).toBe('unavailable');
    expect(error.message).toContain('did not respond within 200 ms');
  });

  it('maps a refused connection to an unavailable endpoint', async () => {
    const unreachable = createTestTransport([{ origin: 'https://oauth2.googleapis.com', address: 'http://127.0.0.1:1' }]);
    try {
      const error = await failure(requestGoogleAccessToken(unreachable, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 2_000 }));
      expect(error.failure).toBe('unavailable');
      expect(error.message).toContain('https://oauth2.googleapis.com');
      expect(error.message).not.toContain('127.0.0.1');
    } finally {
      await unreachable.destroy();
    }
  });

  it('rejects with the caller abort reason', async () => {
    fakes.tokens.enqueue({ silent: true });
    const controller = new AbortController();
    const pending = requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 5_000, signal: controller.signal });
    const reason = new Error('client left');
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
  });

  it('is refused by the endpoint when the clock is an hour off', async () => {
    const error = await failure(requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: () => fakes.clock.now() - 7_200_000, timeoutMs: 2_000 }));
    expect(error.failure).toBe('credential_rejected');
    expect(error.message).toContain('reasonable timeframe');
  });
});
