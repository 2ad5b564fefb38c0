/**
 * Builds the upstream request for one proxied call. It chooses the upstream API that serves the
 * client's format for the provider. A same-format body passes through with the provider's field
 * table only, and a cross-format body goes through the internal representation. The URL, headers
 * and response handling follow from that choice.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials, VertexServiceAccount } from '../features/provider-keys/credentials.js';
import type { Logger } from '../logger.js';
import type { CatalogModel } from '../models/catalog.js';
import type { ProviderId } from '../providers/providers.js';
import type { ClientDialect } from './errors.js';
import { ProxyError } from './errors.js';
import type { ForwardRequest, ResponseHandling } from './forward.js';
import { openAiHandling, openAiUsageReader } from './response-handling.js';
import { parseAnthropicRequest } from './translation/anthropic-messages/request.js';
import { renderOpenAiChatRequest } from './translation/openai-chat/request.js';
import { openAiToAnthropicHandling } from './translation/translated-handling.js';
import { prepareAnthropicRequest, type AnthropicEndpoint } from './upstream/anthropic-adapter.js';
import { anthropicBodyFor, clientAnthropicHeadersOf, clientModelOf, forwardRequestOf, translationHooksOf } from './upstream-request-parts.js';
import { buildBedrockRequest } from './bedrock-request.js';
import type { BedrockSignerCache } from './upstream/bedrock/bedrock-signer.js';
import { chatCompletionsUrl, type OpenAiCompatibleProvider } from './upstream/endpoints.js';
import { prepareOpenAiCompatibleRequest, type OpenAiResponseRewriter } from './upstream/openai-compatible-adapter.js';
import { GoogleTokenError } from './upstream/vertex/google-access-token.js';
import { prepareVertexChatRequest } from './upstream/vertex/vertex-chat.js';
import { prepareVertexClaudeRequest } from './upstream/vertex/vertex-claude.js';
import { dispatchVertexModel } from './upstream/vertex/vertex-dispatch.js';
import { resolveVertexTarget, vertexLocationHeader } from './upstream/vertex/vertex-endpoints.js';
import { mapGoogleTokenError, mapVertexError } from './upstream/vertex/vertex-errors.js';
import type { VertexTokenKey, VertexTokenProvider } from './upstream/vertex/vertex-token-provider.js';

type Json = Record<string, unknown>;

/** The wire format of the upstream API that serves a call; Bedrock chooses between its own two later. */
export type UpstreamApi = 'openai-chat' | 'anthropic-messages' | 'bedrock';

/** The client operation: chat completions, messages, or count_tokens. */
export type ProxyOperation = 'chat' | 'messages' | 'count_tokens';

/**
 * Chooses the upstream API. OpenAI, Mistral and xAI speak OpenAI's format only (xAI's Anthropic
 * endpoint is deprecated). DeepSeek and zAI also have Anthropic-compatible endpoints, which serve
 * Anthropic-format clients natively, so nothing is translated for them. Vertex serves Claude with
 * Anthropic's format and every other model with OpenAI's (see vertex-dispatch.ts). Returns undefined
 * when the provider cannot serve the operation at all.
 */
export function chooseUpstreamApi(
  provider: ProviderId,
  model: string,
  dialect: ClientDialect,
  operation: ProxyOperation,
): UpstreamApi | undefined {
  if (provider === 'VERTEX_AI') {
    const api = dispatchVertexModel(model).endpoint === 'anthropic' ? 'anthropic-messages' : 'openai-chat';
    return operation === 'count_tokens' && api !== 'anthropic-messages' ? undefined : api;
  }
  if (operation === 'count_tokens') return provider === 'ANTHROPIC' ? 'anthropic-messages' : undefined;
  if (provider === 'BEDROCK') return 'bedrock';
  switch (provider) {
    case 'ANTHROPIC':
      return 'anthropic-messages';
    case 'OPENAI':
    case 'MISTRAL':
    case 'XAI':
      return 'openai-chat';
    case 'DEEPSEEK':
    case 'ZAI':
      return dialect === 'anthropic' ? 'anthropic-messages' : 'openai-chat';
    default:
      return undefined;
  }
}

