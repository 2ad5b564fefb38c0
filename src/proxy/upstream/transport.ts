import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { UpstreamTransportConfig } from '../../config/upstream.config.js';
import { overrideMissingError, toUpstreamTransportError } from './transport-error.js';

export interface UpstreamTransportOptions extends UpstreamTransportConfig {
  /**
   * Certificates (PEM) trusted for TLS instead of Node's default CA list. Tests use it for a
   * self-signed upstream. Operators with a private CA can set NODE_EXTRA_CA_CERTS instead.
   */
  ca?: string | Buffer;
}

export interface UpstreamRequest {
  /** The upstream's real URL. An override changes where the connection goes, never this URL. */
  url: URL | string;
  method: 'GET' | 'POST';
  /** Built by the adapter, credential included. Hop-by-hop, Host and gateway key headers are dropped. */
  headers?: Record<string, string>;
  body?: string | Uint8Array | null;
  /** Aborts the request and destroys its body, for example when the client leaves. */
  signal?: AbortSignal | AbortEmitter;
}

/**
 * An abort source for one upstream request that costs less than an AbortController, whose signal
 * is an EventTarget with several internal objects. undici accepts any EventEmitter with an
 * `aborted` flag that emits 'abort'.
 */
export class AbortEmitter extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/**
 * An upstream response as undici returns it. The caller must consume `body` (read it to the end)
 * or discard it (`body.destroy()`, or `body.dump()` to drain a small one): an unconsumed body
 * keeps its pooled connection busy until the body timeout.
 */
export type UpstreamResponse = Pick<Dispatcher.ResponseData, 'statusCode' | 'headers' | 'body'>;

/**
 * Request headers that never go upstream. Hop-by-hop headers are defined in RFC 9110 section
 * 7.6.1, and undici rejects several of them. undici derives Host from the real URL and computes
 * Content-Length from the body. The gateway's own key headers are dropped as a last guard behind
 * the adapters, which build upstream headers from scratch.
 */
const droppedHeaders = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'x-keyroute-api-key',
  'x-edgee-api-key',
]);

function upstreamHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!droppedHeaders.has(lower)) result[lower] = value;
  }
  // The body reaches the SSE parser and the client as it arrives, so it must not be compressed.
  result['accept-encoding'] = 'identity';
  return result;
}

/**
 * Builds undici's connector with the connection-level overrides. For an overridden origin the
 * socket goes to the override address, while the request keeps its real URL and Host header.
 * An `http:` address gets plaintext. An `https:` address gets TLS, with SNI and the certificate
 * check for the real host name. Other origins connect directly, unless `requireOverride` is set.
 */
function createConnector(options: UpstreamTransportOptions, overrides: ReadonlyMap<string, URL>): buildConnector.connector {
  const connect = buildConnector({
    timeout: options.connectTimeoutMs,
    ...(options.ca !== undefined && { ca: options.ca }),
  });

  return (target, callback) => {
    const origin = `${target.protocol}//${target.host ?? target.hostname}`;
    const address = overrides.get(origin);
    if (!address) {
      if (options.requireOverride) {
        callback(overrideMissingError(origin), null);
        return;
      }
      connect(target, callback);
      return;
    }
    // SNI takes host names only (RFC 6066 section 3), so an IP-literal origin sends none.
    const servername = isIP(target.hostname) === 0 ? target.hostname : undefined;
    connect(
      {
        ...target,
        protocol: address.protocol,
        hostname: address.hostname.replace(/^\[|\]$/g, ''),
        host: address.host,
        port: address.port,
        ...(servername !== undefined && { servername }),
      },
      callback,
    );
  };
}

/**
 * The HTTP client for every upstream call. It wraps one undici Agent, which keeps one keep-alive
 * connection pool per upstream origin, and applies the configured connect timeout, header and
 * body idle timeouts and connection-level overrides. Build one at start and close it at shutdown.
 *
 * `request` rejects with an UpstreamTransportError for a transport failure. When the caller's
 * signal aborts, it rejects with the signal's reason unchanged. Errors from reading the body
 * (a body timeout, a connection lost mid-stream) come from the body stream as undici raised them;
 * classify them with `toUpstreamTransportError(error, origin)`.
 */
export class UpstreamTransport {
  readonly #agent: Agent;
  readonly #overrides: ReadonlyMap<string, URL>;
  readonly #requireOverride: boolean;

  constructor(options: UpstreamTransportOptions) {
    this.#overrides = new Map(options.overrides.map((override) => [override.origin, new URL(override.address)]));
    this.#requireOverride = options.requireOverride;
    this.#agent = new Agent({
      connect: createConnector(options, this.#overrides),
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    });
  }

  /** Sends one request. The class documentation describes its errors and the body contract. */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const url = typeof request.url === 'string' ? new URL(request.url) : request.url;
    if (this.#requireOverride && !this.#overrides.has(url.origin)) throw overrideMissingError(url.origin);
    try {
      const response = await this.#agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: upstreamHeaders(request.headers),
        body: request.body ?? null,
        signal: request.signal ?? null,
      });
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      if (request.signal?.aborted) throw error;
      throw toUpstreamTransportError(error, url.origin) ?? error;
    }
  }

  /**
   * The underlying dispatcher, for fetch-based callers such as tests (`fetch(url, { dispatcher })`
   * with undici's own fetch). Its connections get the same overrides and the same rejection of
   * origins without one, but not the header filtering of `request`.
   */
  get dispatcher(): Dispatcher {
    return this.#agent;
  }

  /** Waits for requests in flight to finish, then closes every connection. */
  close(): Promise<void> {
    return this.#agent.close();
  }

  /** Aborts requests in flight and closes every connection at once. */
  destroy(): Promise<void> {
    return this.#agent.destroy();
  }
}

/**
 * Reads at most `maxBytes` of a body as UTF-8 text and discards the rest, for error bodies that
 * are mapped into the client's error format.
 */
export async function readUpstreamText(body: UpstreamResponse['body'], maxBytes = 65_536): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    const remaining = maxBytes - size;
    const part = chunk.byteLength > remaining ? chunk.subarray(0, remaining) : chunk;
    text += decoder.decode(part, { stream: true });
    size += part.byteLength;
    if (size >= maxBytes) {
      body.destroy();
      break;
    }
  }
  return text + decoder.decode();
}
