import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionAssistantMessageParam,
  ChatCompletionChunk,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../support/fake-upstreams/fake-server.js';
import {
  clientAuthHeaders,
  createTenant,
  lastRequest,
  openAiClient,
  rejectionOf,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type ProxyTestContext,
} from './helpers.js';

// The official openai SDK calling a Claude model through the proxy. Each request goes through the
// internal representation to the Anthropic fake, and its response or stream comes back in OpenAI's
// format. The fake applies the Messages API's own checks: roles, tool_use and tool_result pairs,
// image types and thinking signatures.

type Json = Record<string, any>;

const model = 'anthropic/claude-sonnet-4-5';
const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather like in Paris and Rome?' }];
const greeting = 'Hello from the fake Anthropic.';
const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const twoCalls = [
  { name: 'get_weather', arguments: { city: 'Paris' } },
  { name: 'get_weather', arguments: { city: 'Rome' } },
];
/** Image bytes that are no real JPEG, since the fake checks only the media type. */
const imageData = Buffer.from('not really a jpeg').toString('base64');

/** The thinking block of LiteLLM's convention that the proxy adds to OpenAI-format assistant messages. */
interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;
let client: OpenAI;

beforeAll(async () => {
  context = await startProxyContext();
  gatewayKey = (await createTenant(context, ['ANTHROPIC'])).gatewayKey;
  client = openAiClient(context.server, gatewayKey.secret);
});

afterAll(async () => {
  await context?.close();
});

function upstreamBody(): Json {
  return lastRequest(context.fakes.anthropic).body as Json;
}

/** Returns the input tokens that the fake counted for its last request. */
function upstreamInputTokens(): number {
  const body = upstreamBody();
  return countTokens([body.system, body.messages, body.tools]);
}

function catalogMaxOutputTokens(id: string): number {
  const entry = context.server.config.models.catalog.list().find((candidate) => candidate.id === id);
  if (!entry) throw new Error(`no catalog entry ${id}`);
  return entry.maxOutputTokens;
}

/** Reads a whole stream: its chunks, its text and the tool calls assembled from their deltas. */
async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  let text = '';
  const toolCalls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    const delta = chunk.choices[0]?.delta;
    text += delta?.content ?? '';
    for (const call of delta?.tool_calls ?? []) {
      const entry = (toolCalls[call.index] ??= { id: '', name: '', arguments: '' });
      if (call.id) entry.id = call.id;
      if (call.function?.name) entry.name += call.function.name;
      if (call.function?.arguments) entry.arguments += call.function.arguments;
    }
  }
  const finishReason = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find((reason) => reason);
  return { chunks, text, toolCalls, finishReason };
}

/** Counts the requests the Anthropic fake has received, to show that a rejected request went nowhere. */
function anthropicRequestCount(): number {
  return context.fakes.anthropic.requests.length;
}