export interface UpstreamRequestInput {
  provider: ProviderId;
  /** The upstream's model id, without the provider prefix. */
  model: string;
  dialect: ClientDialect;
  operation: ProxyOperation;
  api: UpstreamApi;
  /** The client's parsed body. */
  body: Json;
  /** The client's request headers, for the headers forwarded up and the per-request location or region. */
  requestHeaders: IncomingHttpHeaders;
  credentials: Credentials;
  settings: Record<string, unknown>;
  /** Identifies the stored credentials, for caches of derived secrets such as Vertex tokens. */
  credentialsKey: { organizationId: string; providerKeyId: string; credentialsVersion: number };
  catalogEntry: CatalogModel | undefined;
  stream: boolean;
  gatewayHeaders: Record<string, string>;
  providerKeyLabel: string | null;
  logger: Logger;
  /** The gateway's id of the request, for the log lines written while building or relaying it. */
  requestId: string;
}

export interface UpstreamServices {
  vertexTokens: VertexTokenProvider;
  bedrockSigners: BedrockSignerCache;
}

export async function buildUpstreamRequest(input: UpstreamRequestInput, services: UpstreamServices): Promise<ForwardRequest> {
  if (input.provider === 'VERTEX_AI') return buildVertexRequest(input, services.vertexTokens);
  if (input.provider === 'BEDROCK') return buildBedrockRequest(input, services.bedrockSigners);
  if (input.credentials.kind !== 'API_KEY') {
    throw ProxyError.gateway('internal_error', `The ${input.provider} credential is not an API key.`);
  }
  return buildApiKeyRequest(input, input.credentials.apiKey);
}

function buildApiKeyRequest(input: UpstreamRequestInput, apiKey: string): ForwardRequest {
  const { provider } = input;
  const secrets = [apiKey];

  if (input.api === 'openai-chat') {
    const openAiProvider = provider as OpenAiCompatibleProvider;
    const url = chatCompletionsUrl(openAiProvider, input.settings);
    const headers = openAiHeaders(provider, apiKey, input.settings);
    if (input.dialect === 'openai') {
      const prepared = prepareOpenAiCompatibleRequest(openAiProvider, input.model, input.body);
      return forwardRequestOf(input, secrets, { url, headers, body: JSON.stringify(prepared.body), handling: openAiHandling(provider, prepared.rewriter, secrets) });
    }
    const request = parseAnthropicRequest(input.body, input.model);
    const rendered = renderOpenAiChatRequest(request, { provider: openAiProvider });
    // Claude Code and other Anthropic clients turn thinking on for every model they know. A model
    // without reasoning would reject `reasoning_effort`, and it does not think either way.
    if (!takesReasoningEffort(openAiProvider, input.model)) delete rendered.reasoning_effort;
    // The Anthropic stream needs the input tokens, which OpenAI-format upstreams send only on request.
    if (request.stream) rendered.stream_options = { include_usage: true };
    const prepared = prepareOpenAiCompatibleRequest(openAiProvider, input.model, rendered);
    const { rewriter } = prepared;
    return forwardRequestOf(input, secrets, {
      url,
      headers,
      body: JSON.stringify(prepared.body),
      handling: openAiToAnthropicHandling({
        hooks: translationHooksOf(input, secrets),
        model: clientModelOf(input),
        readUsage: openAiUsageReader(provider),
        rewriteBody: rewriter.rewritesBody ? (body) => rewriter.rewriteBody(body) : undefined,
        rewriteChunk: rewriter.active ? (chunk) => rewriter.rewriteChunk(chunk) : undefined,
      }),
    });
  }

  const { body, handling } = anthropicBodyFor(input, secrets);
  const prepared = prepareAnthropicRequest({
    operation: input.operation === 'count_tokens' ? 'count_tokens' : 'messages',
    endpoint: anthropicEndpointOf(provider, input.settings),
    model: input.model,
    clientBody: body,
    clientHeaders: input.dialect === 'anthropic' ? clientAnthropicHeadersOf(input) : {},
    apiKey,
  });
  return forwardRequestOf(input, secrets, { url: prepared.url, headers: prepared.headers, body: JSON.stringify(prepared.body), handling });
}

/**
 * Vertex AI: an access token minted from the service account (cached per provider key), Claude
 * through rawPredict with Anthropic's format, every other model through the OpenAI-compatible
 * endpoint. A 401 gets one fresh token and one retry.
 */
