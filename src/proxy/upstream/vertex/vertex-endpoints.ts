import type { VertexServiceAccount } from '../../../features/provider-keys/credentials.js';
import { ProxyError } from '../../errors.js';

/**
 * Vertex AI URLs. The host comes from the location, chosen by code from a validated value, so no
 * request can name another host:
 * - `global` → `aiplatform.googleapis.com`;
 * - the multi-regions `us` and `eu` → `aiplatform.us.rep.googleapis.com`, `aiplatform.eu.rep.googleapis.com`
 *   (as @anthropic-ai/vertex-sdk 1.1.5 builds them in client.ts);
 * - a region such as `us-central1` → `us-central1-aiplatform.googleapis.com`.
 * Every path starts with `/v1/projects/{project}/locations/{location}`.
 */

/** Request header that picks the location for one request, overriding the provider key's setting. */
export const vertexLocationHeader = 'x-keyroute-vertex-location';

/**
 * `global`, a multi-region, or a region `{area}-{direction}{number}` such as `us-central1` or
 * `northamerica-northeast1`. The same shape that the provider key's location setting accepts.
 */
export const vertexLocationPattern = /^(global|us|eu|[a-z]+-[a-z]+\d{1,2})$/;

/** The location, project and host of one Vertex request. */
export interface VertexTarget {
  location: string;
  project: string;
  host: string;
}

export function vertexHost(location: string): string {
  if (location === 'global') return 'aiplatform.googleapis.com';
  // NOTE: unverified: that the OpenAI-compatible endpoint is also served on the multi-region
  // hosts. The vertex-sdk uses them for the Claude paths.
  if (location === 'us' || location === 'eu') return `aiplatform.${location}.rep.googleapis.com`;
  return `${location}-aiplatform.googleapis.com`;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Chooses where a request goes. Location: the `X-Keyroute-Vertex-Location` header, else the key's
 * location setting, else `global`. Project: the key's project setting, else the service
 * account's `project_id`. Throws a 400 ProxyError for a header that is not a location.
 */
export function resolveVertexTarget(options: {
  settings: { location?: unknown; projectId?: unknown };
  serviceAccount: VertexServiceAccount;
  locationHeader: string | string[] | undefined;
}): VertexTarget {
  const requested = headerText(options.locationHeader);
  let location: string;
  if (requested !== undefined) {
    location = requested.trim();
    if (!vertexLocationPattern.test(location)) {
      throw ProxyError.gateway(
        'invalid_request_error',
        `The X-Keyroute-Vertex-Location header ${JSON.stringify(location.slice(0, 64))} is not a Vertex AI location; send global, us, eu or a region such as us-central1, or omit the header to use the provider key's location.`,
        { param: vertexLocationHeader },
      );
    }
  } else {
    // Settings were validated against the same pattern when they were saved.
    location = typeof options.settings.location === 'string' ? options.settings.location : 'global';
  }
  const project = typeof options.settings.projectId === 'string' ? options.settings.projectId : options.serviceAccount.project_id;
  return { location, project, host: vertexHost(location) };
}

/**
 * Percent-encodes one path segment, leaving the characters RFC 3986 section 3.3 allows in a
 * segment (`@` and `:` included, since model ids carry `@date`). Rejects `.` and `..`, which would
 * move the request to another resource.
 */
export function encodePathSegment(value: string): string {
  if (value === '' || value === '.' || value === '..') {
    throw new RangeError(`${JSON.stringify(value)} cannot be a URL path segment.`);
  }
  return value.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@]+/g, encodeURIComponent);
}

/** Returns `https://{host}/v1/projects/{project}/locations/{location}`, the prefix of every Vertex URL here. */
export function vertexLocationUrl(target: VertexTarget): string {
  return `https://${target.host}/v1/projects/${encodePathSegment(target.project)}/locations/${encodePathSegment(target.location)}`;
}

/**
 * Builds the URL of the OpenAI-compatible chat completions endpoint, which serves Gemini and
 * Model-as-a-Service partner models named `publisher/model` in the body. The path follows Google's
 * v1 REST reference of `projects.locations.endpoints.chat.completions`, with the endpoint id
 * `openapi` that Google's guide "Call Vertex AI models by using the OpenAI library" uses.
 */
export function vertexChatCompletionsUrl(target: VertexTarget): URL {
  return new URL(`${vertexLocationUrl(target)}/endpoints/openapi/chat/completions`);
}

/** Builds Claude's Messages URL: `:rawPredict` for a complete response, `:streamRawPredict` for SSE. */
export function vertexClaudeUrl(target: VertexTarget, model: string, stream: boolean): URL {
  const method = stream ? 'streamRawPredict' : 'rawPredict';
  return new URL(`${vertexLocationUrl(target)}/publishers/anthropic/models/${encodePathSegment(model)}:${method}`);
}

/** Builds Claude's token counting URL. The model goes in the body (vertex-sdk 1.1.5 client.ts). */
export function vertexClaudeCountTokensUrl(target: VertexTarget): URL {
  return new URL(`${vertexLocationUrl(target)}/publishers/anthropic/models/count-tokens:rawPredict`);
}

/** Builds the URL of Gemini's native token counting method, which generates nothing and costs nothing. */
export function vertexGeminiCountTokensUrl(target: VertexTarget, model: string): URL {
  return new URL(`${vertexLocationUrl(target)}/publishers/google/models/${encodePathSegment(model)}:countTokens`);
}