describe('OpenAI client to Anthropic', () => {
  it('chat completion', async () => {
    const completion = await client.chat.completions.create({ model, messages });
    const upstream = lastRequest(context.fakes.anthropic);

    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe(model);
    expect(completion.choices[0]?.message.content).toBe(greeting);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.prompt_tokens).toBe(upstreamInputTokens());
    expect(completion.usage?.completion_tokens).toBe(countTokens(greeting));
    expect(completion.usage?.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect(upstream.rejection).toBeUndefined();
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.headers.host).toBe('api.anthropic.com');
    expect(upstream.headers['x-api-key']).toBe(context.secrets.ANTHROPIC);
    expect(upstream.headers.authorization).toBeUndefined();
    for (const header of clientAuthHeaders) expect(upstream.headers[header]).toBeUndefined();
    expect(upstreamBody().model).toBe('claude-sonnet-4-5');
    expect(upstreamBody().messages).toEqual([{ role: 'user', content: 'What is the weather like in Paris and Rome?' }]);
  });

  it('provider headers on the response', async () => {
    const { response } = await client.chat.completions.create({ model, messages }).withResponse();

    expect(response.headers.get('x-keyroute-provider')).toBe('anthropic');
    expect(response.headers.get('content-type')).toContain('application/json');
  });

  it('max_tokens from the catalog when unset', async () => {
    await client.chat.completions.create({ model, messages });

    expect(upstreamBody().max_tokens).toBe(catalogMaxOutputTokens(model));
  });

  it('max_tokens of the client kept', async () => {
    await client.chat.completions.create({ model, messages, max_tokens: 50 });
    expect(upstreamBody().max_tokens).toBe(50);

    await client.chat.completions.create({ model, messages, max_completion_tokens: 60 });
    expect(upstreamBody().max_tokens).toBe(60);
  });

  it('stream without usage asked for', async () => {
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    const { chunks, text, finishReason } = await collect(stream);

    expect(text).toBe(greeting);
    expect(finishReason).toBe('stop');
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((chunk) => chunk.model === model)).toBe(true);
    expect(chunks.filter((chunk) => 'usage' in chunk)).toEqual([]);
    expect(chunks.filter((chunk) => chunk.choices.length === 0)).toEqual([]);
    expect(upstreamBody().stream).toBe(true);
  });

  it('stream with usage asked for', async () => {
    const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
    const { chunks, text } = await collect(stream);
    const withUsage = chunks.filter((chunk) => chunk.usage);

    expect(text).toBe(greeting);
    expect(withUsage).toHaveLength(1);
    expect(withUsage[0]).toBe(chunks.at(-1));
    expect(withUsage[0]?.choices).toEqual([]);
    expect(withUsage[0]?.usage?.prompt_tokens).toBe(upstreamInputTokens());
    expect(withUsage[0]?.usage?.completion_tokens).toBe(countTokens(greeting));
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    // Anthropic has no such option: its streams always carry usage.
    expect(upstreamBody()).not.toHaveProperty('stream_options');
  });

  it('stream usage with input tokens at the end', async () => {
    context.fakes.anthropic.enqueue({ reply: { inputTokensAtEnd: true } });
    const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
    const { chunks } = await collect(stream);

    expect(chunks.at(-1)?.usage?.prompt_tokens).toBe(upstreamInputTokens());
  });

  it('two parallel tool calls', async () => {
    context.fakes.anthropic.enqueue({ reply: { toolCalls: twoCalls } });
    const completion = await client.chat.completions.create({ model, messages, tools: [weatherTool] });
    const calls = (completion.choices[0]?.message.tool_calls ?? []) as ChatCompletionMessageFunctionToolCall[];

    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.content).toBeNull();
    expect(calls).toHaveLength(2);
    expect(calls.map((call) => call.type)).toEqual(['function', 'function']);
    expect(calls.map((call) => call.function.name)).toEqual(['get_weather', 'get_weather']);
    expect(calls.map((call) => JSON.parse(call.function.arguments))).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    for (const call of calls) expect(call.id).toMatch(/^toolu_/);
    expect(upstreamBody().tools).toEqual([
      { name: 'get_weather', description: 'Current weather of a city', input_schema: weatherTool.function.parameters },
    ]);
  });

  it('two parallel tool calls streamed', async () => {
    context.fakes.anthropic.enqueue({ reply: { toolCalls: twoCalls } });
    const stream = await client.chat.completions.create({ model, messages, tools: [weatherTool], stream: true });
    const { toolCalls, finishReason, text } = await collect(stream);

    expect(text).toBe('');
    expect(finishReason).toBe('tool_calls');
    expect(toolCalls).toHaveLength(2);
    expect(toolCalls.map((call) => call.name)).toEqual(['get_weather', 'get_weather']);
    expect(toolCalls.map((call) => JSON.parse(call.arguments))).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    expect(new Set(toolCalls.map((call) => call.id)).size).toBe(2);
  });

  it('tool results go back as tool_result blocks', async () => {
    context.fakes.anthropic.enqueue({ reply: { toolCalls: twoCalls } });
    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool] });
    const assistant = first.choices[0]!.message;
    const calls = assistant.tool_calls as ChatCompletionMessageFunctionToolCall[];

    const second = await client.chat.completions.create({
      model,
      tools: [weatherTool],
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', tool_call_id: calls[0]!.id, content: 'Sunny, 24 °C' },
        { role: 'tool', tool_call_id: calls[1]!.id, content: 'Rain, 17 °C' },
      ],
    });
    const sent = upstreamBody().messages as Json[];

    expect(second.choices[0]?.message.content).toBe(greeting);
    expect(sent).toHaveLength(3);
    expect(sent[1]!.content.map((block: Json) => [block.type, block.id])).toEqual([
      ['tool_use', calls[0]!.id],
      ['tool_use', calls[1]!.id],
    ]);
    expect(sent[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: calls[0]!.id, content: 'Sunny, 24 °C' },
        { type: 'tool_result', tool_use_id: calls[1]!.id, content: 'Rain, 17 °C' },
      ],
    });
  });

  it('foreign tool ids rewritten and restored', async () => {
    // An id in another upstream's format breaks Anthropic's id pattern.
    const foreignId = 'functions.get_weather:0';
    const history: ChatCompletionMessageParam[] = [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: foreignId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: foreignId, content: 'Sunny' },
    ];
    await client.chat.completions.create({ model, tools: [weatherTool], messages: history });
    const sent = upstreamBody().messages as Json[];
    const rewritten = sent[1]!.content[0].id as string;

    expect(rewritten).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(sent[2]!.content[0].tool_use_id).toBe(rewritten);

    // The same conversation gets the same id, so a reply that names it comes back with the client's id.
    context.fakes.anthropic.enqueue({ reply: { toolCalls: [{ id: rewritten, name: 'get_weather', arguments: { city: 'Paris' } }] } });
    const completion = await client.chat.completions.create({ model, tools: [weatherTool], messages: history });

    expect(completion.choices[0]?.message.tool_calls?.[0]?.id).toBe(foreignId);
  });

  it('thinking block returned with its signature', async () => {
    context.fakes.anthropic.enqueue({ reply: { reasoning: 'Both cities need a lookup.', toolCalls: twoCalls } });
    const completion = await client.chat.completions.create({ model, messages, tools: [weatherTool], reasoning_effort: 'low' });
    const message = completion.choices[0]!.message as ChatCompletion['choices'][number]['message'] & { reasoning_content?: string; thinking_blocks?: ThinkingBlock[] };

    expect(upstreamBody().thinking).toMatchObject({ type: 'enabled' });
    expect(message.reasoning_content).toBe('Both cities need a lookup.');
    expect(message.thinking_blocks).toHaveLength(1);
    expect(message.thinking_blocks?.[0]).toMatchObject({ type: 'thinking', thinking: 'Both cities need a lookup.' });
    expect(message.thinking_blocks?.[0]?.signature.length).toBeGreaterThan(20);
  });

  it('thinking block sent back before tool use', async () => {
    context.fakes.anthropic.enqueue({ reply: { reasoning: 'Both cities need a lookup.', toolCalls: twoCalls } });
    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool], reasoning_effort: 'low' });
    const firstMessage = first.choices[0]!.message as ChatCompletion['choices'][number]['message'] & { thinking_blocks: ThinkingBlock[] };
    const calls = firstMessage.tool_calls as ChatCompletionMessageFunctionToolCall[];
    const thinkingFromFake = (lastRequest(context.fakes.anthropic).body as Json).thinking;

    // The client sends the assistant message back as the SDK returned it, thinking_blocks included.
    const second = await client.chat.completions.create({
      model,
      tools: [weatherTool],
      reasoning_effort: 'low',
      messages: [
        ...messages,
        firstMessage,
        { role: 'tool', tool_call_id: calls[0]!.id, content: 'Sunny' },
        { role: 'tool', tool_call_id: calls[1]!.id, content: 'Rain' },
      ],
    });
    const upstream = lastRequest(context.fakes.anthropic);
    const sentAssistant = (upstream.body as Json).messages[1];

    expect(thinkingFromFake).toMatchObject({ type: 'enabled' });
    expect(upstream.rejection).toBeUndefined();
    expect(second.choices[0]?.message.content).toBe(greeting);
    expect(sentAssistant.content[0]).toEqual(firstMessage.thinking_blocks[0]);
    expect(sentAssistant.content.map((block: Json) => block.type)).toEqual(['thinking', 'tool_use', 'tool_use']);
  });

  it('streamed thinking block sent back', async () => {
    context.fakes.anthropic.enqueue({ reply: { reasoning: 'Paris first.', toolCalls: [twoCalls[0]!] } });
    const stream = await client.chat.completions.create({ model, messages, tools: [weatherTool], reasoning_effort: 'low', stream: true });
    const { chunks, toolCalls } = await collect(stream);
    const deltas = chunks.map((chunk) => chunk.choices[0]?.delta as (Json & ChatCompletionChunk.Choice.Delta) | undefined);
    const reasoning = deltas.map((delta) => delta?.reasoning_content ?? '').join('');
    const thinkingBlocks = deltas.flatMap((delta) => (delta?.thinking_blocks ?? []) as (ThinkingBlock & { index: number })[]);

    expect(reasoning).toBe('Paris first.');
    expect(thinkingBlocks).toHaveLength(1);
    expect(thinkingBlocks[0]).toMatchObject({ index: 0, type: 'thinking', thinking: 'Paris first.' });

    const { index: _index, ...block } = thinkingBlocks[0]!;
    const assistant = {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: toolCalls[0]!.id, type: 'function', function: { name: toolCalls[0]!.name, arguments: toolCalls[0]!.arguments } }],
      thinking_blocks: [block],
    } as ChatCompletionAssistantMessageParam;
    await client.chat.completions.create({
      model,
      tools: [weatherTool],
      reasoning_effort: 'low',
      messages: [...messages, assistant, { role: 'tool', tool_call_id: toolCalls[0]!.id, content: 'Sunny' }],
    });

    expect(lastRequest(context.fakes.anthropic).rejection).toBeUndefined();
    expect(upstreamBody().messages[1].content[0]).toEqual(block);
  });

  it('tool turn without thinking_blocks rejected by Claude', async () => {
    context.fakes.anthropic.enqueue({ reply: { reasoning: 'Paris first.', toolCalls: [twoCalls[0]!] } });
    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool], reasoning_effort: 'low' });
    const calls = first.choices[0]!.message.tool_calls as ChatCompletionMessageFunctionToolCall[];

    // reasoning_content has no signature, so it cannot stand in for the thinking block.
    const assistant = { role: 'assistant', content: null, tool_calls: calls, reasoning_content: 'Paris first.' } as ChatCompletionAssistantMessageParam;
    const error = await rejectionOf<InstanceType<typeof OpenAI.APIError>>(
      client.chat.completions.create({
        model,
        tools: [weatherTool],
        reasoning_effort: 'low',
        messages: [...messages, assistant, { role: 'tool', tool_call_id: calls[0]!.id, content: 'Sunny' }],
      }),
    );

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.message).toContain('must start with a thinking block');
    expect(upstreamBody().messages[1].content.map((block: Json) => block.type)).toEqual(['tool_use']);
  });

  it('thinking budget fitted under max_tokens', async () => {
    await client.chat.completions.create({ model, messages, reasoning_effort: 'high', max_tokens: 3000 });
    const { thinking, max_tokens: maxTokens } = upstreamBody();

    expect(lastRequest(context.fakes.anthropic).rejection).toBeUndefined();
    expect(maxTokens).toBe(3000);
    expect(thinking.budget_tokens).toBeGreaterThanOrEqual(1024);
    expect(thinking.budget_tokens).toBeLessThan(3000);
  });

  it('tool choice, parallel calls, stop and user mapped', async () => {
    await client.chat.completions.create({
      model,
      messages,
      tools: [weatherTool],
      tool_choice: 'required',
      parallel_tool_calls: false,
      stop: 'END',
      user: 'user-1234',
    });
    const body = upstreamBody();

    expect(body.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(body.stop_sequences).toEqual(['END']);
    expect(body.metadata).toEqual({ user_id: 'user-1234' });
    expect(body).not.toHaveProperty('stop');
    expect(body).not.toHaveProperty('user');
    expect(body).not.toHaveProperty('parallel_tool_calls');
  });

  it('image data URL with image/jpg', async () => {
    await client.chat.completions.create({
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: `data:image/jpg;base64,${imageData}` } },
          ],
        },
      ],
    });

    expect(upstreamBody().messages[0].content[1]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: imageData } });
  });

  it('SVG image rejected before upstream', async () => {
    const before = anthropicRequestCount();
    const error = await rejectionOf<InstanceType<typeof OpenAI.BadRequestError>>(
      client.chat.completions.create({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture?' },
              { type: 'image_url', image_url: { url: `data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}` } },
            ],
          },
        ],
      }),
    );

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.status).toBe(400);
    expect(error.param).toBe('messages[0].content[1].image_url');
    expect(error.message).toContain('messages[0].content[1].image_url');
    expect(error.message).toContain('image/svg+xml');
    expect(anthropicRequestCount()).toBe(before);
  });

  it('system messages moved to system in order', async () => {
    await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'system', content: 'Answer in English.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'system', content: 'Use Celsius.' },
        { role: 'user', content: 'And in Rome?' },
      ],
    });
    const body = upstreamBody();

    expect(body.system).toEqual([
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Answer in English.' },
      { type: 'text', text: 'Use Celsius.' },
    ]);
    // The two user turns around the moved system message are merged into one.
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris?' },
          { type: 'text', text: 'And in Rome?' },
        ],
      },
    ]);
  });
});

