/**
 * Why a request to an upstream failed below HTTP: no connection, a timeout, or a connection lost
 * before the response was complete.
 */
export type UpstreamFailureKind =
  | 'connect_timeout'
  | 'headers_timeout'
  | 'body_timeout'
  | 'connection_refused'
  | 'host_not_found'
  | 'tls_failed'
  | 'connection_closed'
  | 'invalid_response'
  | 'connection_failed'
  | 'override_missing';

const timeoutKinds: ReadonlySet<UpstreamFailureKind> = new Set(['connect_timeout', 'headers_timeout', 'body_timeout']);

/**
 * A transport failure of an upstream request. `code` is `upstream_timeout` for the three timeouts
 * and `upstream_unreachable` for everything else, and `kind` gives the detail.
 */
export class UpstreamTransportError extends Error {
  readonly code: 'upstream_timeout' | 'upstream_unreachable';

  constructor(
    readonly kind: UpstreamFailureKind,
    /** The upstream's real origin, such as `https://api.openai.com`, never the override address. */
    readonly origin: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamTransportError';
    this.code = timeoutKinds.has(kind) ? 'upstream_timeout' : 'upstream_unreachable';
  }
}

const describeKind: Record<UpstreamFailureKind, string> = {
  connect_timeout: 'the connection timed out',
  headers_timeout: 'the response headers timed out',
  body_timeout: 'the response body timed out while idle',
  connection_refused: 'the connection was refused',
  host_not_found: 'the host name could not be resolved',
  tls_failed: 'the TLS handshake failed',
  connection_closed: 'the connection closed before the response was complete',
  invalid_response: 'the response was not valid HTTP',
  connection_failed: 'the connection failed',
  override_missing: 'no connection override is configured for this origin',
};

/** Error codes of Node.js system errors and undici errors, by the failure they mean. */
const kindByCode: Readonly<Record<string, UpstreamFailureKind>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'headers_timeout',
  UND_ERR_BODY_TIMEOUT: 'body_timeout',
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'host_not_found',
  EAI_AGAIN: 'host_not_found',
  ECONNRESET: 'connection_closed',
  EPIPE: 'connection_closed',
  UND_ERR_SOCKET: 'connection_closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'invalid_response',
  UND_ERR_HEADERS_OVERFLOW: 'invalid_response',
  EHOSTUNREACH: 'connection_failed',
  ENETUNREACH: 'connection_failed',
  EADDRNOTAVAIL: 'connection_failed',
  UND_ERR_CLOSED: 'connection_failed',
  UND_ERR_DESTROYED: 'connection_failed',
};

function kindOf(error: unknown): UpstreamFailureKind | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // Node reports a failed connection to a name with several addresses as an AggregateError.
  if (error instanceof AggregateError && error.errors.length > 0) return kindOf(error.errors[0]);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const kind = kindByCode[code];
    if (kind) return kind;
    if (code.startsWith('HPE_')) return 'invalid_response';
    if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT')) return 'tls_failed';
  }
  if ((error as { library?: unknown }).library === 'SSL routines') return 'tls_failed';
  return undefined;
}

/**
 * Classifies an error thrown by an upstream request or by reading its body. Returns undefined for
 * errors that are not transport failures (an abort by the caller, a bug), which callers rethrow.
 */
export function toUpstreamTransportError(error: unknown, origin: string): UpstreamTransportError | undefined {
  if (error instanceof UpstreamTransportError) return error;
  const kind = kindOf(error);
  if (!kind) return undefined;
  return new UpstreamTransportError(kind, origin, `Request to ${origin} failed: ${describeKind[kind]}.`, { cause: error });
}

export function overrideMissingError(origin: string): UpstreamTransportError {
  return new UpstreamTransportError(
    'override_missing',
    origin,
    `Request to ${origin} rejected: ${describeKind.override_missing}, and UPSTREAM_REQUIRE_OVERRIDE is set.`,
  );
}
