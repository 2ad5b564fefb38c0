/**
 * Errors inside translated response streams. An IR `error` event carries an Anthropic error type
 * (the vocabulary of the proxy's ErrorType), so each parser maps its upstream's types into it and
 * each renderer writes the proxy's error envelope in its client's dialect.
 */
import { isErrorType, ProxyError, renderErrorBody, type ClientDialect, type ErrorType } from '../errors.js';
import type { StreamEvent } from './ir.js';

export type StreamErrorEvent = Extract<StreamEvent, { type: 'error' }>;

/** OpenAI-family error types that have an Anthropic counterpart under another name. */
const fromOpenAiTypes: Readonly<Record<string, ErrorType>> = {
  server_error: 'api_error',
  // OpenAI names the exhausted limit (`requests`, `tokens`) in the type of a 429.
  requests: 'rate_limit_error',
  tokens: 'rate_limit_error',
  rate_limit_exceeded: 'rate_limit_error',
  insufficient_quota: 'rate_limit_error',
};

/** Maximum length of an upstream error message passed on, the same as for upstream error responses. */
const maxMessageLength = 1_000;

/** Maps the error `type` of an OpenAI-family stream chunk. An unknown type becomes `api_error`. */
export function errorTypeFromOpenAi(type: unknown): ErrorType {
  if (typeof type !== 'string') return 'api_error';
  // An own-property check, because a plain lookup would find `constructor` on the prototype.
  if (Object.hasOwn(fromOpenAiTypes, type)) return fromOpenAiTypes[type]!;
  return isErrorType(type) ? type : 'api_error';
}

/** Maps the error `type` of an Anthropic `error` event. A type outside the proxy's ErrorType becomes `api_error`. */
export function errorTypeFromAnthropic(type: unknown): ErrorType {
  return typeof type === 'string' && isErrorType(type) ? type : 'api_error';
}

/** Builds an IR error from an upstream's message, cut to a bounded length. */
export function streamError(errorType: ErrorType, message: unknown): StreamErrorEvent {
  const text = typeof message === 'string' && message.trim() !== '' ? message : 'The upstream reported an error inside the stream.';
  return {
    type: 'error',
    errorType,
    message: text.length > maxMessageLength ? `${text.slice(0, maxMessageLength)}…` : text,
  };
}

/**
 * Returns the error a parser emits when the upstream closed the stream before it finished the
 * message, so that the client sees a failure instead of a cut-off response that looks complete.
 */
export function truncatedStreamError(): StreamErrorEvent {
  return { type: 'error', errorType: 'api_error', message: 'The upstream closed the stream before the response was complete.' };
}

/** Returns the error a parser emits for an event whose data is not the JSON its format prescribes. */
export function malformedEventError(): StreamErrorEvent {
  return { type: 'error', errorType: 'api_error', message: 'The upstream sent a stream event that is not valid JSON.' };
}

/**
 * Renders an IR error as the JSON text of the proxy's error envelope in the client's dialect. The
 * code is `upstream_error`, as for an upstream's error response.
 */
export function renderStreamErrorData(event: StreamErrorEvent, dialect: ClientDialect): string {
  const error = new ProxyError({
    // The status is never sent: the stream's 200 is already out.
    status: 502,
    type: errorTypeFromAnthropic(event.errorType),
    code: 'upstream_error',
    message: event.message,
  });
  return JSON.stringify(renderErrorBody(error, dialect));
}