describe('OpenAI SDK stream helper', () => {
  it('finalChatCompletion with text and usage', async () => {
    const runner = client.chat.completions.stream({ model, messages, stream_options: { include_usage: true } });
    const final = await runner.finalChatCompletion();

    expect(final.choices[0]?.message.content).toBe(greeting);
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(final.usage?.prompt_tokens).toBe(upstreamInputTokens());
    expect(final.usage?.completion_tokens).toBe(countTokens(greeting));
  });

  it('finalChatCompletion with reasoning', async () => {
    context.fakes.anthropic.enqueue({ reply: { reasoning: 'A short thought.' } });
    const runner = client.chat.completions.stream({ model, messages, reasoning_effort: 'low', stream_options: { include_usage: true } });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message as ChatCompletion['choices'][number]['message'] & { reasoning_content?: string; thinking_blocks?: ThinkingBlock[] };

    expect(message.content).toBe(greeting);
    // The SDK's accumulator copies unknown delta fields over each other, so reasoning_content keeps
    // only the last delta. The thinking block carries the whole text, which is why the proxy repeats it there.
    expect(typeof message.reasoning_content).toBe('string');
    expect(message.thinking_blocks?.[0]).toMatchObject({ type: 'thinking', thinking: 'A short thought.' });
    expect(final.usage?.completion_tokens).toBe(countTokens(greeting) + countTokens('A short thought.'));
  });

  it('finalChatCompletion with two tool calls', async () => {
    context.fakes.anthropic.enqueue({ reply: { text: 'Looking both up.', toolCalls: twoCalls } });
    const runner = client.chat.completions.stream({ model, messages, tools: [weatherTool], stream_options: { include_usage: true } });
    const final = await runner.finalChatCompletion();
    const calls = (final.choices[0]?.message.tool_calls ?? []) as ChatCompletionMessageFunctionToolCall[];

    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.content).toBe('Looking both up.');
    expect(calls.map((call) => JSON.parse(call.function.arguments))).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    expect(final.usage?.total_tokens).toBe(final.usage!.prompt_tokens + final.usage!.completion_tokens);
  });
});

