import { gatewayOnlyFields } from '../openai-compatible-adapter.js';
import { vertexClaudeCountTokensUrl, vertexClaudeUrl, type VertexTarget } from './vertex-endpoints.js';

type Json = Record<string, unknown>;

/**
 * The API version Claude on Vertex requires in the body. Anthropic's "Claude on Vertex AI" page
 * states that `anthropic_version` goes in the request body instead of a header and must be
 * `vertex-2023-10-16`.
 *
 * NOTE: @anthropic-ai/vertex-sdk 1.1.5 instead copies its `anthropic-version` header (`2026-10-21`
 * with @anthropic-ai/sdk 1.17) into the body when the body has none. Which values Vertex accepts
 * besides the documented one is unverified, so the gateway sends the documented one.
 */
export const vertexAnthropicVersion = 'vertex-2023-10-16';

export interface PreparedVertexClaudeRequest {
  url: URL;
  headers: Record<string, string>;
  body: Json;
  /** True for `:streamRawPredict`, whose response is Anthropic's SSE stream. */
  stream: boolean;
}

/**
 * Adapts an Anthropic Messages or count_tokens body for Claude on Vertex, as
 * @anthropic-ai/vertex-sdk 1.1.5 does in client.ts:
 * - messages: `model` leaves the body for the URL, `stream: true` picks `:streamRawPredict` and
 *   stays in the body, else `:rawPredict`;
 * - count_tokens: `count-tokens:rawPredict`, with `model` kept in the body because the URL names none;
 * - both: `anthropic_version` in the body, no `anthropic-version` header, the client's
 *   `anthropic-beta` forwarded as a header, the access token as `Authorization: Bearer`,
 *   and gateway-only fields (`tags`) removed.
 */
export function prepareVertexClaudeRequest(options: {
  operation: 'messages' | 'count_tokens';
  target: VertexTarget;
  /** The Vertex model id from `dispatchVertexModel`, such as `claude-sonnet-4-5@20250929`. */
  model: string;
  clientBody: Json;
  clientHeaders: { anthropicBeta?: string | undefined };
  accessToken: string;
}): PreparedVertexClaudeRequest {
  const body: Json = { ...options.clientBody };
  for (const field of gatewayOnlyFields) delete body[field];
  // The documented value replaces any value the client sent, because it is the only one known to work on Vertex.
  body.anthropic_version = vertexAnthropicVersion;

  let url: URL;
  let stream = false;
  if (options.operation === 'count_tokens') {
    body.model = options.model;
    url = vertexClaudeCountTokensUrl(options.target);
  } else {
    delete body.model;
    stream = body.stream === true;
    url = vertexClaudeUrl(options.target, options.model, stream);
  }

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${options.accessToken}`,
  };
  if (options.clientHeaders.anthropicBeta) headers['anthropic-beta'] = options.clientHeaders.anthropicBeta;
  return { url, headers, body, stream };
}
