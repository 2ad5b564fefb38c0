import type { ServerResponse } from 'node:http';
import { ExpectedError } from '../errors.js';
import { sendJson } from '../http/respond.js';
import { formatSseEvent } from './sse/sse-format.js';

/**
 * The proxy's error envelope in the two client dialects:
 * - OpenAI (chat completions, models): `{"error":{"message","type","code","param"}}`;
 * - Anthropic (messages, count_tokens): `{"type":"error","error":{"type","message"}}`.
 * test/proxy-transport/errors.test.ts pins both layouts, as HTTP bodies and as stream events.
 */
export type ClientDialect = 'openai' | 'anthropic';

/** Anthropic's error types. Every ProxyError has one, and the OpenAI renderer translates it. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/**
 * The `type` sent to OpenAI clients. OpenAI documents no closed list of types. It sends
 * `invalid_request_error` for most 4xx responses (a missing model included) and `server_error`
 * for 5xx, and the category names are kept where OpenAI has none of its own.
 */
const openAiTypes: Record<ErrorType, string> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  permission_error: 'permission_error',
  not_found_error: 'invalid_request_error',
  request_too_large: 'invalid_request_error',
  rate_limit_error: 'rate_limit_error',
  api_error: 'server_error',
  overloaded_error: 'server_error',
};

/** True when `value`, such as the error type an upstream sent, is one of the ErrorType values. */
export function isErrorType(value: string): value is ErrorType {
  return Object.hasOwn(openAiTypes, value);
}

/**
 * Errors raised by the gateway itself, with their status and type. Upstream errors keep the
 * provider's status and have the code `upstream_error` (see upstream-error-mapping.ts).
 *
 * | code                          | status | type                  | when                                                       |
 * |-------------------------------|--------|-----------------------|------------------------------------------------------------|
 * | invalid_request_error         | 400    | invalid_request_error | invalid JSON, missing model, unknown provider prefix or bare model |
 * | no_provider_credential        | 400    | invalid_request_error | no provider key serves this gateway key for the provider   |
 * | authentication_error          | 401    | authentication_error  | missing or unknown gateway key                             |
 * | permission_error              | 403    | permission_error      | inactive or expired gateway key, model not allowed         |
 * | provider_key_disabled         | 403    | permission_error      | the provider key that would serve the request is disabled  |
 * | not_found_error               | 404    | not_found_error       | unknown route, count_tokens on an upstream without it      |
 * | request_too_large             | 413    | request_too_large     | body over PROXY_MAX_BODY_BYTES                             |
 * | request_header_too_large      | 431    | request_too_large     | request headers over the server's limit                    |
 * | usage_limit_exceeded          | 429    | rate_limit_error      | per-gateway-key spend or rate limit (reserved)             |
 * | internal_error                | 500    | api_error             | unexpected failure, masked                                 |
 * | provider_authentication_error | 502    | api_error             | the provider rejected the stored credential                |
 * | upstream_unreachable          | 502    | api_error             | no connection, or the connection broke                     |
 * | credential_unavailable        | 503    | api_error             | the credential cannot be decrypted now (key backend down)  |
 * | upstream_timeout              | 504    | api_error             | connect, header or body idle timeout                       |
 */
export const gatewayErrors = {
  invalid_request_error: { status: 400, type: 'invalid_request_error' },
  no_provider_credential: { status: 400, type: 'invalid_request_error' },
  authentication_error: { status: 401, type: 'authentication_error' },
  permission_error: { status: 403, type: 'permission_error' },
  provider_key_disabled: { status: 403, type: 'permission_error' },
  not_found_error: { status: 404, type: 'not_found_error' },
  request_too_large: { status: 413, type: 'request_too_large' },
  request_header_too_large: { status: 431, type: 'request_too_large' },
  usage_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  internal_error: { status: 500, type: 'api_error' },
  provider_authentication_error: { status: 502, type: 'api_error' },
  upstream_unreachable: { status: 502, type: 'api_error' },
  credential_unavailable: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: ErrorType }>;

export type GatewayErrorCode = keyof typeof gatewayErrors;

export interface ProxyErrorInit {
  status: number;
  type: ErrorType;
  /** A gateway error code, or `upstream_error` for an error response from the provider. */
  code: GatewayErrorCode | 'upstream_error';
  message: string;
  /** The request field at fault, for OpenAI clients. */
  param?: string | null;
  /** The provider's own error code (`insufficient_quota`, `1113`, `ThrottlingException`). */
  upstreamCode?: string | null;
  /** The provider key that served the request, for the request log and credential errors. */
  providerKeyId?: string | null;
  /** Response headers such as `retry-after` and `x-should-retry`, sent with an HTTP error only. */
  headers?: Record<string, string>;
}

/**
 * An error sent to the client in its dialect. The message must be safe to show, so it contains no
 * secret, no prompt text and no raw upstream body.
 */
export class ProxyError extends ExpectedError {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: GatewayErrorCode | 'upstream_error';
  readonly param: string | null;
  readonly upstreamCode: string | null;
  readonly providerKeyId: string | null;
  readonly headers: Readonly<Record<string, string>>;

  constructor(init: ProxyErrorInit) {
    super(init.message);
    this.name = 'ProxyError';
    this.status = init.status;
    this.type = init.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.upstreamCode = init.upstreamCode ?? null;
    this.providerKeyId = init.providerKeyId ?? null;
    this.headers = { ...init.headers };
  }

  /** Builds a gateway error with the status and type of its code in `gatewayErrors`. */
  static gateway(
    code: GatewayErrorCode,
    message: string,
    details: Pick<ProxyErrorInit, 'param' | 'providerKeyId' | 'headers'> = {},
  ): ProxyError {
    const { status, type } = gatewayErrors[code];
    return new ProxyError({ status, type, code, message, ...details });
  }
}

/** Renders the JSON body of an error in the client's dialect. */
export function renderErrorBody(error: ProxyError, dialect: ClientDialect): object {
  if (dialect === 'anthropic') {
    return { type: 'error', error: { type: error.type, message: error.message } };
  }
  return {
    error: {
      message: error.message,
      type: openAiTypes[error.type],
      code: error.upstreamCode ?? error.code,
      param: error.param,
    },
  };
}

/** Sends the error as a complete JSON response, with its status and headers. */
export function sendProxyError(response: ServerResponse, error: ProxyError, dialect: ClientDialect): void {
  sendJson(response, error.status, renderErrorBody(error, dialect), { ...error.headers });
}

/**
 * Formats the error as an SSE event, for a stream whose 200 status is already sent. OpenAI
 * clients get a data-only event and the caller must then end the stream without `[DONE]`, so
 * that the SDKs report a failure instead of a complete response. Anthropic clients get the named
 * `error` event that Anthropic itself sends mid-stream.
 */
export function formatStreamError(error: ProxyError, dialect: ClientDialect): string {
  const data = JSON.stringify(renderErrorBody(error, dialect));
  return dialect === 'anthropic' ? formatSseEvent({ event: 'error', data }) : formatSseEvent({ data });
}
