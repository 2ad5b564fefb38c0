import { providers, type ProviderId } from '../providers/providers.js';
import { isErrorType, ProxyError, type ErrorType } from './errors.js';
import { scrubSecrets } from './secret-scrubbing.js';
import type { UpstreamTransportError } from './upstream/transport-error.js';

/**
 * Maps an upstream's error response to the error the client receives:
 *
 * | upstream response                                              | client gets                          |
 * |----------------------------------------------------------------|--------------------------------------|
 * | credential rejected: any 401 or 403; xAI 400 naming the API    | 502 provider_authentication_error    |
 * | key; Google `invalid_grant`; Bedrock UnrecognizedClient-,      | naming the provider key, with        |
 * | InvalidSignature-, ExpiredToken- or InvalidClientTokenId error | `x-should-retry: false`              |
 * | quota that retrying cannot fix: any 402; `insufficient_quota`; | the upstream status, with            |
 * | Anthropic `enforced_spend_limit_reached`, `billing_error` or a | `x-should-retry: false`              |
 * | 400 about the credit balance; zAI 1112, 1113, 1121, 1308 or    |                                      |
 * | 1310; Bedrock ServiceQuotaExceededException                    |                                      |
 * | other 4xx (400, 404, 413, 422 …)                               | the upstream status                  |
 * | 429, 5xx, 529                                                  | the upstream status, with            |
 * |                                                                | `retry-after` forwarded              |
 * | a status outside 400–599                                       | 502                                  |
 *
 * The provider's message is kept, scrubbed of secrets, prefixed with the provider's name and cut
 * to 1,000 characters. A body that is not JSON is never shown.
 */

export interface UpstreamErrorInput {
  provider: ProviderId;
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The response body as text. Its first 64 KiB are enough (see readUpstreamText). */
  body: string;
  providerKeyId?: string | null;
  /** Credential values that must not appear in the message, such as the API key sent upstream. */
  secrets?: Iterable<string>;
}

/** Fields read from a provider's error body, each only when present. */
interface ProviderErrorDetails {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
}

const maxMessageLength = 1_000;

/** Codes that mean the stored credential itself was rejected, whatever the status. */
const credentialFailureCodes: ReadonlySet<string> = new Set([
  'invalid_grant',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
]);

/** Codes and types of quota and billing errors that retrying cannot fix. */
const unfixableQuotaCodes: ReadonlySet<string> = new Set([
  'insufficient_quota',
  'enforced_spend_limit_reached',
  'billing_error',
  'ServiceQuotaExceededException',
]);

/** zAI business codes of a locked account (1112, 1121), an exhausted balance (1113) and an exhausted Coding Plan quota (1308, 1310). */
const zaiAccountCodes: ReadonlySet<string> = new Set(['1112', '1113', '1121', '1308', '1310']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** Returns the value as a code when it is an identifier or an integer. xAI puts a sentence in `code`, which is not one. */
function codeOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'string' && /^[\w.:-]{1,64}$/.test(value)) return value;
  return undefined;
}

/** Mistral's validation errors: `[{"type":"extra_forbidden","loc":["body","x"],"msg":"…"}]`. */
function describeValidationDetail(detail: unknown[]): ProviderErrorDetails {
  const lines = detail.filter(isRecord).map((entry) => {
    const location = Array.isArray(entry.loc) ? entry.loc.join('.') : undefined;
    const message = textOf(entry.msg) ?? 'invalid';
    return location ? `${location}: ${message}` : message;
  });
  const first = detail.find(isRecord);
  return { message: lines.join('; '), ...(first && codeOf(first.type) && { code: codeOf(first.type) }) };
}

/**
 * Reads the error body shapes of the eight providers:
 * - Anthropic `{"type":"error","error":{"type","message","details"?:{"error_code"}}}`;
 * - OpenAI, DeepSeek and Mistral `{"error":{"message","type","code","param"}}`;
 * - Google `{"error":{"code":429,"message","status"}}`, sometimes inside an array;
 * - Google's token endpoint `{"error":"invalid_grant","error_description"}`;
 * - xAI `{"code":"…","error":"Incorrect API key provided…"}`;
 * - zAI `{"error":{"code":"1302","message"}}` or `{"code":1302,"message"}`;
 * - Mistral `{"object":"error","message":{"detail":[…]},"type"}` and 401 `{"message":"Unauthorized"}`;
 * - Bedrock `{"message"}` with the exception name in `x-amzn-errortype` (read by the caller).
 */
