import { isIP } from 'node:net';
import { z } from 'zod';
import { flag, integer, list } from './fields.js';

/**
 * Environment variables of the proxy's upstream side: where connections go, the upstream
 * timeouts, the size limit of a proxied request body and the timing of streamed responses.
 */

/** One `UPSTREAM_OVERRIDES` entry: requests to `origin` connect to `address` instead. */
export interface UpstreamOverride {
  /** The upstream's real origin, such as `https://api.openai.com`. Its URL and Host header are kept. */
  origin: string;
  /** The address the TCP connection goes to: `http://127.0.0.1:PORT` (plaintext) or `https://HOST:PORT` (TLS). */
  address: string;
}

const expectedEntry = 'expected ORIGIN=ADDRESS such as https://api.openai.com=http://127.0.0.1:41234';

/** Plaintext would carry the provider credential unencrypted, so it is allowed to loopback addresses only. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function parseUrlWithoutPath(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (url.pathname !== '/') return undefined;
  return url;
}

function parseOverride(entry: string): UpstreamOverride | { error: string } {
  const separator = entry.indexOf('=');
  if (separator <= 0) return { error: `${expectedEntry}, got ${JSON.stringify(entry)}` };
  const originText = entry.slice(0, separator).trim();
  const addressText = entry.slice(separator + 1).trim();

  const origin = parseUrlWithoutPath(originText);
  if (!origin) {
    return {
      error: `entry ${JSON.stringify(entry)}: the origin ${JSON.stringify(originText)} is invalid; expected a scheme and host with an optional port and no path, such as https://api.openai.com`,
    };
  }
  const address = parseUrlWithoutPath(addressText);
  if (!address) {
    return {
      error: `entry ${JSON.stringify(entry)}: the address ${JSON.stringify(addressText)} is invalid; expected http://127.0.0.1:PORT or https://HOST:PORT with no path`,
    };
  }
  if (address.protocol === 'http:' && !isLoopback(address.hostname)) {
    return {
      error: `entry ${JSON.stringify(entry)}: a plaintext (http) address must be a loopback address such as 127.0.0.1, because the provider credential would cross the network unencrypted; use https://HOST:PORT for other hosts`,
    };
  }
  return { origin: origin.origin, address: address.origin };
}

const overrides = list(parseOverride).transform((entries, context): UpstreamOverride[] => {
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.origin)) {
      context.addIssue({ code: 'custom', message: `the origin ${entry.origin} appears in more than one entry; keep one` });
    }
    seen.add(entry.origin);
  }
  return entries;
});

export const upstreamEnvironment = z.object({
  // Comma-separated ORIGIN=ADDRESS entries, for tests and private endpoints.
  UPSTREAM_OVERRIDES: overrides,
  // When true, a request to an origin without an override is rejected before any connection is
  // made. Tests set it so that no request can reach a real provider.
  UPSTREAM_REQUIRE_OVERRIDE: flag(false),
  // Covers TCP and the TLS handshake. undici checks it on a timer with a resolution of about one
  // second (undici 7 lib/util/timers.js), so it can fire up to a second late.
  UPSTREAM_CONNECT_TIMEOUT_MS: integer({ default: 10_000, min: 100, max: 120_000, unit: 'milliseconds' }),
  // Maximum wait for the response headers once the request is sent. Providers can queue a request
  // for minutes before responding, so keep the default of 600 s in production. The minimum of 1 s
  // exists for tests.
  UPSTREAM_HEADERS_TIMEOUT_MS: integer({ default: 600_000, min: 1_000, max: 3_600_000, unit: 'milliseconds' }),
  // Maximum time between two chunks of a response body (an idle timeout, not a total).
  UPSTREAM_BODY_TIMEOUT_MS: integer({ default: 600_000, min: 1_000, max: 3_600_000, unit: 'milliseconds' }),
  PROXY_MAX_BODY_BYTES: integer({ default: 33_554_432, min: 1_024, max: 536_870_912, unit: 'bytes' }),
  // Interval of the SSE comment line sent to a streaming client while nothing else is written.
  STREAM_HEARTBEAT_MS: integer({ default: 15_000, min: 10, max: 600_000, unit: 'milliseconds' }),
  // Maximum wait for the upstream's response headers before the SSE headers are sent to the client
  // and heartbeats start. After that commit, an upstream error can only reach the client as an
  // error event inside the stream, with status 200.
  STREAM_COMMIT_SILENCE_MS: integer({ default: 15_000, min: 0, max: 600_000, unit: 'milliseconds' }),
});

export type UpstreamEnvironment = z.output<typeof upstreamEnvironment>;

export interface UpstreamTransportConfig {
  /** Connection-level overrides, real origin → address. */
  overrides: UpstreamOverride[];
  /** Rejects requests to origins that have no override. */
  requireOverride: boolean;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  /** Idle time in milliseconds allowed between two body chunks. */
  bodyTimeoutMs: number;
}

export interface StreamConfig {
  heartbeatIntervalMs: number;
  commitSilenceMs: number;
}

export interface UpstreamConfig {
  transport: UpstreamTransportConfig;
  stream: StreamConfig;
  /** Maximum size in bytes of a request body that the proxy accepts. */
  maxBodyBytes: number;
}

/** Builds the settings from a successfully validated environment. */
export function toUpstreamConfig(environment: UpstreamEnvironment): UpstreamConfig {
  return {
    transport: {
      overrides: environment.UPSTREAM_OVERRIDES,
      requireOverride: environment.UPSTREAM_REQUIRE_OVERRIDE,
      connectTimeoutMs: environment.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: environment.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: environment.UPSTREAM_BODY_TIMEOUT_MS,
    },
    stream: {
      heartbeatIntervalMs: environment.STREAM_HEARTBEAT_MS,
      commitSilenceMs: environment.STREAM_COMMIT_SILENCE_MS,
    },
    maxBodyBytes: environment.PROXY_MAX_BODY_BYTES,
  };
}
