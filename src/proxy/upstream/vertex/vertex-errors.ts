import { ProxyError } from '../../errors.js';
import { scrubSecrets } from '../../secret-scrubbing.js';
import { mapUpstreamError, type UpstreamErrorInput } from '../../upstream-error-mapping.js';
import type { GoogleTokenError } from './google-access-token.js';
import type { VertexTarget } from './vertex-endpoints.js';

/**
 * Maps Vertex AI error responses and token failures to the error the client receives:
 *
 * | upstream                                                   | client gets                                    |
 * |------------------------------------------------------------|------------------------------------------------|
 * | token endpoint rejects the account (`invalid_grant` …)     | 502 provider_authentication_error, no retry    |
 * | token endpoint unreachable, timed out, 5xx or 429          | 503 credential_unavailable                     |
 * | 401 `UNAUTHENTICATED` after the one retry with a new token | 502 provider_authentication_error, no retry    |
 * | 403 `PERMISSION_DENIED`                                    | 403 naming the cause when Google names it: API |
 * |                                                            | not enabled, a missing IAM permission, an      |
 * |                                                            | unknown project; `x-should-retry: false`       |
 * | 404 `NOT_FOUND`                                            | 404 naming the model, location and project     |
 * | 429 `RESOURCE_EXHAUSTED`, 5xx, and everything else         | as mapUpstreamError maps them: status kept,    |
 * |                                                            | `retry-after` forwarded                        |
 *
 * Google's body is `{"error":{"code","message","status","details"}}`, sometimes inside an array.
 * Claude on Vertex can also respond with Anthropic's error body, which mapUpstreamError reads.
 */

const label = 'Google Vertex AI';
const maxMessageLength = 1_000;

interface GoogleErrorDetails {
  message: string | undefined;
  /** `PERMISSION_DENIED`, `NOT_FOUND` … */
  status: string | undefined;
  /** The `reason` of a `google.rpc.ErrorInfo` detail, such as `SERVICE_DISABLED`. */
  reason: string | undefined;
  /** The `metadata.permission` of that detail, such as `aiplatform.endpoints.predict`. */
  permission: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function parseGoogleError(body: string): GoogleErrorDetails {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : {};
  const info = (Array.isArray(error.details) ? error.details : []).find(
    (detail): detail is Record<string, unknown> => isRecord(detail) && textOf(detail.reason) !== undefined,
  );
  const metadata = info && isRecord(info.metadata) ? info.metadata : {};
  return {
    message: textOf(error.message),
    status: textOf(error.status),
    reason: textOf(info?.reason),
    permission: textOf(metadata.permission),
  };
}

function clean(message: string | undefined, secrets: Iterable<string>): string | undefined {
  if (message === undefined) return undefined;
  const scrubbed = scrubSecrets(message, secrets).trim();
  return scrubbed.length > maxMessageLength ? `${scrubbed.slice(0, maxMessageLength)}…` : scrubbed;
}

export interface VertexErrorInput extends Omit<UpstreamErrorInput, 'provider'> {
  /** The request's location, project and host, for the 403 and 404 messages. */
  target: VertexTarget;
  /** The model as sent upstream: a Claude id or `publisher/model`. */
  model: string;
}

/** Describes a 403 by the cause Google gives, in its ErrorInfo reason or, failing that, its message. */
function describePermissionDenied(details: GoogleErrorDetails, target: VertexTarget, model: string): string {
  const message = details.message ?? '';
  if (details.reason === 'SERVICE_DISABLED' || /has not been used in project|is disabled/i.test(message)) {
    return `the Vertex AI API (aiplatform.googleapis.com) is not enabled in project ${target.project}; enable it in the Google Cloud console for that project, wait a few minutes and retry`;
  }
  if (details.reason === 'CONSUMER_INVALID') {
    return `project ${target.project} does not exist or the service account cannot use it; check the provider key's project setting`;
  }
  const permission = details.permission ?? /Permission '([\w.]+)' denied/.exec(message)?.[1];
  if (details.reason === 'IAM_PERMISSION_DENIED' || permission !== undefined) {
    const missing = permission !== undefined ? `the permission ${permission}` : 'a required permission';
    return `the service account lacks ${missing} in project ${target.project}, or the model ${model} is not available to it in location ${target.location}; grant the service account the Vertex AI User role (roles/aiplatform.user), and for a partner model such as Claude enable it in Model Garden`;
  }
  return `the request for ${model} in location ${target.location} of project ${target.project} was denied`;
}

/** Maps a Vertex error response as the table at the top of this file describes. */
export function mapVertexError(input: VertexErrorInput): ProxyError {
  const secrets = [...(input.secrets ?? [])];
  const providerKeyId = input.providerKeyId ?? null;
  const details = parseGoogleError(input.body);
  const upstreamMessage = clean(details.message, secrets);
  const suffix = upstreamMessage !== undefined ? ` Google's message: ${upstreamMessage}` : '';

  if (input.status === 403) {
    return new ProxyError({
      status: 403,
      type: 'permission_error',
      code: 'upstream_error',
      message: `${label} denied the request: ${describePermissionDenied(details, input.target, input.model)}.${suffix}`,
      upstreamCode: details.reason ?? details.status ?? null,
      providerKeyId,
      headers: { 'x-should-retry': 'false' },
    });
  }

  if (input.status === 404) {
    return new ProxyError({
      status: 404,
      type: 'not_found_error',
      code: 'upstream_error',
      message:
        `${label} did not find the model ${input.model} in location ${input.target.location} of project ${input.target.project}. ` +
        `Check the model id (Claude ids carry a version, such as claude-sonnet-4-5@20250929) and that the model is offered in this location and enabled for the project.${suffix}`,
      upstreamCode: details.status ?? null,
      providerKeyId,
    });
  }

  return mapUpstreamError({ ...input, provider: 'VERTEX_AI', secrets });
}

/**
 * True when Vertex rejected the access token itself (401), the one case in which the caller
 * invalidates the token and retries once with a new one (see `sendWithVertexToken`).
 */
export function isAccessTokenRejected(status: number): boolean {
  return status === 401;
}

/** Maps a failed token request: a rejected account to 502 `provider_authentication_error`, anything else to 503 `credential_unavailable`. */
export function mapGoogleTokenError(error: GoogleTokenError, providerKeyId?: string | null): ProxyError {
  const keyName = providerKeyId ? ` of provider key ${providerKeyId}` : '';
  if (error.failure === 'credential_rejected') {
    return ProxyError.gateway(
      'provider_authentication_error',
      `${label} rejected the stored credential${keyName}: ${error.message} Update the provider key's service account JSON or use another key.`,
      { providerKeyId: providerKeyId ?? null, headers: { 'x-should-retry': 'false' } },
    );
  }
  return ProxyError.gateway(
    'credential_unavailable',
    `${label}: no access token could be obtained for the stored credential${keyName}: ${error.message} Retry later.`,
    { providerKeyId: providerKeyId ?? null },
  );
}
