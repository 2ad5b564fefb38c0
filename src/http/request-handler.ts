import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { HttpMetrics } from '../observability/http-metrics.js';
import { runWithRequestIds, type RequestIds } from '../request-context.js';
import type { Readiness } from './readiness.js';
import { sendJson } from './respond.js';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, ids: RequestIds) => Promise<void>;

/** A client's request id is kept for correlation only: printable ASCII, at most 128 characters. */
const clientRequestIdPattern = /^[\x21-\x7e]{1,128}$/;

/** Routes that are matched on the path only, so query strings such as `?beta=true` do not matter. */
export interface Routes {
  graphql: RouteHandler;
  /** The LLM proxy, for every path under `/v1/`. */
  proxy: (request: IncomingMessage, response: ServerResponse, ids: RequestIds, path: string) => Promise<void>;
  /** `GET /export/request-logs`. */
  requestLogExport: RouteHandler;
  /** `/metrics`; absent when metrics are off or served on a listener of their own, and then 404. */
  metrics?: ((request: IncomingMessage, response: ServerResponse) => Promise<void>) | undefined;
}

/** Bytes of the header block as sent: each `name: value` line with its CRLF. */
function headerBytes(rawHeaders: string[]): number {
  let total = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) total += rawHeaders[index]!.length + rawHeaders[index + 1]!.length + 4;
  return total;
}

/** Sends 431 in the error envelope of the route: Anthropic's on /v1/messages, else OpenAI's. */
function sendHeadersTooLarge(response: ServerResponse, path: string, limitBytes: number): void {
  const message = `The request headers are larger than ${limitBytes} bytes (MAX_HEADER_BYTES).`;
  const body = path.startsWith('/v1/messages')
    ? { type: 'error', error: { type: 'request_too_large', message } }
    : { error: { message, type: 'invalid_request_error', code: 'request_header_too_large', param: null } };
  sendJson(response, 431, body, { connection: 'close' });
}

export function createRequestHandler(options: {
  logger: Logger;
  readiness: Readiness;
  routes: Routes;
  maxHeaderBytes: number;
  /** Counts every request by route and status; absent when metrics are off. */
  metrics?: HttpMetrics | undefined;
}) {
  const { logger, readiness, routes, metrics } = options;
  // The access line has fixed fields that carry no secret, and redaction with wildcard paths costs
  // about 50 µs per line (pino 10, measured here), a large share of a proxied request's CPU.
  const accessLogger = logger.child({}, { redact: { paths: [] } });
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  async function route(request: IncomingMessage, response: ServerResponse, ids: RequestIds, path: string) {
    if (headerBytes(request.rawHeaders) > options.maxHeaderBytes) {
      sendHeadersTooLarge(response, path, options.maxHeaderBytes);
      return;
    }
    if (path === '/healthz') {
      sendJson(response, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      const report = await readiness.report();
      sendJson(response, report.ready ? 200 : 503, report.body);
      return;
    }
    if (path === '/graphql') {
      await runWithRequestIds(ids, () => routes.graphql(request, response, ids));
      return;
    }
    if (path.startsWith('/v1/')) {
      await routes.proxy(request, response, ids, path);
      return;
    }
    if (path === '/export/request-logs') {
      await runWithRequestIds(ids, () => routes.requestLogExport(request, response, ids));
      return;
    }
    if (path === '/metrics' && routes.metrics) {
      await routes.metrics(request, response);
      return;
    }
    sendJson(response, 404, {
      error: { type: 'not_found', message: `No route for ${request.method} ${path}. See the README for the routes.` },
    });
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const started = performance.now();
    const clientRequestId = request.headers['x-request-id'];
    const ids: RequestIds = { requestId: randomUUID() };
    if (typeof clientRequestId === 'string' && clientRequestIdPattern.test(clientRequestId)) {
      ids.clientRequestId = clientRequestId;
    }
    response.setHeader('x-request-id', ids.requestId);
    if (readiness.shuttingDown) response.setHeader('connection', 'close');

    const path = (request.url ?? '/').split('?', 1)[0]!;
    inFlight += 1;
    response.once('close', () => {
      inFlight -= 1;
      const level = path === '/healthz' || path === '/readyz' ? 'debug' : 'info';
      const status = response.writableFinished ? response.statusCode : 499;
      const durationMs = performance.now() - started;
      metrics?.observe(path, status, durationMs / 1000);
      // The ids go in as fields: the proxy does not run in the request context, and the mixin
      // would copy them into a new object for this one line anyway.
      accessLogger[level](
        {
          requestId: ids.requestId,
          clientRequestId: ids.clientRequestId,
          method: request.method,
          path,
          status,
          durationMs: Math.round(durationMs * 100) / 100,
        },
        'Request completed',
      );
      if (inFlight === 0) onIdle?.();
    });

    route(request, response, ids, path).catch((error: unknown) => {
      logger.error({ err: error, path, ...ids }, 'Unhandled error while serving a request');
      if (!response.headersSent) {
        sendJson(response, 500, {
          error: { type: 'internal_error', message: `Internal error; quote request id ${ids.requestId} when reporting it.` },
        });
      } else {
        response.destroy();
      }
    });
  }

  return {
    handle,
    get inFlight() {
      return inFlight;
    },
    /** Resolves once no request is in flight. */
    idle(): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onIdle = resolve;
      });
    },
  };
}
