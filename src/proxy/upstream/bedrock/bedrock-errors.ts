import { ProxyError, type ErrorType } from '../../errors.js';
import { scrubSecrets } from '../../secret-scrubbing.js';
import { mapUpstreamError } from '../../upstream-error-mapping.js';

/**
 * Maps Bedrock's errors, from HTTP error responses and from exception frames inside a stream, to
 * the error the client receives:
 *
 * | Bedrock exception                                     | client gets                                          |
 * |-------------------------------------------------------|------------------------------------------------------|
 * | UnrecognizedClientException, InvalidSignatureException,| 502 provider_authentication_error naming the provider |
 * | InvalidClientTokenId, ExpiredTokenException           | key and region, `x-should-retry: false`              |
 * | AccessDeniedException                                 | 403 permission_error saying whether IAM or model     |
 * |                                                       | access is missing, `x-should-retry: false`           |
 * | ValidationException "on-demand throughput isn't supported" | 400 saying to use an inference profile id        |
 * | other ValidationException                             | 400                                                  |
 * | ResourceNotFoundException                             | 404                                                  |
 * | ThrottlingException                                   | 429 with `retry-after` when Bedrock sent one         |
 * | ServiceUnavailableException, ModelNotReadyException   | 503 overloaded_error                                 |
 * | ModelTimeoutException                                 | 504: the model ran out of time on AWS's side         |
 * | ModelErrorException, ModelStreamErrorException        | 502: the model failed                                |
 * | InternalServerException                               | 500                                                  |
 * | anything else                                         | the generic upstream mapping                         |
 *
 * ModelTimeoutException is a 408 on the wire. To a client, 408 means that its own request was too
 * slow to arrive, which is not the case, so clients get 504, which the OpenAI and Anthropic SDKs
 * retry as they retry 408. Messages are scrubbed of the key's secrets and cut to 1,000
 * characters.
 */

export interface BedrockErrorContext {
  /** The provider key id as clients see it, named in credential errors. */
  providerKeyId?: string | null;
  /** The region the request was signed for. */
  region?: string;
  /** The model id as written after `bedrock/`. */
  modelId?: string;
  /** The access key id and secret access key of the row used, which are scrubbed from every message. */
  secrets?: Iterable<string>;
  /** The IAM actions the request needs, named when access is denied. Default: the two InvokeModel actions. */
  iamActions?: string;
}

const label = 'AWS Bedrock';
const maxMessageLength = 1_000;

const credentialExceptions: ReadonlySet<string> = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
]);

/**
 * Reads the exception name the way the AWS SDKs do for REST-JSON services (`loadRestJsonErrorCode`
 * in `@smithy/core` 3.x, protocols/json/parseJsonBody.js): the `x-amzn-errortype` header first, such as
 * `ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`, then the body's
 * `code` or `__type`. The part after `:` is a URL and the part before `#` a namespace.
 */
export function bedrockExceptionName(headers: Readonly<Record<string, string | string[] | undefined>>, body: Record<string, unknown>): string | undefined {
  const header = headers['x-amzn-errortype'];
  const raw = (Array.isArray(header) ? header[0] : header) ?? body.code ?? body.__type;
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  let name = raw.split(',')[0]!.split(':')[0]!;
  if (name.includes('#')) name = name.split('#')[1]!;
  return /^[A-Za-z][A-Za-z0-9]{0,99}$/.test(name) ? name : undefined;
}

/** `throttlingException` (as stream frames name it) to `ThrottlingException` (as HTTP headers do). */
function pascalCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function cleanMessage(message: string, secrets: Iterable<string>): string {
  const scrubbed = scrubSecrets(message, secrets).trim();
  return scrubbed.length > maxMessageLength ? `${scrubbed.slice(0, maxMessageLength)}…` : scrubbed;
}

interface BedrockException {
  name: string;
  /** Bedrock's message, already scrubbed of secrets. */
  message: string;
  retryAfter?: string;
}

function withReason(message: string): string {
  return message ? ` (${message})` : '';
}

function upstreamError(status: number, type: ErrorType, exception: BedrockException, message: string, context: BedrockErrorContext, headers: Record<string, string> = {}): ProxyError {
  return new ProxyError({
    status,
    type,
    code: 'upstream_error',
    message,
    upstreamCode: exception.name,
    providerKeyId: context.providerKeyId ?? null,
    headers,
  });
}

/** Explains an AccessDeniedException by the grant its message names as missing: an IAM permission or model access. */
function accessDenied(exception: BedrockException, context: BedrockErrorContext): ProxyError {
  const model = context.modelId ?? 'the model';
  const region = context.region ?? 'the region';
  const key = context.providerKeyId ? `provider key ${context.providerKeyId}` : 'the provider key';
  let message: string;
  if (/is not authorized to perform/i.test(exception.message)) {
    const target = context.modelId === undefined ? 'this Bedrock operation' : context.modelId;
    const actions = context.iamActions ?? 'bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream on the model, and on the inference profile when one is used';
    message =
      `${label} denied the request: the IAM identity of ${key} is not allowed to call ${target} in ${region}${withReason(exception.message)}. ` +
      `Grant it ${actions}.`;
  } else if (/don.t have access to the model/i.test(exception.message)) {
    message =
      `${label} denied the request: the AWS account of ${key} has no access to ${model} in ${region}${withReason(exception.message)}. ` +
      'Enable access to the model on the Model access page of the Bedrock console in that region.';
  } else {
    message = `${label} denied the request${withReason(exception.message)}. Check the IAM permissions of ${key} and the model access of its account in ${region}.`;
  }
  return upstreamError(403, 'permission_error', exception, message, context, { 'x-should-retry': 'false' });
}

