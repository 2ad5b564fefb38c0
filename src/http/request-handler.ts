import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { requestContext, type RequestIds } from '../request-context.js';
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

export function createRequestHandler(options: { logger: Logger; readiness: Readiness; routes: Routes; maxHeaderBytes: number }) {
  const { logger, readiness, routes } = options;
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
      await routes.graphql(request, response, ids);
      return;
    }
    if (path.startsWith('/v1/')) {
      await routes.proxy(request, response, ids, path);
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
      requestContext.run(ids, () =>
        accessLogger[level](
          {
            method: request.method,
            path,
            status: response.writableFinished ? response.statusCode : 499,
            durationMs: Math.round((performance.now() - started) * 100) / 100,
          },
          'Request completed',
        ),
      );
      if (inFlight === 0) onIdle?.();
    });

    requestContext.run(ids, () => {
      route(request, response, ids, path).catch((error: unknown) => {
        logger.error({ err: error, path }, 'Unhandled error while serving a request');
        if (!response.headersSent) {
          sendJson(response, 500, {
            error: { type: 'internal_error', message: `Internal error; quote request id ${ids.requestId} when reporting it.` },
          });
        } else {
          response.destroy();
        }
      });
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