function parseErrorBody(body: string): ProviderErrorDetails {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {};
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (!isRecord(parsed)) return {};

  const { error } = parsed;
  if (isRecord(error)) {
    const details: ProviderErrorDetails = {};
    const message = textOf(error.message);
    const type = textOf(error.type);
    const code =
      codeOf(error.status) ?? (isRecord(error.details) ? codeOf(error.details.error_code) : undefined) ?? codeOf(error.code);
    const param = textOf(error.param);
    if (message !== undefined) details.message = message;
    if (type !== undefined) details.type = type;
    if (code !== undefined) details.code = code;
    if (param !== undefined) details.param = param;
    return details;
  }
  if (typeof error === 'string') {
    const description = textOf(parsed.error_description);
    if (description !== undefined) return { message: description, ...(codeOf(error) && { code: codeOf(error) }) };
    const code = codeOf(parsed.code);
    return { message: error, ...(code !== undefined && { code }) };
  }

  const message = parsed.message ?? parsed.Message;
  const details: ProviderErrorDetails = isRecord(message) && Array.isArray(message.detail)
    ? describeValidationDetail(message.detail)
    : Array.isArray(parsed.detail)
      ? describeValidationDetail(parsed.detail)
      : {};
  const text = textOf(message);
  if (text !== undefined) details.message = text;
  const type = textOf(parsed.type);
  if (type !== undefined) details.type = type;
  const code = codeOf(parsed.code) ?? codeOf(textOf(parsed.__type)?.split('#').pop());
  if (code !== undefined && details.code === undefined) details.code = code;
  const param = textOf(parsed.param);
  if (param !== undefined) details.param = param;
  return details;
}

function headerValue(headers: UpstreamErrorInput['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Bedrock's `x-amzn-errortype: ThrottlingException:http://internal.amazon.com/…`. */
function amazonErrorType(headers: UpstreamErrorInput['headers']): string | undefined {
  return codeOf(headerValue(headers, 'x-amzn-errortype')?.split(':', 1)[0]);
}

function typeForStatus(status: number): ErrorType {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function labelOf(provider: ProviderId): string {
  return providers.find((entry) => entry.id === provider)?.label ?? provider;
}

function isCredentialFailure(input: UpstreamErrorInput, details: ProviderErrorDetails): boolean {
  if (input.status === 401 || input.status === 403) return true;
  if (details.code !== undefined && credentialFailureCodes.has(details.code)) return true;
  // xAI responds to a wrong key with 400, so only the message distinguishes it from a bad argument.
  return input.provider === 'XAI' && input.status === 400 && /api key/i.test(details.message ?? '');
}

function isUnfixableQuota(input: UpstreamErrorInput, details: ProviderErrorDetails): boolean {
  if (input.status === 402) return true;
  if (details.code !== undefined && unfixableQuotaCodes.has(details.code)) return true;
  if (details.type !== undefined && unfixableQuotaCodes.has(details.type)) return true;
  if (input.provider === 'ZAI' && details.code !== undefined && zaiAccountCodes.has(details.code)) return true;
  // Anthropic responds to an exhausted credit balance with a plain 400 invalid_request_error, so
  // the message is the only signal.
  return input.provider === 'ANTHROPIC' && input.status === 400 && /credit balance|spend limit/i.test(details.message ?? '');
}

function cleanMessage(message: string | undefined, secrets: Iterable<string>): string | undefined {
  if (message === undefined) return undefined;
  const scrubbed = scrubSecrets(message, secrets).trim();
  return scrubbed.length > maxMessageLength ? `${scrubbed.slice(0, maxMessageLength)}…` : scrubbed;
}

/** Maps an upstream's error response as the table at the top of this file describes. */
export function mapUpstreamError(input: UpstreamErrorInput): ProxyError {
  const label = labelOf(input.provider);
  const details = parseErrorBody(input.body);
  details.code ??= amazonErrorType(input.headers);
  const message = cleanMessage(details.message, input.secrets ?? []);
  const upstreamCode = details.code ?? null;
  const providerKeyId = input.providerKeyId ?? null;

  if (isCredentialFailure(input, details)) {
    const keyName = providerKeyId ? ` of provider key ${providerKeyId}` : '';
    const reason = message ? `: ${message}` : '';
    return ProxyError.gateway(
      'provider_authentication_error',
      `${label} rejected the stored credential${keyName} (HTTP ${input.status}${reason}). Update the provider key's credentials or use another key.`,
      { providerKeyId, headers: { 'x-should-retry': 'false' } },
    );
  }

  if (input.status < 400 || input.status > 599) {
    return new ProxyError({
      status: 502,
      type: 'api_error',
      code: 'upstream_error',
      message: `${label} responded with the unexpected status ${input.status}.`,
      upstreamCode,
      providerKeyId,
    });
  }

  const headers: Record<string, string> = {};
  for (const name of ['retry-after', 'retry-after-ms', 'x-should-retry']) {
    const value = headerValue(input.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  if (isUnfixableQuota(input, details)) headers['x-should-retry'] = 'false';

  const type = details.type !== undefined && isErrorType(details.type) ? details.type : typeForStatus(input.status);
  return new ProxyError({
    status: input.status,
    type,
    code: 'upstream_error',
    message: message ? `${label}: ${message}` : `${label} responded with HTTP ${input.status}.`,
    param: details.param ?? null,
    upstreamCode,
    providerKeyId,
    headers,
  });
}

/** Maps a transport failure: 504 `upstream_timeout` for timeouts, else 502 `upstream_unreachable`. */
export function mapTransportError(error: UpstreamTransportError, provider: ProviderId, providerKeyId?: string | null): ProxyError {
  return ProxyError.gateway(error.code, `${labelOf(provider)}: ${error.message}`, { providerKeyId: providerKeyId ?? null });
}
