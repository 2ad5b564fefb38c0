import { Mistral } from '@mistralai/mistralai';
import { HTTPClient } from '@mistralai/mistralai/lib/http.js';
import type { Tool, ToolCall } from '@mistralai/mistralai/models/components';
import * as errors from '@mistralai/mistralai/models/errors';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';

/**
 * The official @mistralai/mistralai SDK, unchanged, against the Mistral fake. Its fetcher goes
 * through the test transport, which connects only to the fake while keeping the real URL and Host,
 * so the fake receives what Mistral would receive. The fake rejects any field that Mistral does not accept,
 * so a field the SDK sends and the fake does not know shows up here as a 422.
 */

type Json = Record<string, unknown>;

const apiKey = 'mistral-fidelity-0123456789';
const model = 'mistral-large-latest';
const messages = [{ role: 'user' as const, content: 'What is the weather like in Paris?' }];
const weatherTool: Tool & { type: 'function' } = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

let fake: FakeUpstream;
let transport: UpstreamTransport;
let client: Mistral;

beforeAll(async () => {
  fake = await startFakeOpenAiCompatible({ provider: 'MISTRAL', expectedKey: apiKey });
  transport = createTestTransport([fake.override]);
  // The SDK hands its fetcher a Request of Node's built-in fetch. undici 7's fetch takes it for a URL
  // string ("Failed to parse URL from [object Request]"), so its fields are passed one by one.
  const fetcher = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const body = request.body === null ? undefined : await request.arrayBuffer();
    const response = await undiciFetch(request.url, {
      method: request.method,
      headers: [...request.headers],
      body,
      signal: request.signal,
      dispatcher: transport.dispatcher,
    });
    return response as unknown as Response;
  };
  client = new Mistral({ apiKey, httpClient: new HTTPClient({ fetcher }), retryConfig: { strategy: 'none' } });
});

afterAll(async () => {
  await transport?.destroy();
  await fake?.close();
});

function lastBody(): Json {
  return fake.requests.at(-1)!.body as Json;
}

describe('Mistral SDK against the fake', () => {
  it('completes a chat', async () => {
    const response = await client.chat.complete({ model, messages });
    const received = fake.requests.at(-1)!;

    expect(response.choices?.[0]?.message?.content).toBe('Hello from the fake Mistral.');
    expect(response.choices?.[0]?.finishReason).toBe('stop');
    expect(response.usage.totalTokens).toBe(response.usage.promptTokens! + response.usage.completionTokens!);
    expect(received.rejection).toBeUndefined();
    expect(received.path).toBe('/v1/chat/completions');
    expect(received.headers.host).toBe('api.mistral.ai');
    expect(received.headers.authorization).toBe(`Bearer ${apiKey}`);
  });

  it('sends only fields the fake accepts', async () => {
    await client.chat.complete({ model, messages, temperature: 0.2, maxTokens: 50, randomSeed: 7, safePrompt: false });

    expect(lastBody()).toMatchObject({ model, temperature: 0.2, max_tokens: 50, random_seed: 7, safe_prompt: false });
  });

  it('streams a chat', async () => {
    const stream = await client.chat.stream({ model, messages });
    let text = '';
    let finishReason: string | null | undefined;
    let totalTokens: number | undefined;
    for await (const event of stream) {
      const choice = event.data.choices[0];
      if (typeof choice?.delta.content === 'string') text += choice.delta.content;
      finishReason = choice?.finishReason ?? finishReason;
      totalTokens = event.data.usage?.totalTokens ?? totalTokens;
    }

    expect(text).toBe('Hello from the fake Mistral.');
    expect(finishReason).toBe('stop');
    expect(totalTokens).toBeGreaterThan(0);
    expect(lastBody().stream).toBe(true);
  });

  it('returns tool calls', async () => {
    fake.enqueue({
      reply: { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'get_weather', arguments: { city: 'Rome' } }] },
    });
    const response = await client.chat.complete({ model, messages, tools: [weatherTool], toolChoice: 'auto' });
    const calls = response.choices?.[0]?.message?.toolCalls ?? [];

    expect(response.choices?.[0]?.finishReason).toBe('tool_calls');
    expect(calls.map((call) => call.function.name)).toEqual(['get_weather', 'get_weather']);
    expect(calls.map((call) => JSON.parse(call.function.arguments as string))).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    for (const call of calls) expect(call.id).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(lastBody().tools).toEqual([weatherTool]);
  });

  it('streams tool calls whole', async () => {
    fake.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } });
    const stream = await client.chat.stream({ model, messages, tools: [weatherTool] });
    const calls: ToolCall[] = [];
    for await (const event of stream) calls.push(...(event.data.choices[0]?.delta.toolCalls ?? []));

    expect(calls).toHaveLength(1);
    expect(calls[0]?.function.name).toBe('get_weather');
    expect(JSON.parse(calls[0]!.function.arguments as string)).toEqual({ city: 'Paris' });
  });

  it('sends a tool turn back with its ids', async () => {
    fake.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } });
    const first = await client.chat.complete({ model, messages, tools: [weatherTool] });
    const call = first.choices![0]!.message!.toolCalls![0]!;

    const second = await client.chat.complete({
      model,
      tools: [weatherTool],
      messages: [
        ...messages,
        { role: 'assistant', content: '', toolCalls: [call] },
        { role: 'tool', toolCallId: call.id!, name: 'get_weather', content: '{"celsius":21}' },
      ],
    });

    expect(fake.requests.at(-1)!.rejection).toBeUndefined();
    expect(second.choices?.[0]?.message?.content).toBe('Hello from the fake Mistral.');
    const sent = lastBody().messages as Json[];
    expect((sent[1]!.tool_calls as Json[])[0]!.id).toBe(call.id);
    expect(sent[2]!.tool_call_id).toBe(call.id);
  });

  it('returns reasoning as thinking chunks', async () => {
    fake.enqueue({ reply: { reasoning: 'Paris is in France.' } });
    const response = await client.chat.complete({ model: 'magistral-medium-latest', messages });
    const content = response.choices?.[0]?.message?.content;

    expect(Array.isArray(content)).toBe(true);
    expect(content).toEqual([
      { type: 'thinking', thinking: [{ type: 'text', text: 'Paris is in France.' }] },
      { type: 'text', text: 'Hello from the fake Mistral.' },
    ]);
  });

  it('reports a foreign tool call id as the SDK error', async () => {
    const error = await client.chat
      .complete({
        model,
        messages: [
          ...messages,
          { role: 'assistant', content: '', toolCalls: [{ id: 'call_abc123', function: { name: 'get_weather', arguments: '{}' } }] },
          { role: 'tool', toolCallId: 'call_abc123', content: 'ok' },
        ],
      })
      .catch((rejection: unknown) => rejection);

    expect(error).toBeInstanceOf(errors.MistralError);
    expect((error as errors.MistralError).statusCode).toBe(400);
    expect((error as errors.MistralError).body).toContain('Tool call id was call_abc123');
  });
});
