import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { VertexServiceAccount } from '../../../features/provider-keys/credentials.js';
import { scrubSecrets } from '../../secret-scrubbing.js';
import { readUpstreamText, type UpstreamTransport } from '../transport.js';
import { toUpstreamTransportError } from '../transport-error.js';

/**
 * The OAuth 2.0 JWT-bearer flow of a Google service account (RFC 7523, as Google describes it in
 * "Using OAuth 2.0 for Server to Server Applications"): an RS256-signed assertion goes to Google's
 * token endpoint, which returns an access token valid for about one hour.
 */

/**
 * The token endpoint, which is also the assertion's audience. google-auth-library 10 posts to this
 * fixed URL whatever `token_uri` the key file contains (gtoken/getToken.js), and credentials.ts
 * accepts only Google's own endpoints there, so requests never go where stored text points.
 */
export const googleTokenEndpoint = 'https://oauth2.googleapis.com/token';
export const cloudPlatformScope = 'https://www.googleapis.com/auth/cloud-platform';
export const jwtBearerGrantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Google rejects assertions whose `exp` is more than one hour after `iat`. */
const assertionLifetimeSeconds = 3_600;
const maxDescriptionLength = 300;

export interface GoogleAccessToken {
  token: string;
  /** Wall-clock time in milliseconds at which the token was obtained. */
  obtainedAtMs: number;
  /** Wall-clock time in milliseconds at which Google stops accepting the token. */
  expiresAtMs: number;
}

/**
 * Cause of a failed token request:
 * - `credential_rejected`: Google rejected the service account or its key (`invalid_grant` for a
 *   deleted, disabled or rotated key, `invalid_client`, `unauthorized_client`), so retrying cannot help;
 * - `unavailable`: the token endpoint could not be reached, timed out, failed with 5xx or 429, or
 *   sent a response that is not a token.
 */
export type GoogleTokenFailure = 'credential_rejected' | 'unavailable';

/** A failed token request. The message names the service account but never contains a key, an assertion or a token. */
export class GoogleTokenError extends Error {
  readonly code = 'google_token_failed';

  constructor(
    readonly failure: GoogleTokenFailure,
    message: string,
    /** The token endpoint's HTTP status, null when no response arrived. */
    readonly httpStatus: number | null = null,
    /** The OAuth error code, such as `invalid_grant`, when the response had one. */
    readonly oauthError: string | null = null,
  ) {
    super(message);
    this.name = 'GoogleTokenError';
  }
}

function base64UrlJson(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function loadPrivateKey(account: VertexServiceAccount): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: account.private_key, format: 'pem' });
  } catch {
    throw new GoogleTokenError(
      'credential_rejected',
      `The private key of the service account ${account.client_email} is not a PEM private key that parses; replace the provider key's service account JSON.`,
    );
  }
  // node:crypto would sign with an EC or Ed25519 key too, making a signature that is not RS256.
  if (key.asymmetricKeyType !== 'rsa') {
    throw new GoogleTokenError(
      'credential_rejected',
      `The private key of the service account ${account.client_email} is of type ${String(key.asymmetricKeyType)}, but RS256 needs an RSA key; replace the provider key's service account JSON.`,
    );
  }
  return key;
}

/**
 * Signs the JWT-bearer assertion of a service account: header `{alg: RS256, typ: JWT, kid}` and
 * claims `iss`, `scope`, `aud`, `iat` and `exp = iat + 3600`, signed with RSASSA-PKCS1-v1_5 and
 * SHA-256 (RS256, RFC 7518 section 3.3).
 */