describe('parameters Claude cannot honour', () => {
  const cases: { name: string; params: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>; param: string }[] = [
    { name: 'n of 2', params: { n: 2 }, param: 'n' },
    { name: 'logprobs', params: { logprobs: true }, param: 'logprobs' },
    { name: 'temperature 1.5', params: { temperature: 1.5 }, param: 'temperature' },
    { name: 'presence_penalty', params: { presence_penalty: 0.5 }, param: 'presence_penalty' },
    { name: 'JSON mode', params: { response_format: { type: 'json_object' } }, param: 'response_format' },
  ];

  it.each(cases)('$name is a 400 naming it', async ({ params, param }) => {
    const before = anthropicRequestCount();
    const error = await rejectionOf<InstanceType<typeof OpenAI.BadRequestError>>(client.chat.completions.create({ model, messages, ...params }));

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe(param);
    expect(error.message).toContain(param);
    expect(error.code).toBe('invalid_request_error');
    expect(anthropicRequestCount()).toBe(before);
  });

  it('values they can honour pass', async () => {
    await client.chat.completions.create({ model, messages, n: 1, logprobs: false, temperature: 0.7, presence_penalty: 0 });

    expect(upstreamBody().temperature).toBe(0.7);
    expect(upstreamBody()).not.toHaveProperty('n');
    expect(upstreamBody()).not.toHaveProperty('presence_penalty');
  });
});

