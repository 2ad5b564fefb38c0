import type { MessageParam, Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import type OpenAI from 'openai';
import type { ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vertexAnthropicVersion } from '../../src/proxy/upstream/vertex/vertex-claude.js';
import { countTokens } from '../support/fake-upstreams/fake-server.js';
import type { VertexRecordedRequest } from '../support/fake-upstreams/vertex.js';
import { anthropicClient, clientAuthHeaders, openAiClient } from './helpers.js';
import { bearerOf, createVertexTenant, lastVertexRequest, startVertexProxyContext, type VertexProxyContext, type VertexTenant } from './vertex-helpers.js';

// The official openai and @anthropic-ai/sdk clients against Google Vertex AI through the proxy.
// The Vertex fake accepts only access tokens that the fake token endpoint issued for a service
// account allowed in the project of the URL, and only on the real Host of the location. So each
// passing call shows that the gateway minted a token from the stored key file and built the right URL.

const geminiText = 'Hello from the fake Gemini on Vertex.';
const claudeText = 'Hello from the fake Claude on Vertex.';
const claudeModel = 'claude-sonnet-4-5@20250929';
const weatherArguments = { city: 'Paris', unit: 'celsius' };

let context: VertexProxyContext;
let tenant: VertexTenant;

beforeAll(async () => {
  context = await startVertexProxyContext();
  tenant = await createVertexTenant(context);
});

afterAll(async () => {
  await context?.close();
});

function upstreamBody(): Record<string, unknown> {
  return lastVertexRequest(context).body as Record<string, unknown>;
}

/** Checks what reached Vertex: no rejection, the global host, a token of the tenant's account, no client credential. */
function expectVertexCredentials(request: VertexRecordedRequest): void {
  expect(request.rejection).toBeUndefined();
  expect(request.headers.host).toBe('aiplatform.googleapis.com');
  expect(request.clientEmail).toBe(tenant.serviceAccount.account.client_email);
  expect(context.tokens.findValid(bearerOf(request) ?? '')?.clientEmail).toBe(tenant.serviceAccount.account.client_email);
  expect(request.headers['x-api-key']).toBeUndefined();
  for (const header of clientAuthHeaders) expect(request.headers[header]).toBeUndefined();
}

function chatPath(): string {
  return `/v1/projects/${tenant.project}/locations/global/endpoints/openapi/chat/completions`;
}

function claudePath(method: 'rawPredict' | 'streamRawPredict'): string {
  return `/v1/projects/${tenant.project}/locations/global/publishers/anthropic/models/${claudeModel}:${method}`;
}

describe('Gemini through the openai SDK', () => {
  let client: OpenAI;
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather like?' }];

  beforeAll(() => {
    client = openAiClient(context.server, tenant.gatewayKey.secret, {
      defaultHeaders: { 'x-keyroute-api-key': tenant.gatewayKey.secret, 'x-api-key': tenant.gatewayKey.secret },
    });
  });

  it.each(['vertex/gemini-2.5-flash', 'google/gemini-2.5-flash'])('chat completion with %s', async (model) => {
    const completion = await client.chat.completions.create({ model, messages });

    expect(completion.choices[0]?.message.content).toBe(geminiText);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.prompt_tokens).toBe(countTokens(messages));
    expect(completion.usage?.completion_tokens).toBe(countTokens(geminiText));
    const request = lastVertexRequest(context);
    expectVertexCredentials(request);
    expect(request.path).toBe(chatPath());
    expect(upstreamBody().model).toBe('google/gemini-2.5-flash');
    expect(upstreamBody().messages).toEqual(messages);
  });

  it('stream with the stream helper', async () => {
    const stream = client.chat.completions.stream({ model: 'vertex/gemini-2.5-flash', messages, stream_options: { include_usage: true } });
    let deltas = 0;
    stream.on('content.delta', () => {
      deltas += 1;
    });
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]?.message.content).toBe(geminiText);
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(deltas).toBe(geminiText.split(' ').length);
    expect(final.usage?.prompt_tokens).toBe(countTokens(messages));
    expect(final.usage?.completion_tokens).toBe(countTokens(geminiText));
    expectVertexCredentials(lastVertexRequest(context));
    expect(upstreamBody().stream).toBe(true);
  });

  it('gateway-only tags not sent', async () => {
    await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages, tags: ['team-a'] } as OpenAI.ChatCompletionCreateParamsNonStreaming);

    expect(upstreamBody()).not.toHaveProperty('tags');
  });
});

