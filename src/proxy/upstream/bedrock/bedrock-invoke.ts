import { gatewayOnlyFields } from '../openai-compatible-adapter.js';
import { bedrockRuntimeUrl } from './bedrock-endpoints.js';

type Json = Record<string, unknown>;

/** The `anthropic_version` that InvokeModel takes for Claude, in the body instead of a header. */
export const bedrockAnthropicVersion = 'bedrock-2023-05-31';

export interface PreparedBedrockInvokeRequest {
  url: URL;
  /** Headers to sign and send, before the signer adds its own. */
  headers: Record<string, string>;
  /** The serialized body: sign and send these exact characters. */
  body: string;
}

/** Splits an `anthropic-beta` header (`a,b` or `a, b`) into its beta names. */
function betaNames(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
}

/**
 * Builds an InvokeModel or InvokeModelWithResponseStream request from an Anthropic Messages body,
 * the way the Anthropic Bedrock SDK does. `anthropic_version` goes into the body, and `model` leaves
 * it for the URL. `stream` leaves it too, because the path chooses streaming. The `anthropic-beta`
 * header becomes the body's `anthropic_beta` array, merged with any the body already has.
 * Gateway-only fields such as `tags` are removed. The client's `anthropic-version` header is not
 * forwarded, because Bedrock takes only its own version.
 */
export function prepareBedrockInvokeRequest(options: {
  region: string;
  /** The model id as written after `bedrock/`. */
  modelId: string;
  stream: boolean;
  clientBody: Json;
  anthropicBeta?: string | undefined;
}): PreparedBedrockInvokeRequest {
  const body: Json = { anthropic_version: bedrockAnthropicVersion, ...options.clientBody };
  body.anthropic_version = bedrockAnthropicVersion;
  delete body.model;
  delete body.stream;
  for (const field of gatewayOnlyFields) delete body[field];

  const bodyBetas = Array.isArray(body.anthropic_beta) ? body.anthropic_beta.filter((beta): beta is string => typeof beta === 'string') : [];
  const betas = [...new Set([...bodyBetas, ...betaNames(options.anthropicBeta)])];
  if (betas.length > 0) body.anthropic_beta = betas;
  else delete body.anthropic_beta;

  // InvokeModel's `accept` names the media type of the model's response body. The stream has none
  // of its own, so like @aws-sdk/client-bedrock-runtime it sends no Accept header.
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (!options.stream) headers.accept = 'application/json';
  return {
    url: bedrockRuntimeUrl(options.region, options.modelId, options.stream ? 'invoke-with-response-stream' : 'invoke'),
    headers,
    body: JSON.stringify(body),
  };
}
