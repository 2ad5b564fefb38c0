import type { ServerResponse } from 'node:http';
import type { StreamConfig } from '../config/upstream.config.js';
import { providers, type ProviderId } from '../providers/providers.js';
import { ProxyError, sendProxyError, type ClientDialect } from './errors.js';
import type { ProxyCall } from './proxy-call.js';
import { formatSseEvent } from './sse/sse-format.js';
import { SseEventTooLargeError, SseParser, type SseEvent } from './sse/sse-parser.js';
import { StreamRelay } from './sse/stream-relay.js';
import { mapTransportError, mapUpstreamError } from './upstream-error-mapping.js';
import { forwardedResponseHeaders, upstreamRequestId } from './upstream/response-headers.js';
import { readUpstreamText, type UpstreamResponse, type UpstreamTransport } from './upstream/transport.js';
import { toUpstreamTransportError, UpstreamTransportError } from './upstream/transport-error.js';

type Json = Record<string, unknown>;

/** Usage capture and client-facing rewrites for one upstream's responses. */
export interface ResponseHandling {
  /** Reads usage from a complete response body. */
  captureBodyUsage(body: Json, call: ProxyCall): void;
  /**
   * Handles one stream event: captures usage and returns the event to send, or undefined to drop
   * it. Returning the same object keeps its original bytes.
   */
  handleEvent(event: SseEvent, call: ProxyCall): SseEvent | undefined;
  /** Rewrites a complete response body in place before it is sent. */
  rewriteBody(body: Json): void;
  /** False when `rewriteBody` changes nothing, so the received bytes can go out as they are. */
  readonly rewritesBody: boolean;
}

export interface ForwardRequest {
  provider: ProviderId;
  dialect: ClientDialect;
  url: URL;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  /** Headers the gateway adds to every response: provider, provider key id, credential source. */
  gatewayHeaders: Record<string, string>;
  /** The provider key id as clients see it, for error messages. */
  providerKeyLabel: string | null;
  /** Credential values to scrub from anything the upstream echoes. */
  secrets: string[];
  handling: ResponseHandling;
}

/**
 * Sends the request upstream and relays the response to the client: complete responses in one
 * write, streams event by event with backpressure and heartbeats. The upstream request is aborted
 * when the client leaves, in every phase. Returns the status the client got (499 when it left).
 */
export async function forward(
  transport: UpstreamTransport,
  streamConfig: StreamConfig,
  request: ForwardRequest,
  response: ServerResponse,
  call: ProxyCall,
): Promise<number> {
  return request.stream
    ? forwardStream(transport, streamConfig, request, response, call)
    : forwardComplete(transport, request, response, call);
}

async function forwardComplete(transport: UpstreamTransport, request: ForwardRequest, response: ServerResponse, call: ProxyCall): Promise<number> {
  const abort = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) abort.abort();
  };
  response.on('close', onClose);
  try {
    call.upstreamStartedAt = performance.now();
    const upstream = await transport.request({ url: request.url, method: 'POST', headers: request.headers, body: request.body, signal: abort.signal });
    call.upstreamRequestId = upstreamRequestId(upstream.headers) ?? null;

    if (upstream.statusCode >= 400) {
      const error = await upstreamError(upstream, request);
      call.upstreamEndedAt = performance.now();
      return sendError(response, error, request, call);
    }

    const bytes = Buffer.from(await upstream.body.arrayBuffer());
    call.upstreamEndedAt = performance.now();
    let payload: Buffer | string = bytes;
    const contentType = String(upstream.headers['content-type'] ?? 'application/json');
    if (contentType.includes('json')) {
      try {
        const body = JSON.parse(bytes.toString('utf8')) as Json;
        request.handling.captureBodyUsage(body, call);
        if (request.handling.rewritesBody) {
          request.handling.rewriteBody(body);
          payload = JSON.stringify(body);
        }
      } catch {
        // Not JSON after all: relay the bytes as they are.
      }
    }
    if (abort.signal.aborted) return 499;
    call.markFirstByte();
    response.writeHead(upstream.statusCode, {
      ...forwardedResponseHeaders(upstream.headers),
      ...request.gatewayHeaders,
      'content-type': contentType,
      'content-length': Buffer.byteLength(payload),
    });
    response.end(payload);
    return upstream.statusCode;
  } catch (error) {
    if (abort.signal.aborted) return 499;
    const proxyError = toProxyError(error, request);
    if (!proxyError) throw error;
    return sendError(response, proxyError, request, call);
  } finally {
    response.off('close', onClose);
  }
}