async function buildVertexRequest(input: UpstreamRequestInput, tokens: VertexTokenProvider): Promise<ForwardRequest> {
  if (input.credentials.kind !== 'VERTEX_SERVICE_ACCOUNT') {
    throw ProxyError.gateway('internal_error', 'The Vertex AI credential is not a service account.');
  }
  const account = input.credentials.serviceAccount;
  const target = resolveVertexTarget({ settings: input.settings, serviceAccount: account, locationHeader: input.requestHeaders[vertexLocationHeader] });
  const route = dispatchVertexModel(input.model);
  const key = input.credentialsKey;
  const accessToken = await vertexToken(tokens, key, account, input.providerKeyLabel);
  // Tokens minted later for a retry are scrubbed too, through this same array.
  const secrets = [account.private_key, accessToken];
  const reauthorize = async () => {
    tokens.invalidate(key, accessToken);
    const fresh = await vertexToken(tokens, key, account, input.providerKeyLabel);
    secrets.push(fresh);
    return { authorization: `Bearer ${fresh}` };
  };
  const mapError = (response: { status: number; headers: IncomingHttpHeaders; body: string }) =>
    mapVertexError({ ...response, providerKeyId: input.providerKeyLabel, secrets, target, model: route.model });

  if (route.endpoint === 'anthropic') {
    const { body, handling } = anthropicBodyFor(input, secrets);
    const prepared = prepareVertexClaudeRequest({
      operation: input.operation === 'count_tokens' ? 'count_tokens' : 'messages',
      target,
      model: route.model,
      clientBody: body,
      clientHeaders: { anthropicBeta: input.dialect === 'anthropic' ? clientAnthropicHeadersOf(input).anthropicBeta : undefined },
      accessToken,
    });
    return forwardRequestOf(input, secrets, { url: prepared.url, headers: prepared.headers, body: JSON.stringify(prepared.body), handling, reauthorize, mapError, region: target.location });
  }

  let body = input.body;
  let handling: ResponseHandling = openAiHandling('VERTEX_AI', passThroughRewriter, secrets);
  if (input.dialect === 'anthropic') {
    const request = parseAnthropicRequest(input.body, route.model);
    body = renderOpenAiChatRequest(request, { provider: 'VERTEX' });
    // NOTE: unverified: Gemini's compatibility layer is reported to send usage in its last chunk
    // without stream_options, which it may not accept, so none is requested.
    handling = openAiToAnthropicHandling({ hooks: translationHooksOf(input, secrets), model: clientModelOf(input), readUsage: openAiUsageReader('VERTEX_AI') });
  }
  const prepared = prepareVertexChatRequest({ target, model: route.model, clientBody: body, accessToken });
  return forwardRequestOf(input, secrets, { url: prepared.url, headers: prepared.headers, body: JSON.stringify(prepared.body), handling, reauthorize, mapError, region: target.location });
}

async function vertexToken(tokens: VertexTokenProvider, key: VertexTokenKey, account: VertexServiceAccount, providerKeyLabel: string | null): Promise<string> {
  try {
    return await tokens.getAccessToken(key, account);
  } catch (error) {
    if (error instanceof GoogleTokenError) throw mapGoogleTokenError(error, providerKeyLabel);
    throw error;
  }
}

/** The rewriter of a same-format response that needs no rewriting. */
const passThroughRewriter: OpenAiResponseRewriter = {
  active: false,
  rewritesBody: false,
  rewriteBody: () => undefined,
  rewriteChunk: () => true,
};

/**
 * Models known to take `reasoning_effort`: OpenAI's o-series and GPT-5 family, xAI's grok-3-mini
 * and grok-4.3 (its other models return 400), Mistral's Magistral. DeepSeek and zAI switch thinking with their
 * own field, which every model of theirs accepts.
 * NOTE: unverified for xAI and Mistral beyond the models named in their documentation.
 */
const reasoningModels: Partial<Record<OpenAiCompatibleProvider, RegExp>> = {
  OPENAI: /^(o\d|gpt-5)/,
  XAI: /^grok-(3-mini|4\.3)/,
  MISTRAL: /^magistral/,
};

function takesReasoningEffort(provider: OpenAiCompatibleProvider, model: string): boolean {
  const pattern = reasoningModels[provider];
  return pattern === undefined || pattern.test(model);
}

function openAiHeaders(provider: ProviderId, apiKey: string, settings: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  if (provider === 'OPENAI') {
    if (typeof settings.organizationId === 'string') headers['openai-organization'] = settings.organizationId;
    if (typeof settings.projectId === 'string') headers['openai-project'] = settings.projectId;
  }
  return headers;
}

function anthropicEndpointOf(provider: ProviderId, settings: Record<string, unknown>): AnthropicEndpoint {
  if (provider === 'ANTHROPIC') return { kind: 'anthropic' };
  if (provider === 'DEEPSEEK') return { kind: 'deepseek' };
  if (provider === 'ZAI') return { kind: 'zai', endpoint: (settings.endpoint as 'INTERNATIONAL' | 'CODING_PLAN' | 'CHINA' | undefined) ?? 'INTERNATIONAL' };
  throw ProxyError.gateway('internal_error', `${provider} has no Anthropic-compatible endpoint.`);
}
