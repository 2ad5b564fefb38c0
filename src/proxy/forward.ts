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
import { AbortEmitter, readUpstreamText, type UpstreamResponse, type UpstreamTransport } from './upstream/transport.js';
import { toUpstreamTransportError, UpstreamTransportError } from './upstream/transport-error.js';

type Json = Record<string, unknown>;

/**
 * Usage capture and client-facing rewrites for one upstream's responses: the same-format handlings
 * in response-handling.ts, and the translating ones in translation/translated-handling.ts.
 */
export interface ResponseHandling {
  /**
   * Captures usage from a complete JSON body and returns the body to send instead, or undefined to
   * send the received bytes unchanged.
   */
  handleBody(body: Json, call: ProxyCall): Json | undefined;
  /**
   * False when `handleBody` only reads usage and never returns a replacement. The received bytes
   * then go to the client first, and the body is parsed for usage after that, off the response's
   * critical path.
   */
  readonly replacesBody: boolean;
  /**
   * Captures usage from one stream event and returns what to send for it: the same object (its
   * bytes are kept), other events, or undefined for nothing.
   */
  handleEvent(event: SseEvent, call: ProxyCall): SseEvent | readonly SseEvent[] | undefined;
  /** Returns the events to send after the upstream stream ended without a transport error. */
  endStream?(call: ProxyCall): readonly SseEvent[];
}

/** Turns the bytes of an upstream stream into events. SseParser is one; Bedrock's event stream needs another. */
export interface StreamDecoder {
  push(chunk: Buffer): SseEvent[];
  /** Returns the events still buffered when the upstream closed. */
  end(): SseEvent[];
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
  /** Decodes a streamed body; an SSE parser when absent. */
  createDecoder?: () => StreamDecoder;
  /**
   * Whether to commit the stream's headers with its first event rather than when the upstream responds, for
   * upstreams that report errors inside a 200 stream (Bedrock's exception frames): an error that
   * comes before the first event can then still be an HTTP error. The silence timer still commits.
   */
  commitOnFirstEvent?: boolean;
  /**
   * Returns fresh authorization headers after the upstream returned 401, for credentials that are
   * short-lived tokens (Vertex). The request is then sent once more; its 401 body is discarded.
   * Throws a ProxyError when no fresh token can be had.
   */
  reauthorize?: () => Promise<Record<string, string>>;
  /** The cloud region or location the request goes to (Bedrock, Vertex), for the request log. */
  region?: string;
  /** Maps an upstream error response, for upstreams whose errors the generic mapping does not read. */
  mapError?: (response: { status: number; headers: UpstreamResponse['headers']; body: string }) => ProxyError;
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
  const abort = new AbortEmitter();
  const onClose = () => {
    if (!response.writableFinished) abort.abort();
  };
  response.on('close', onClose);
  try {
    call.upstreamStartedAt = performance.now();
    const upstream = await send(transport, request, abort);
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
    const isJson = contentType.includes('json');
    if (isJson && request.handling.replacesBody) {
      const body = parseJsonObject(bytes);
      // A body that is not JSON after all is relayed as it is.
      const replacement = body && request.handling.handleBody(body, call);
      if (replacement) payload = JSON.stringify(replacement);
    }
    if (abort.aborted) return 499;
    call.markFirstByte();
    const headers = responseHeadersOf(upstream, request);
    headers['content-type'] = contentType;
    headers['content-length'] = String(Buffer.byteLength(payload));
    response.writeHead(upstream.statusCode, headers);
    response.end(payload);
    if (isJson && !request.handling.replacesBody) {
      const body = parseJsonObject(bytes);
      if (body) request.handling.handleBody(body, call);
    }
    return upstream.statusCode;
  } catch (error) {
    if (abort.aborted) return 499;
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
    upstream = await send(transport, request, relay.signal);
    call.upstreamRequestId = upstreamRequestId(upstream.headers) ?? null;

    if (upstream.statusCode >= 400) {
      const error = await upstreamError(upstream, request);
      call.upstreamEndedAt = performance.now();
      return failRelay(relay, response, error, request, call);
    }

    const headers = responseHeadersOf(upstream, request);
    if (request.commitOnFirstEvent) {
      relay.setPendingHeaders(headers);
    } else {
      if (!relay.commitHeaders(headers) && !relay.committed) {
        upstream.body.destroy();
        return 499;
      }
      call.markFirstByte();
    }

    const decoder = request.createDecoder?.() ?? new SseParser();
    /** Writes the events that the handling keeps, and returns false when the client has left. */
    const relayEvents = async (events: readonly SseEvent[]): Promise<boolean> => {
      let out = '';
      for (const event of events) {
        const handled = request.handling.handleEvent(event, call);
        if (handled === undefined) continue;
        if (isSingleEvent(handled)) out += formatSseEvent(handled);
        else for (const each of handled) out += formatSseEvent(each);
      }
      if (out.length === 0) return !relay.clientGone;
      call.markFirstByte();
      return relay.write(out);
    };
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      if (!(await relayEvents(decoder.push(chunk)))) {
        upstream.body.destroy();
        return 499;
      }
    }
    // An upstream that closes without the blank line after its last event still sent that event.
    if (!(await relayEvents(decoder.end()))) return 499;
    const closing = request.handling.endStream?.(call);
    if (closing && closing.length > 0 && !(await relay.write(closing.map(formatSseEvent).join('')))) return 499;
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

/** Sends the request, and once more with fresh authorization after a 401 when the request allows it. */
async function send(transport: UpstreamTransport, request: ForwardRequest, signal: AbortSignal | AbortEmitter): Promise<UpstreamResponse> {
  const first = await transport.request({ url: request.url, method: 'POST', headers: request.headers, body: request.body, signal });
  if (first.statusCode !== 401 || !request.reauthorize) return first;
  await first.body.dump();
  const headers = { ...request.headers, ...(await request.reauthorize()) };
  return transport.request({ url: request.url, method: 'POST', headers, body: request.body, signal });
}

async function upstreamError(upstream: UpstreamResponse, request: ForwardRequest): Promise<ProxyError> {
  const text = await readUpstreamText(upstream.body);
  if (request.mapError) return request.mapError({ status: upstream.statusCode, headers: upstream.headers, body: text });
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

/**
 * Returns the upstream headers that reach the client, then the gateway's own. They are assigned
 * one by one, because on Node 20 spreading both into one literal cost microseconds per response
 * (see forwardRequestOf).
 */
function responseHeadersOf(upstream: UpstreamResponse, request: ForwardRequest): Record<string, string> {
  const headers = forwardedResponseHeaders(upstream.headers);
  const gateway = request.gatewayHeaders;
  for (const name in gateway) headers[name] = gateway[name]!;
  return headers;
}

function parseJsonObject(bytes: Buffer): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : undefined;
  } catch {
    return undefined;
  }
}

function isSingleEvent(handled: SseEvent | readonly SseEvent[]): handled is SseEvent {
  return !Array.isArray(handled);
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