describe('Claude on Vertex through the openai SDK', () => {
  let client: OpenAI;
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You answer briefly.' },
    { role: 'user', content: 'What is the weather like in Paris?' },
  ];
  const weatherTool: ChatCompletionTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
    },
  };

  beforeAll(() => {
    client = openAiClient(context.server, tenant.gatewayKey.secret);
  });

  it('chat completion translated to rawPredict', async () => {
    const completion = await client.chat.completions.create({ model: `vertex/${claudeModel}`, messages, max_tokens: 200 });

    expect(completion.choices[0]?.message.content).toBe(claudeText);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.model).toBe(`vertex/${claudeModel}`);
    const request = lastVertexRequest(context);
    expectVertexCredentials(request);
    expect(request.path).toBe(claudePath('rawPredict'));
    const body = upstreamBody();
    expect(body.anthropic_version).toBe(vertexAnthropicVersion);
    expect(body).not.toHaveProperty('model');
    expect(body.max_tokens).toBe(200);
    expect(body.system).toEqual([{ type: 'text', text: 'You answer briefly.' }]);
    expect(body.messages).toEqual([{ role: 'user', content: 'What is the weather like in Paris?' }]);
    expect(completion.usage?.prompt_tokens).toBe(countTokens([body.system, body.messages, body.tools]));
    expect(completion.usage?.completion_tokens).toBe(countTokens(claudeText));
  });

  it('tool call', async () => {
    context.vertex.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherArguments }] } });
    const completion = await client.chat.completions.create({ model: `vertex/${claudeModel}`, messages, tools: [weatherTool] });

    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    const call = completion.choices[0]?.message.tool_calls?.[0] as ChatCompletionMessageFunctionToolCall | undefined;
    expect(call?.function.name).toBe('get_weather');
    expect(JSON.parse(call?.function.arguments ?? '{}')).toEqual(weatherArguments);
    expect(upstreamBody().tools).toEqual([
      { name: 'get_weather', description: 'Current weather of a city', input_schema: weatherTool.function.parameters },
    ]);
  });

  it('streamed tool call with the stream helper', async () => {
    context.vertex.enqueue({ reply: { text: 'Let me check.', toolCalls: [{ name: 'get_weather', arguments: weatherArguments }] } });
    const stream = client.chat.completions.stream({
      model: `vertex/${claudeModel}`,
      messages,
      tools: [weatherTool],
      stream_options: { include_usage: true },
    });
    let argumentDeltas = 0;
    stream.on('tool_calls.function.arguments.delta', () => {
      argumentDeltas += 1;
    });
    const final = await stream.finalChatCompletion();

    expect(lastVertexRequest(context).path).toBe(claudePath('streamRawPredict'));
    expect(upstreamBody().stream).toBe(true);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.content).toBe('Let me check.');
    const call = final.choices[0]?.message.tool_calls?.[0] as ChatCompletionMessageFunctionToolCall | undefined;
    expect(call?.function.name).toBe('get_weather');
    expect(JSON.parse(call?.function.arguments ?? '{}')).toEqual(weatherArguments);
    expect(argumentDeltas).toBeGreaterThan(1);
    expect(final.usage?.completion_tokens).toBe(countTokens('Let me check.') + countTokens(JSON.stringify(weatherArguments)));
  });

  it('stream of text', async () => {
    const stream = client.chat.completions.stream({ model: `vertex/${claudeModel}`, messages });
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]?.message.content).toBe(claudeText);
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expectVertexCredentials(lastVertexRequest(context));
  });
});

