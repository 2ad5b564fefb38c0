import type { IncomingHttpHeaders } from 'node:http';

/**
 * Upstream response headers that reach the client: the provider's request id, retry hints and
 * rate-limit state. Everything else (cookies, hop-by-hop headers, server details) stays behind.
 * OpenAI-style `x-request-id` would collide with the gateway's own, so it goes down renamed.
 */
export function forwardedResponseHeaders(upstream: IncomingHttpHeaders): Record<string, string> {
  // A new object each call: callers add the gateway's headers to it.
  const forwarded: Record<string, string> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (name === 'request-id' || name === 'retry-after' || name === 'retry-after-ms') forwarded[name] = text;
    else if (name.startsWith('x-ratelimit-') || name.startsWith('anthropic-ratelimit-')) forwarded[name] = text;
    else if (name === 'x-request-id' || name === 'x-amzn-requestid') forwarded['x-upstream-request-id'] = text;
  }
  return forwarded;
}

/** The upstream's own request id, for the request log. */
export function upstreamRequestId(upstream: IncomingHttpHeaders): string | undefined {
  const value = upstream['request-id'] ?? upstream['x-request-id'] ?? upstream['x-amzn-requestid'];
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}
