import { anthropicCompatibleBaseUrl, parsedUrl, type AnthropicEndpoint } from './endpoints.js';

export type { AnthropicEndpoint };
import { gatewayOnlyFields } from './openai-compatible-adapter.js';

type Json = Record<string, unknown>;

/** Sent when the client names no version; the API requires one on every request. */
export const defaultAnthropicVersion = '2023-06-01';

export interface PreparedAnthropicRequest {
  url: URL;
  headers: Record<string, string>;
  body: Json;
}

/**
 * Adapts an Anthropic Messages body (or a count_tokens body) for Anthropic's own API, or for the
 * Anthropic-compatible endpoints of DeepSeek and zAI: the upstream's model id, no gateway-only fields, the key as `x-api-key`, and the client's
 * `anthropic-version` and `anthropic-beta` forwarded (the version is not pinned, since newer SDKs
 * send newer versions).
 */
export function prepareAnthropicRequest(options: {
  operation: 'messages' | 'count_tokens';
  endpoint: AnthropicEndpoint;
  model: string;
  clientBody: Json;
  clientHeaders: { anthropicVersion?: string | undefined; anthropicBeta?: string | undefined };
  apiKey: string;
}): PreparedAnthropicRequest {
  const body: Json = { ...options.clientBody, model: options.model };
  for (const field of gatewayOnlyFields) delete body[field];
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': options.clientHeaders.anthropicVersion ?? defaultAnthropicVersion,
    'x-api-key': options.apiKey,
  };
  if (options.clientHeaders.anthropicBeta) headers['anthropic-beta'] = options.clientHeaders.anthropicBeta;
  const path = options.operation === 'messages' ? '/v1/messages' : '/v1/messages/count_tokens';
  return { url: parsedUrl(`${anthropicCompatibleBaseUrl(options.endpoint)}${path}`), headers, body };
}
