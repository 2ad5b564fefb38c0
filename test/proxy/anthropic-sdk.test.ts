import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../support/fake-upstreams/fake-server.js';
import {
  anthropicClient,
  clientAuthHeaders,
  createTenant,
  lastRequest,
  startProxyContext,
  type CreatedGatewayKey,
  type ProxyTestContext,
} from './helpers.js';

// The official @anthropic-ai/sdk against Anthropic through the proxy. The fake accepts only the
// provider key's decrypted secret in x-api-key, with the real Host and without the client's
// Authorization header (where this SDK sends the gateway key) or the gateway's own key headers.

const tools: Tool[] = [
  {
    name: 'get_weather',
    description: 'Current weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];
const weatherInput = { city: 'Paris', unit: 'celsius' };
const messages: MessageParam[] = [{ role: 'user', content: 'What is the weather like?' }];
const system = 'You answer briefly.';

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;
let client: Anthropic;

beforeAll(async () => {
  context = await startProxyContext();
  gatewayKey = (await createTenant(context, ['ANTHROPIC'])).gatewayKey;
  client = anthropicClient(context.server, gatewayKey.secret);
});

afterAll(async () => {
  await context?.close();
});

function upstreamBody(): Record<string, unknown> {
  return lastRequest(context.fakes.anthropic).body as Record<string, unknown>;
}

function expectUpstreamCredentials(): void {
  const request = lastRequest(context.fakes.anthropic);
  expect(request.rejection).toBeUndefined();
  expect(request.headers.host).toBe('api.anthropic.com');
  expect(request.headers['x-api-key']).toBe(context.secrets.ANTHROPIC);
  expect(request.headers.authorization).toBeUndefined();
  for (const header of clientAuthHeaders) expect(request.headers[header]).toBeUndefined();
}

describe('Anthropic through the @anthropic-ai/sdk', () => {
  it('message', async () => {
    const message = await client.messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 100, system, messages });

    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the fake Anthropic.' }]);
    expect(message.stop_reason).toBe('end_turn');
    expectUpstreamCredentials();
    const request = lastRequest(context.fakes.anthropic);
    expect(request.path).toBe('/v1/messages');
    expect(upstreamBody().model).toBe('claude-sonnet-4-5');
    expect(upstreamBody().system).toBe(system);
    expect(message.usage.input_tokens).toBe(countTokens([system, messages, undefined]));
    expect(message.usage.output_tokens).toBe(countTokens('Hello from the fake Anthropic.'));
  });

  it('anthropic-version of the SDK forwarded', async () => {
    let sentVersion: string | null = null;
    const spying = anthropicClient(context.server, gatewayKey.secret, {
      fetch: async (url, init) => {
        sentVersion = new Headers(init?.headers).get('anthropic-version');
        return fetch(url, init);
      },
    });
    await spying.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });

    expect(sentVersion).not.toBeNull();
    expect(lastRequest(context.fakes.anthropic).headers['anthropic-version']).toBe(sentVersion);
  });

  it('stream finalMessage', async () => {
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, system, messages });
    let deltas = 0;
    stream.on('text', () => {
      deltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    expect(final.stop_reason).toBe('end_turn');
    expect(deltas).toBe(5);
    expect(final.usage.input_tokens).toBe(countTokens([system, messages, undefined]));
    expect(final.usage.output_tokens).toBe(countTokens('Hello from the fake Anthropic.'));
    expect(upstreamBody().stream).toBe(true);
    expectUpstreamCredentials();
  });

  it('tool use', async () => {
    context.fakes.anthropic.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherInput }] } });
    const message = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages, tools });

    expect(message.stop_reason).toBe('tool_use');
    const block = message.content[0] as ToolUseBlock | undefined;
    expect(block?.type).toBe('tool_use');
    expect(block?.name).toBe('get_weather');
    expect(block?.input).toEqual(weatherInput);
    expect(upstreamBody().tools).toEqual(tools);
  });

  it('streamed tool use', async () => {
    context.fakes.anthropic.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherInput }] } });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages, tools });
    let jsonDeltas = 0;
    stream.on('inputJson', () => {
      jsonDeltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.stop_reason).toBe('tool_use');
    const block = final.content[0] as ToolUseBlock | undefined;
    expect(block?.type).toBe('tool_use');
    expect(block?.name).toBe('get_weather');
    expect(block?.input).toEqual(weatherInput);
    expect(jsonDeltas).toBeGreaterThan(1);
  });

  it('count_tokens', async () => {
    const count = await client.messages.countTokens({ model: 'claude-sonnet-4-5', system, messages, tools });

    expect(lastRequest(context.fakes.anthropic).path).toBe('/v1/messages/count_tokens');
    expect(count.input_tokens).toBe(countTokens([system, messages, tools]));
    expect(upstreamBody().model).toBe('claude-sonnet-4-5');
    expectUpstreamCredentials();
  });

  it('beta route with ?beta=true', async () => {
    const urls: string[] = [];
    const spying = anthropicClient(context.server, gatewayKey.secret, {
      fetch: async (url, init) => {
        urls.push(String(url));
        return fetch(url, init);
      },
    });
    // Claude Code calls /v1/messages?beta=true, but this SDK version does not add the query itself.
    const message = await spying.beta.messages.create(
      { model: 'claude-sonnet-4-5', max_tokens: 100, messages, betas: ['token-efficient-tools-2025-02-19'] },
      { query: { beta: 'true' } },
    );

    expect(urls).toEqual([`${context.server.baseUrl}/v1/messages?beta=true`]);
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    expect(lastRequest(context.fakes.anthropic).path).toBe('/v1/messages');
    expect(lastRequest(context.fakes.anthropic).headers['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
  });

  it('gateway key in x-api-key never reaches Anthropic', async () => {
    const withApiKeyHeader = new Anthropic({
      apiKey: null,
      authToken: null,
      baseURL: context.server.baseUrl,
      maxRetries: 0,
      defaultHeaders: { 'x-api-key': gatewayKey.secret },
    });
    const message = await withApiKeyHeader.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });

    expect(message.content[0]).toMatchObject({ type: 'text' });
    expectUpstreamCredentials();
  });
});