function mapException(exception: BedrockException, context: BedrockErrorContext): ProxyError | undefined {
  const reason = withReason(exception.message);
  const retryAfter: Record<string, string> = exception.retryAfter ? { 'retry-after': exception.retryAfter } : {};

  if (credentialExceptions.has(exception.name)) {
    const key = context.providerKeyId ? ` of provider key ${context.providerKeyId}` : '';
    const region = context.region ? ` for ${context.region}` : '';
    return ProxyError.gateway(
      'provider_authentication_error',
      `${label} rejected the stored credential${key}${region} (${exception.name}${exception.message ? `: ${exception.message}` : ''}). ` +
        'Check the access key id and secret access key of that row, or use another key.',
      { providerKeyId: context.providerKeyId ?? null, headers: { 'x-should-retry': 'false' } },
    );
  }

  switch (exception.name) {
    case 'AccessDeniedException':
      return accessDenied(exception, context);
    case 'ValidationException':
      if (/on-demand throughput isn.t supported/i.test(exception.message)) {
        const model = context.modelId ?? '<model id>';
        return upstreamError(
          400,
          'invalid_request_error',
          exception,
          `${label} does not serve ${model} on demand by its model id${reason}. Use a cross-region inference profile id, ` +
            `such as bedrock/us.${model}, bedrock/eu.${model} or bedrock/apac.${model}, or an inference profile ARN.`,
          context,
        );
      }
      return upstreamError(400, 'invalid_request_error', exception, `${label}: ${exception.message || 'the request is invalid'}.`, context);
    case 'ResourceNotFoundException':
      return upstreamError(
        404,
        'not_found_error',
        exception,
        `${label}: ${context.modelId ?? 'the model'} was not found in ${context.region ?? 'the region'}${reason}. Check the model id and the region.`,
        context,
      );
    case 'ThrottlingException':
      return upstreamError(429, 'rate_limit_error', exception, `${label} is throttling requests${reason}.`, context, retryAfter);
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
      return upstreamError(503, 'overloaded_error', exception, `${label} is temporarily unavailable (${exception.name}${exception.message ? `: ${exception.message}` : ''}).`, context, retryAfter);
    case 'ModelTimeoutException':
      return upstreamError(504, 'api_error', exception, `${label}: the model took too long to respond${reason}.`, context);
    case 'ModelErrorException':
    case 'ModelStreamErrorException':
      return upstreamError(502, 'api_error', exception, `${label}: the model failed (${exception.name}${exception.message ? `: ${exception.message}` : ''}).`, context);
    case 'InternalServerException':
      return upstreamError(500, 'api_error', exception, `${label} had an internal error${reason}.`, context, retryAfter);
    default:
      return undefined;
  }
}

function parseBody(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Maps a Bedrock HTTP error response (status 400 or more), as the table at the top of this file describes. */
export function mapBedrockHttpError(
  input: { status: number; headers: Readonly<Record<string, string | string[] | undefined>>; body: string },
  context: BedrockErrorContext = {},
): ProxyError {
  const body = parseBody(input.body);
  const name = bedrockExceptionName(input.headers, body);
  const rawMessage = body.message ?? body.Message;
  const retryAfter = input.headers['retry-after'];
  const exception: BedrockException = {
    name: name ?? `HTTP ${input.status}`,
    message: typeof rawMessage === 'string' ? cleanMessage(rawMessage, context.secrets ?? []) : '',
    ...(typeof retryAfter === 'string' && { retryAfter }),
  };
  const mapped = name === undefined ? undefined : mapException(exception, context);
  if (mapped) return mapped;

  // An exception this table does not know: the generic mapping keeps the status and the message.
  return mapUpstreamError({
    provider: 'BEDROCK',
    status: input.status,
    headers: input.headers,
    body: input.body,
    providerKeyId: context.providerKeyId ?? null,
    secrets: context.secrets ?? [],
  });
}

/** Maps an exception or error frame of a Bedrock stream, such as `throttlingException`. */
export function mapBedrockStreamException(frame: { type: string; message: string }, context: BedrockErrorContext = {}): ProxyError {
  const exception: BedrockException = { name: pascalCase(frame.type), message: cleanMessage(frame.message, context.secrets ?? []) };
  return (
    mapException(exception, context) ??
    upstreamError(502, 'api_error', exception, `${label} ended the stream with ${exception.name}${withReason(exception.message)}.`, context)
  );
}
