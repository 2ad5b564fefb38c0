import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { sendJson } from '../http/respond.js';
import { hashSecret } from '../security/secrets.js';

export type MetricsRoute = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * `GET /metrics` in the Prometheus text format. With `bearerTokenSha256`, a request must carry
 * `Authorization: Bearer <METRICS_BEARER_TOKEN>`; the comparison runs on SHA-256 digests in
 * constant time, so its duration does not reveal how much of a guess was right.
 */
export function createMetricsRoute(options: { registry: Registry; bearerTokenSha256: Buffer | undefined }): MetricsRoute {
  const { registry, bearerTokenSha256 } = options;

  return async function handleMetrics(request, response) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, 405, { error: { type: 'method_not_allowed', message: `/metrics takes GET, not ${request.method}.` } }, { allow: 'GET, HEAD' });
      return;
    }
    if (bearerTokenSha256 !== undefined && !hasBearerToken(request.headers.authorization, bearerTokenSha256)) {
      sendJson(
        response,
        401,
        { error: { type: 'authentication_error', message: 'Missing or wrong metrics token. Send "Authorization: Bearer <METRICS_BEARER_TOKEN>".' } },
        { 'www-authenticate': 'Bearer realm="keyroute-metrics"' },
      );
      return;
    }

    const body = await registry.metrics();
    response.writeHead(200, {
      'content-type': registry.contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
}

/**
 * `/metrics` on the main port when neither a token nor a listener of its own is configured. It
 * responds with 403 and names both ways to open it, rather than publish the metrics to every
 * client of the gateway.
 */
export function createMetricsForbiddenRoute(): MetricsRoute {
  return async function handleMetricsForbidden(_request, response) {
    sendJson(response, 403, {
      error: {
        type: 'forbidden',
        message:
          '/metrics on this port needs METRICS_BEARER_TOKEN. Set it and send "Authorization: Bearer <token>", ' +
          'or set METRICS_PORT to serve /metrics on a listener of its own (METRICS_HOST, 127.0.0.1 by default).',
      },
    });
  };
}

function hasBearerToken(authorization: string | undefined, expectedSha256: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return false;
  return timingSafeEqual(hashSecret(match[1]!), expectedSha256);
}