async function forwardStream(
  transport: UpstreamTransport,
  streamConfig: StreamConfig,
  request: ForwardRequest,
  response: ServerResponse,
  call: ProxyCall,
): Promise<number> {
  const relay = new StreamRelay(response, streamConfig);
  let upstream: UpstreamResponse | undefined;
  try {
    call.upstreamStartedAt = performance.now();
    upstream = await transport.request({ url: request.url, method: 'POST', headers: request.headers, body: request.body, signal: relay.signal });
    call.upstreamRequestId = upstreamRequestId(upstream.headers) ?? null;

    if (upstream.statusCode >= 400) {
      const error = await upstreamError(upstream, request);
      call.upstreamEndedAt = performance.now();
      return failRelay(relay, response, error, request, call);
    }

    if (!relay.commitHeaders({ ...forwardedResponseHeaders(upstream.headers), ...request.gatewayHeaders }) && !relay.committed) {
      upstream.body.destroy();
      return 499;
    }
    call.markFirstByte();

    const parser = new SseParser();
    /** Writes the events that the handling keeps, and returns false when the client has left. */
    const relayEvents = async (events: SseEvent[]): Promise<boolean> => {
      let out = '';
      for (const event of events) {
        const handled = request.handling.handleEvent(event, call);
        if (handled) out += formatSseEvent(handled);
      }
      return out.length === 0 || (await relay.write(out));
    };
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      if (!(await relayEvents(parser.push(chunk)))) {
        upstream.body.destroy();
        return 499;
      }
    }
    // An upstream that closes without the blank line after its last event still sent that event.
    if (!(await relayEvents(parser.end()))) return 499;
    call.upstreamEndedAt = performance.now();
    await relay.end();
    return relay.clientGone ? 499 : 200;
  } catch (error) {
    upstream?.body.destroy();
    if (relay.clientGone) return 499;
    const proxyError = toProxyError(error, request);
    if (!proxyError) {
      // Not an upstream failure but a bug. Once the 200 is committed, an error event is the only
      // way to tell the client, so the stream still ends with one. The route logs the cause.
      const masked = ProxyError.gateway('internal_error', `Internal error; quote request id ${call.ids.requestId} when reporting it.`);
      failRelay(relay, response, masked, request, call);
      throw error;
    }
    return failRelay(relay, response, proxyError, request, call);
  }
}

async function upstreamError(upstream: UpstreamResponse, request: ForwardRequest): Promise<ProxyError> {
  const text = await readUpstreamText(upstream.body);
  return mapUpstreamError({
    provider: request.provider,
    status: upstream.statusCode,
    headers: upstream.headers,
    body: text,
    providerKeyId: request.providerKeyLabel,
    secrets: request.secrets,
  });
}

/** Maps an upstream failure to the client's error. Returns undefined for any other error, which is a bug. */
function toProxyError(error: unknown, request: ForwardRequest): ProxyError | undefined {
  if (error instanceof ProxyError) return error;
  if (error instanceof SseEventTooLargeError) {
    return new ProxyError({
      status: 502,
      type: 'api_error',
      code: 'upstream_error',
      message: `${providerLabel(request.provider)} sent a stream event longer than the limit of ${error.maxEventLength} characters.`,
      upstreamCode: error.code,
      providerKeyId: request.providerKeyLabel,
    });
  }
  const transportError = error instanceof UpstreamTransportError ? error : toUpstreamTransportError(error, request.url.origin);
  if (transportError) return mapTransportError(transportError, request.provider, request.providerKeyLabel);
  return undefined;
}

function providerLabel(provider: ProviderId): string {
  return providers.find((entry) => entry.id === provider)?.label ?? provider;
}

function sendError(response: ServerResponse, error: ProxyError, request: ForwardRequest, call: ProxyCall): number {
  call.errorCode = error.upstreamCode ?? error.code;
  call.markFirstByte();
  for (const [name, value] of Object.entries(request.gatewayHeaders)) response.setHeader(name, value);
  sendProxyError(response, error, request.dialect);
  return error.status;
}

/**
 * Reports an error on a stream: as an HTTP error before the headers are committed, else as an
 * error event. The log records the error's status either way, since that is what went wrong.
 */
function failRelay(relay: StreamRelay, response: ServerResponse, error: ProxyError, request: ForwardRequest, call: ProxyCall): number {
  call.errorCode = error.upstreamCode ?? error.code;
  if (!relay.committed) for (const [name, value] of Object.entries(request.gatewayHeaders)) response.setHeader(name, value);
  call.markFirstByte();
  relay.fail(error, request.dialect);
  return error.status;
}
