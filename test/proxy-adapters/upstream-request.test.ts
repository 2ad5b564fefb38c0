import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/providers/providers.js';
import type { ClientDialect } from '../../src/proxy/errors.js';
import {
  buildUpstreamRequest,
  chooseUpstreamApi,
  type ProxyOperation,
  type UpstreamApi,
  type UpstreamRequestInput,
} from '../../src/proxy/upstream-request.js';
import { BedrockSignerCache } from '../../src/proxy/upstream/bedrock/bedrock-signer.js';
import type { VertexTokenProvider } from '../../src/proxy/upstream/vertex/vertex-token-provider.js';
import { captureLogs } from '../support/log-capture.js';

interface ApiCase {
  provider: ProviderId;
  model: string;
  dialect: ClientDialect;
  operation: ProxyOperation;
  expected: UpstreamApi | undefined;
}

const apiCases: ApiCase[] = [
  { provider: 'ANTHROPIC', model: 'claude-sonnet-4-5', dialect: 'openai', operation: 'chat', expected: 'anthropic-messages' },
  { provider: 'ANTHROPIC', model: 'claude-sonnet-4-5', dialect: 'anthropic', operation: 'count_tokens', expected: 'anthropic-messages' },
  { provider: 'OPENAI', model: 'gpt-4o', dialect: 'anthropic', operation: 'messages', expected: 'openai-chat' },
  { provider: 'OPENAI', model: 'gpt-4o', dialect: 'anthropic', operation: 'count_tokens', expected: undefined },
  { provider: 'MISTRAL', model: 'mistral-large-latest', dialect: 'anthropic', operation: 'messages', expected: 'openai-chat' },
  { provider: 'XAI', model: 'grok-4', dialect: 'anthropic', operation: 'messages', expected: 'openai-chat' },
  { provider: 'DEEPSEEK', model: 'deepseek-chat', dialect: 'anthropic', operation: 'messages', expected: 'anthropic-messages' },
  { provider: 'DEEPSEEK', model: 'deepseek-chat', dialect: 'openai', operation: 'chat', expected: 'openai-chat' },
  { provider: 'ZAI', model: 'glm-4.6', dialect: 'anthropic', operation: 'messages', expected: 'anthropic-messages' },
  { provider: 'ZAI', model: 'glm-4.6', dialect: 'openai', operation: 'chat', expected: 'openai-chat' },
  { provider: 'VERTEX_AI', model: 'claude-sonnet-4-5@20250929', dialect: 'openai', operation: 'chat', expected: 'anthropic-messages' },
  { provider: 'VERTEX_AI', model: 'claude-sonnet-4-5@20250929', dialect: 'anthropic', operation: 'count_tokens', expected: 'anthropic-messages' },
  { provider: 'VERTEX_AI', model: 'gemini-2.5-flash', dialect: 'anthropic', operation: 'messages', expected: 'openai-chat' },
  { provider: 'VERTEX_AI', model: 'gemini-2.5-flash', dialect: 'anthropic', operation: 'count_tokens', expected: undefined },
  { provider: 'BEDROCK', model: 'anthropic.claude-sonnet-4-5-20250929-v1:0', dialect: 'openai', operation: 'chat', expected: 'bedrock' },
  { provider: 'BEDROCK', model: 'anthropic.claude-sonnet-4-5-20250929-v1:0', dialect: 'anthropic', operation: 'count_tokens', expected: undefined },
];

describe('upstream API choice', () => {
  it.each(apiCases)('$provider $model for $dialect $operation', ({ provider, model, dialect, operation, expected }) => {
    expect(chooseUpstreamApi(provider, model, dialect, operation)).toBe(expected);
  });
});

function anthropicClientInput(provider: ProviderId, model: string): UpstreamRequestInput {
  return {
    provider,
    model,
    dialect: 'anthropic',
    operation: 'messages',
    api: 'openai-chat',
    body: {
      model: `${provider.toLowerCase()}/${model}`,
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [{ role: 'user', content: 'Hi' }],
    },
    requestHeaders: {},
    credentials: { kind: 'API_KEY', apiKey: 'sk-test-0123456789' },
    settings: {},
    credentialsKey: { organizationId: 'organization', providerKeyId: 'key', credentialsVersion: 1 },
    catalogEntry: undefined,
    stream: false,
    gatewayHeaders: {},
    providerKeyLabel: null,
    logger: captureLogs().logger,
    requestId: 'request-under-test',
  };
}

const services = { vertexTokens: {} as VertexTokenProvider, bedrockSigners: new BedrockSignerCache() };

describe('reasoning from Anthropic clients', () => {
  const cases: Array<{ provider: ProviderId; model: string; sendsEffort: boolean }> = [
    { provider: 'OPENAI', model: 'o3', sendsEffort: true },
    { provider: 'OPENAI', model: 'gpt-5', sendsEffort: true },
    { provider: 'OPENAI', model: 'gpt-4o', sendsEffort: false },
    { provider: 'XAI', model: 'grok-3-mini', sendsEffort: true },
    { provider: 'XAI', model: 'grok-4', sendsEffort: false },
    { provider: 'MISTRAL', model: 'magistral-medium-latest', sendsEffort: true },
    { provider: 'MISTRAL', model: 'mistral-large-latest', sendsEffort: false },
  ];

  it.each(cases)('$provider $model sends reasoning_effort: $sendsEffort', async ({ provider, model, sendsEffort }) => {
    const request = await buildUpstreamRequest(anthropicClientInput(provider, model), services);
    const body = JSON.parse(request.body) as Record<string, unknown>;

    expect('reasoning_effort' in body).toBe(sendsEffort);
  });
});