export function createServiceAccountAssertion(account: VertexServiceAccount, issuedAtSeconds: number): string {
  const header = { alg: 'RS256', typ: 'JWT', kid: account.private_key_id };
  const claims = {
    iss: account.client_email,
    scope: cloudPlatformScope,
    aud: googleTokenEndpoint,
    iat: issuedAtSeconds,
    exp: issuedAtSeconds + assertionLifetimeSeconds,
  };
  const signingInput = `${base64UrlJson(header)}.${base64UrlJson(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), loadPrivateKey(account));
  return `${signingInput}.${signature.toString('base64url')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads `{"error": "invalid_grant", "error_description": "…"}`, the OAuth error body of RFC 6749 section 5.2. */
function describeOAuthError(text: string, secrets: string[]): { code: string | null; description: string } {
  const body = parseJson(text);
  if (!isRecord(body)) return { code: null, description: '' };
  const code = typeof body.error === 'string' && /^[\w.-]{1,64}$/.test(body.error) ? body.error : null;
  let description = typeof body.error_description === 'string' ? scrubSecrets(body.error_description, secrets).trim() : '';
  if (description.length > maxDescriptionLength) description = `${description.slice(0, maxDescriptionLength)}…`;
  return { code, description };
}

function rejectionFor(account: VertexServiceAccount, status: number, text: string, secrets: string[]): GoogleTokenError {
  const { code, description } = describeOAuthError(text, secrets);
  const reason = [code, description].filter((part) => part !== null && part !== '').join(': ');
  const detail = reason === '' ? `HTTP ${status}` : `HTTP ${status} ${reason}`;
  // Google responds with 400, 401 or 403 to a problem with the assertion itself: a wrong or deleted
  // key, a deleted or disabled account, or a clock far off. Other statuses are the endpoint's own failures.
  if (status === 400 || status === 401 || status === 403) {
    return new GoogleTokenError(
      'credential_rejected',
      `Google's token endpoint rejected the service account ${account.client_email} (${detail}).`,
      status,
      code,
    );
  }
  return new GoogleTokenError('unavailable', `Google's token endpoint failed (${detail}).`, status, code);
}

/** Returns what a token response lacks, or undefined when it is a usable Bearer token. */
function missingTokenField(body: unknown): string | undefined {
  if (!isRecord(body)) return 'a JSON object';
  if (typeof body.access_token !== 'string' || body.access_token === '') return 'an access_token';
  if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') return 'a Bearer token_type';
  const expiresIn = body.expires_in;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) return 'a positive expires_in';
  return undefined;
}

function parseTokenResponse(account: VertexServiceAccount, text: string, nowMs: number): GoogleAccessToken {
  const body = parseJson(text);
  const missing = missingTokenField(body);
  if (missing !== undefined) {
    throw new GoogleTokenError(
      'unavailable',
      `Google's token endpoint sent a response without ${missing} for the service account ${account.client_email}.`,
      200,
    );
  }
  const { access_token: token, expires_in: expiresIn } = body as { access_token: string; expires_in: number };
  return { token, obtainedAtMs: nowMs, expiresAtMs: nowMs + expiresIn * 1_000 };
}

export interface GoogleTokenRequestOptions {
  /** Wall clock in milliseconds, for `iat` and the token's expiry. */
  now: () => number;
  /** Maximum time in milliseconds of the request, response body included. */
  timeoutMs: number;
  /** The caller's abort signal. When it aborts, the request rejects with its reason, not a GoogleTokenError. */
  signal?: AbortSignal;
}

/**
 * Obtains an access token for the service account from Google's token endpoint, through the
 * transport (so connection overrides apply to it as to every upstream). Rejects with a
 * GoogleTokenError, or with the caller's abort reason.
 */
export async function requestGoogleAccessToken(
  transport: UpstreamTransport,
  account: VertexServiceAccount,
  options: GoogleTokenRequestOptions,
): Promise<GoogleAccessToken> {
  const assertion = createServiceAccountAssertion(account, Math.floor(options.now() / 1_000));
  const secrets = [assertion, account.private_key];
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const origin = new URL(googleTokenEndpoint).origin;

  try {
    const response = await transport.request({
      url: googleTokenEndpoint,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: jwtBearerGrantType, assertion }).toString(),
      signal,
    });
    const text = await readUpstreamText(response.body);
    if (response.statusCode !== 200) throw rejectionFor(account, response.statusCode, text, secrets);
    return parseTokenResponse(account, text, options.now());
  } catch (error) {
    if (error instanceof GoogleTokenError) throw error;
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) {
      throw new GoogleTokenError('unavailable', `Google's token endpoint did not respond within ${options.timeoutMs} ms.`);
    }
    const transportError = toUpstreamTransportError(error, origin);
    if (transportError) throw new GoogleTokenError('unavailable', transportError.message);
    throw error;
  }
}
