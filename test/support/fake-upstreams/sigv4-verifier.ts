import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Verifies AWS Signature Version 4 on a received request, the way an AWS service does, written
 * from the SigV4 specification (AWS General Reference, "Create a signed AWS API request") rather
 * than with the signing library under test, so that a shared mistake cannot pass unnoticed. It
 * recomputes the canonical request from what arrived: the raw path, the raw query, the signed
 * headers' received values and the SHA-256 of the received body bytes.
 */

export interface SigV4Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SigV4Expectation {
  /** The credentials the service accepts. */
  credentials: readonly SigV4Credential[];
  /** The region the host belongs to; the credential scope must name it. */
  region: string;
  service: string;
  /** The verification time; the request's `x-amz-date` must be within 5 minutes of it. */
  now?: Date;
}

/** A rejection with the exception AWS sends for it. */
export interface SigV4Rejection {
  ok: false;
  status: number;
  exception: string;
  message: string;
}

export interface SigV4Acceptance {
  ok: true;
  accessKeyId: string;
  signedHeaders: string[];
  /** The canonical request that matched, for tests that check the encoding of the path. */
  canonicalRequest: string;
}

const authorizationPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})$/;
const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const maxClockSkewMs = 5 * 60 * 1000;

/** SigV4's URI encoding: every byte except the unreserved characters A-Z a-z 0-9 - _ . ~ as %XX. */
export function uriEncode(text: string): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/**
 * Returns the canonical URI of a service other than S3: the path normalized (empty and `.` segments
 * dropped, `..` applied) and each segment URI-encoded once more, so `%3A` becomes `%253A`.
 */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery.split('&').filter((pair) => pair !== '').map((pair) => {
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    const value = equals === -1 ? '' : pair.slice(equals + 1);
    return [uriEncode(decodeURIComponent(name)), uriEncode(decodeURIComponent(value))] as const;
  });
  // Sorted by name, then by value, comparing code units as the specification requires.
  pairs.sort(([nameA, valueA], [nameB, valueB]) => {
    if (nameA !== nameB) return nameA < nameB ? -1 : 1;
    if (valueA === valueB) return 0;
    return valueA < valueB ? -1 : 1;
  });
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function rejection(status: number, exception: string, message: string): SigV4Rejection {
  return { ok: false, status, exception, message };
}

const signatureMismatch =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Verifies the request's signature. A rejection carries the status and AWS exception that a failure gets. */
export function verifySigV4(
  request: { method: string; rawTarget: string; headers: IncomingHttpHeaders; body: Buffer },
  expected: SigV4Expectation,
): SigV4Acceptance | SigV4Rejection {
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string') return rejection(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const match = authorizationPattern.exec(authorization);
  if (!match) return rejection(400, 'IncompleteSignatureException', 'The Authorization header is not a complete AWS4-HMAC-SHA256 signature.');
  const [, accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaderList, signature] = match as unknown as string[];

  const credential = expected.credentials.find((candidate) => candidate.accessKeyId === accessKeyId);
  if (!credential) return rejection(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');

  const amzDate = request.headers['x-amz-date'];
  const dateMatch = typeof amzDate === 'string' ? amzDatePattern.exec(amzDate) : null;
  if (!dateMatch) return rejection(400, 'IncompleteSignatureException', 'The x-amz-date header is missing or not in the ISO 8601 basic format.');
  if (amzDate!.slice(0, 8) !== scopeDate) {
    return rejection(403, 'InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.');
  }
  const signedAt = Date.UTC(+dateMatch[1]!, +dateMatch[2]! - 1, +dateMatch[3]!, +dateMatch[4]!, +dateMatch[5]!, +dateMatch[6]!);
  if (Math.abs((expected.now ?? new Date()).getTime() - signedAt) > maxClockSkewMs) {
    return rejection(403, 'InvalidSignatureException', `Signature expired: ${amzDate} is more than 5 minutes from the server time.`);
  }
  if (scopeService !== expected.service) {
    return rejection(403, 'InvalidSignatureException', `Credential should be scoped to correct service: '${expected.service}'.`);
  }
  if (scopeRegion !== expected.region) {
    return rejection(403, 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  }

  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    return rejection(403, 'InvalidSignatureException', 'The host and x-amz-date headers must be signed.');
  }
  const sorted = [...signedHeaders].sort();
  if (sorted.join(';') !== signedHeaderList) return rejection(403, 'InvalidSignatureException', signatureMismatch);
  const canonicalHeaders: string[] = [];
  for (const name of signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) return rejection(403, 'InvalidSignatureException', `The signed header ${name} is missing from the request.`);
    canonicalHeaders.push(`${name}:${value}\n`);
  }

  const queryStart = request.rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? request.rawTarget : request.rawTarget.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? '' : request.rawTarget.slice(queryStart + 1);
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  const canonicalRequest = [
    request.method,
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    canonicalHeaders.join(''),
    signedHeaderList,
    payloadHash,
  ].join('\n');

  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  let key: Buffer = hmac(`AWS4${credential.secretAccessKey}`, scopeDate!);
  for (const part of [scopeRegion!, scopeService!, 'aws4_request']) key = hmac(key, part);
  const expectedSignature = hmac(key, stringToSign);

  if (!timingSafeEqual(expectedSignature, Buffer.from(signature!, 'hex'))) {
    return rejection(403, 'InvalidSignatureException', signatureMismatch);
  }
  return { ok: true, accessKeyId: accessKeyId!, signedHeaders, canonicalRequest };
}
