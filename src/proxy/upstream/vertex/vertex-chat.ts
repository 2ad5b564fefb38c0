import { gatewayOnlyFields } from '../openai-compatible-adapter.js';
import { vertexChatCompletionsUrl, type VertexTarget } from './vertex-endpoints.js';

type Json = Record<string, unknown>;

export interface PreparedVertexChatRequest {
  url: URL;
  headers: Record<string, string>;
  body: Json;
  stream: boolean;
}

/**
 * Adapts an OpenAI chat completions body for Vertex's OpenAI-compatible endpoint: `model` becomes
 * the `publisher/model` from `dispatchVertexModel`, gateway-only fields (`tags`) are removed, and
 * the access token goes in `Authorization: Bearer`. Other fields pass unchanged.
 *
 * NOTE: unverified: whether Vertex accepts `stream_options.include_usage`; Gemini is reported to
 * send usage in its last chunk either way, so read usage from whichever chunk carries it.
 */
export function prepareVertexChatRequest(options: {
  target: VertexTarget;
  /** `publisher/model`, such as `google/gemini-2.5-flash`. */
  model: string;
  clientBody: Json;
  accessToken: string;
}): PreparedVertexChatRequest {
  const body: Json = { ...options.clientBody, model: options.model };
  for (const field of gatewayOnlyFields) delete body[field];
  return {
    url: vertexChatCompletionsUrl(options.target),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.accessToken}` },
    body,
    stream: body.stream === true,
  };
}