describe('Anthropic errors for OpenAI clients', () => {
  it('error event after two deltas', async () => {
    context.fakes.anthropic.enqueue({ reply: { text: 'One two three four five six.' }, interrupt: { afterDeltas: 2, action: 'error' } });
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    let text = '';
    const error = await rejectionOf<InstanceType<typeof OpenAI.APIError>>(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    );

    expect(text).toBe('One two ');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.message).toContain('Overloaded');
  });

  it('error event in the OpenAI format', async () => {
    context.fakes.anthropic.enqueue({ reply: { text: 'One two three four five six.' }, interrupt: { afterDeltas: 2, action: 'error' } });
    const response = await fetch(`${context.server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gatewayKey.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream: true }),
    });
    const text = await response.text();
    const events = text.split('\n\n').filter((block) => block.startsWith('data: '));
    const last = JSON.parse(events.at(-1)!.slice('data: '.length)) as Json;

    expect(response.status).toBe(200);
    expect(text).not.toContain('event:');
    expect(text).not.toContain('[DONE]');
    expect(Object.keys(last)).toEqual(['error']);
    expect(last.error).toMatchObject({ type: 'server_error', code: 'upstream_error' });
    expect(last.error.message).toContain('Overloaded');
  });

  it('socket closed mid-stream is an error', async () => {
    // The pause between events lets the two deltas leave the fake before its socket is destroyed.
    context.fakes.anthropic.enqueue({ reply: { text: 'One two three four five six.' }, eventIntervalMs: 20, interrupt: { afterDeltas: 2, action: 'destroy' } });
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    let text = '';
    const error = await rejectionOf<Error>(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    );

    expect(text).toBe('One two ');
    expect(error).toBeInstanceOf(OpenAI.APIError);
  });

  it('HTTP error in the OpenAI envelope', async () => {
    context.fakes.anthropic.enqueue({ error: { status: 429, message: 'Number of request tokens has exceeded your per-minute rate limit', headers: { 'retry-after': '7' } } });
    const response = await fetch(`${context.server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gatewayKey.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages }),
    });
    const body = (await response.json()) as Json;

    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.message).toContain('per-minute rate limit');
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error).toHaveProperty('param');
    expect(body.error).toHaveProperty('code');
  });

  it('HTTP error as the SDK error class', async () => {
    context.fakes.anthropic.enqueue({ error: { status: 400, message: 'prompt is too long: 210000 tokens > 200000 maximum' } });
    const error = await rejectionOf<InstanceType<typeof OpenAI.APIError>>(client.chat.completions.create({ model, messages }));

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.message).toContain('prompt is too long');
  });
});