describe('Claude on Vertex through the @anthropic-ai/sdk', () => {
  const messages: MessageParam[] = [{ role: 'user', content: 'What is the weather like?' }];
  const system = 'You answer briefly.';
  const tools: Tool[] = [
    { name: 'get_weather', description: 'Current weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  ];
  const client = () => anthropicClient(context.server, tenant.gatewayKey.secret);

  it('message', async () => {
    const message = await client().messages.create({ model: `vertex/${claudeModel}`, max_tokens: 100, system, messages });

    expect(message.content).toEqual([{ type: 'text', text: claudeText }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBe(countTokens([system, messages, undefined]));
    expect(message.usage.output_tokens).toBe(countTokens(claudeText));
    const request = lastVertexRequest(context);
    expectVertexCredentials(request);
    expect(request.path).toBe(claudePath('rawPredict'));
    expect(request.headers['anthropic-version']).toBeUndefined();
    expect(upstreamBody().anthropic_version).toBe(vertexAnthropicVersion);
    expect(upstreamBody()).not.toHaveProperty('model');
    expect(upstreamBody().system).toBe(system);
  });

  it('stream finalMessage', async () => {
    const stream = client().messages.stream({ model: `vertex/${claudeModel}`, max_tokens: 100, system, messages });
    let deltas = 0;
    stream.on('text', () => {
      deltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: claudeText });
    expect(final.stop_reason).toBe('end_turn');
    expect(deltas).toBe(claudeText.split(' ').length);
    expect(final.usage.input_tokens).toBe(countTokens([system, messages, undefined]));
    expect(final.usage.output_tokens).toBe(countTokens(claudeText));
    expect(lastVertexRequest(context).path).toBe(claudePath('streamRawPredict'));
    expect(upstreamBody().stream).toBe(true);
  });

  it('streamed tool use', async () => {
    context.vertex.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherArguments }] } });
    const stream = client().messages.stream({ model: `vertex/${claudeModel}`, max_tokens: 100, messages, tools });
    let jsonDeltas = 0;
    stream.on('inputJson', () => {
      jsonDeltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.stop_reason).toBe('tool_use');
    const block = final.content[0] as ToolUseBlock | undefined;
    expect(block?.type).toBe('tool_use');
    expect(block?.name).toBe('get_weather');
    expect(block?.input).toEqual(weatherArguments);
    expect(jsonDeltas).toBeGreaterThan(1);
    expect(upstreamBody().tools).toEqual(tools);
  });

  it('count_tokens', async () => {
    const count = await client().messages.countTokens({ model: `vertex/${claudeModel}`, system, messages, tools });

    expect(count.input_tokens).toBe(countTokens([system, messages, tools]));
    const request = lastVertexRequest(context);
    expectVertexCredentials(request);
    expect(request.path).toBe(`/v1/projects/${tenant.project}/locations/global/publishers/anthropic/models/count-tokens:rawPredict`);
    expect(upstreamBody().model).toBe(claudeModel);
    expect(upstreamBody().anthropic_version).toBe(vertexAnthropicVersion);
  });

  it('anthropic-beta forwarded', async () => {
    await client().beta.messages.create({ model: `vertex/${claudeModel}`, max_tokens: 100, messages, betas: ['token-efficient-tools-2025-02-19'] });

    expect(lastVertexRequest(context).headers['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
  });
});

describe('Gemini through the @anthropic-ai/sdk', () => {
  const messages: MessageParam[] = [{ role: 'user', content: 'What is the weather like?' }];
  const client = () => anthropicClient(context.server, tenant.gatewayKey.secret);

  it('message translated to chat completions', async () => {
    const message = await client().messages.create({ model: 'google/gemini-2.5-flash', max_tokens: 100, system: 'Be brief.', messages });

    expect(message.content).toEqual([{ type: 'text', text: geminiText }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.model).toBe('google/gemini-2.5-flash');
    const request = lastVertexRequest(context);
    expectVertexCredentials(request);
    expect(request.path).toBe(chatPath());
    const body = upstreamBody();
    expect(body.model).toBe('google/gemini-2.5-flash');
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is the weather like?' },
    ]);
    expect(message.usage.input_tokens).toBe(countTokens(body.messages));
    expect(message.usage.output_tokens).toBe(countTokens(geminiText));
  });

  it('stream finalMessage', async () => {
    const stream = client().messages.stream({ model: 'vertex/gemini-2.5-flash', max_tokens: 100, messages });
    let deltas = 0;
    stream.on('text', () => {
      deltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: geminiText });
    expect(final.stop_reason).toBe('end_turn');
    expect(deltas).toBe(geminiText.split(' ').length);
    expect(final.usage.input_tokens).toBe(countTokens(upstreamBody().messages));
    expect(final.usage.output_tokens).toBe(countTokens(geminiText));
    expect(upstreamBody().stream).toBe(true);
    expectVertexCredentials(lastVertexRequest(context));
  });

  it('count_tokens is a 404', async () => {
    const error = await client()
      .messages.countTokens({ model: 'vertex/gemini-2.5-flash', messages })
      .then(() => undefined, (rejection: unknown) => rejection as { status?: number; message?: string });

    expect(error?.status).toBe(404);
    expect(error?.message).toContain('count_tokens');
  });
});
