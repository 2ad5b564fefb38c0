import type { IncomingHttpHeaders } from 'node:http';

/**
 * Inbound headers that carry a client's credential: the gateway key headers, and the credential
 * headers that provider SDKs send. The upstream request never carries any of them, because the
 * adapter adds the provider credential itself.
 */
export const inboundAuthHeaders: readonly string[] = [
  'x-keyroute-api-key',
  'x-edgee-api-key',
  'x-api-key',
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-goog-api-key',
];

/** Headers that carry only the gateway key, in the order they are read. */
const gatewayKeyHeaders = ['x-keyroute-api-key', 'x-edgee-api-key', 'x-api-key'] as const;

// RFC 7617 section 2: the credentials are base64 of user-id ":" password (padding optional here).
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads the gateway key from request headers. The first of these that is present and not blank
 * wins: `x-keyroute-api-key`, `x-edgee-api-key`, `x-api-key`, `Authorization: Bearer <key>`, and
 * the user name of `Authorization: Basic`. Returns undefined when none carries a key; a malformed
 * `Authorization` value carries none.
 */
export function extractGatewayKey(headers: IncomingHttpHeaders): string | undefined {
  for (const name of gatewayKeyHeaders) {
    const value = firstValue(headers[name]);
    if (value) return value;
  }
  const authorization = firstValue(headers.authorization);
  return authorization ? keyFromAuthorization(authorization) : undefined;
}

/** Returns the trimmed value, or the first non-blank one of a repeated header. Blank values count as absent. */
function firstValue(value: string | string[] | undefined): string | undefined {
  const values = Array.isArray(value) ? value : [value];
  for (const candidate of values) {
    const trimmed = candidate?.trim();
    if (trimmed) return trimmed;
  }
  return undefined;
}

function keyFromAuthorization(authorization: string): string | undefined {
  const separator = authorization.search(/\s/);
  if (separator < 0) return undefined;
  // RFC 7235 section 2.1: the authentication scheme is case-insensitive.
  const scheme = authorization.slice(0, separator).toLowerCase();
  const credentials = authorization.slice(separator).trim();
  if (credentials === '') return undefined;

  if (scheme === 'bearer') return /\s/.test(credentials) ? undefined : credentials;
  if (scheme === 'basic') return userNameOfBasic(credentials);
  return undefined;
}

function userNameOfBasic(encoded: string): string | undefined {
  if (!base64Pattern.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  // The user-id cannot contain a colon, so the first colon ends it.
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return decoded.slice(0, colon);
}