describe('request log of translated calls', () => {
  async function onlyRow(key: CreatedGatewayKey) {
    const rows = await waitForRequestLogRows(context, context.server, key.id, 1);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  it('completion tokens as the client saw them', async () => {
    const { gatewayKey: key } = await createTenant(context, ['ANTHROPIC']);
    const completion = await openAiClient(context.server, key.secret).chat.completions.create({ model, messages });
    const row = await onlyRow(key);

    expect(row.status).toBe(200);
    expect(row.stream).toBe(false);
    expect(row.provider).toBe('ANTHROPIC');
    expect(row.model).toBe(model);
    expect(Number(row.input_uncached_tokens)).toBe(completion.usage!.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(completion.usage!.completion_tokens);
  });

  it('stream tokens as the client saw them', async () => {
    const { gatewayKey: key } = await createTenant(context, ['ANTHROPIC']);
    const stream = await openAiClient(context.server, key.secret).chat.completions.create({
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks } = await collect(stream);
    const usage = chunks.at(-1)!.usage!;
    const row = await onlyRow(key);

    expect(row.stream).toBe(true);
    expect(Number(row.input_uncached_tokens)).toBe(usage.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(usage.completion_tokens);
  });

  it('stream tokens logged without usage asked for', async () => {
    const { gatewayKey: key } = await createTenant(context, ['ANTHROPIC']);
    const stream = await openAiClient(context.server, key.secret).chat.completions.create({ model, messages, stream: true });
    const { text } = await collect(stream);
    const row = await onlyRow(key);

    expect(Number(row.input_uncached_tokens)).toBe(upstreamInputTokens());
    expect(Number(row.output_tokens)).toBe(countTokens(text));
  });

  it('error event logged with its type', async () => {
    const { gatewayKey: key } = await createTenant(context, ['ANTHROPIC']);
    context.fakes.anthropic.enqueue({ interrupt: { afterDeltas: 2, action: 'error' } });
    const stream = await openAiClient(context.server, key.secret).chat.completions.create({ model, messages, stream: true });
    await rejectionOf(collect(stream));
    const row = await onlyRow(key);

    expect(row.stream).toBe(true);
    expect(row.error_code).toBe('overloaded_error');
  });

  it('stream tokens with input at the end', async () => {
    const { gatewayKey: key } = await createTenant(context, ['ANTHROPIC']);
    context.fakes.anthropic.enqueue({ reply: { inputTokensAtEnd: true } });
    const stream = await openAiClient(context.server, key.secret).chat.completions.create({
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks } = await collect(stream);
    const row = await onlyRow(key);

    expect(Number(row.input_uncached_tokens)).toBe(chunks.at(-1)!.usage!.prompt_tokens);
    expect(Number(row.input_uncached_tokens)).toBe(upstreamInputTokens());
  });
});
