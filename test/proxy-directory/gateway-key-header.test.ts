import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { extractGatewayKey, inboundAuthHeaders } from '../../src/proxy/directory/gateway-key-header.js';

function basic(userAndPassword: string): string {
  return `Basic ${Buffer.from(userAndPassword, 'utf8').toString('base64')}`;
}

/** The sources in the documented order, each with its own key. */
const orderedSources: { name: string; headers: IncomingHttpHeaders; key: string }[] = [
  { name: 'x-keyroute-api-key', headers: { 'x-keyroute-api-key': 'key-keyroute' }, key: 'key-keyroute' },
  { name: 'x-edgee-api-key', headers: { 'x-edgee-api-key': 'key-edgee' }, key: 'key-edgee' },
  { name: 'x-api-key', headers: { 'x-api-key': 'key-x-api' }, key: 'key-x-api' },
  { name: 'bearer', headers: { authorization: 'Bearer key-bearer' }, key: 'key-bearer' },
];

describe('extractGatewayKey', () => {
  it.each(orderedSources.map((source, index) => [source.name, index] as const))('%s wins over every later source', (_name, index) => {
    const headers: IncomingHttpHeaders = {};
    for (const source of orderedSources.slice(index)) Object.assign(headers, source.headers);

    expect(extractGatewayKey(headers)).toBe(orderedSources[index]!.key);
  });

  it('x-keyroute-api-key wins over basic', () => {
    expect(extractGatewayKey({ 'x-keyroute-api-key': 'key-keyroute', authorization: basic('key-basic:') })).toBe('key-keyroute');
  });

  it('x-api-key wins over basic', () => {
    expect(extractGatewayKey({ 'x-api-key': 'key-x-api', authorization: basic('key-basic:') })).toBe('key-x-api');
  });

  it('reads the bearer token', () => {
    expect(extractGatewayKey({ authorization: 'Bearer kr_abc' })).toBe('kr_abc');
  });

  it('reads the scheme case-insensitively', () => {
    expect(extractGatewayKey({ authorization: 'bEaReR kr_abc' })).toBe('kr_abc');
  });

  it('reads the basic user name', () => {
    expect(extractGatewayKey({ authorization: basic('kr_user:ignored-password') })).toBe('kr_user');
  });

  it('reads a basic user name with an empty password', () => {
    expect(extractGatewayKey({ authorization: basic('kr_user:') })).toBe('kr_user');
  });

  it('ignores a basic password when the user name is empty', () => {
    expect(extractGatewayKey({ authorization: basic(':kr_in_password') })).toBeUndefined();
  });

  it('rejects basic credentials without a colon', () => {
    expect(extractGatewayKey({ authorization: basic('kr_no_colon') })).toBeUndefined();
  });

  it('rejects basic credentials that are not base64', () => {
    expect(extractGatewayKey({ authorization: 'Basic not*base64!' })).toBeUndefined();
  });

  it('rejects an authorization without credentials', () => {
    expect(extractGatewayKey({ authorization: 'Bearer' })).toBeUndefined();
  });

  it('rejects a bearer value with spaces', () => {
    expect(extractGatewayKey({ authorization: 'Bearer two parts' })).toBeUndefined();
  });

  it('rejects other schemes', () => {
    expect(extractGatewayKey({ authorization: 'Digest username="kr_abc"' })).toBeUndefined();
  });

  it('skips a blank header to the next source', () => {
    expect(extractGatewayKey({ 'x-keyroute-api-key': '  ', 'x-api-key': 'key-x-api' })).toBe('key-x-api');
  });

  it('trims surrounding whitespace', () => {
    expect(extractGatewayKey({ 'x-api-key': ' kr_abc ' })).toBe('kr_abc');
  });

  it('returns undefined without any source', () => {
    expect(extractGatewayKey({ 'content-type': 'application/json' })).toBeUndefined();
  });
});

describe('inboundAuthHeaders', () => {
  it.each(['x-keyroute-api-key', 'x-edgee-api-key', 'x-api-key', 'authorization'])('lists %s', (name) => {
    expect(inboundAuthHeaders).toContain(name);
  });

  it('lists lower-case names only', () => {
    expect(inboundAuthHeaders.filter((name) => name !== name.toLowerCase())).toEqual([]);
  });
});
