import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { SseEvent } from '../../src/proxy/sse/sse-parser.js';
import { AnthropicStreamRenderer } from '../../src/proxy/translation/anthropic-messages/stream.js';
import { OpenAiChatStreamParser } from '../../src/proxy/translation/openai-chat/stream.js';
import { fromDeepSeekUsage, fromOpenAiUsage, type CanonicalUsage } from '../../src/proxy/usage.js';
import { dataOnlySse, sseFetch, translateStream, wireText } from './stream-support.js';

const model = 'gpt-4o';
const openAiUsage = (raw: unknown) => fromOpenAiUsage(raw);

/** The fields every chunk of this OpenAI stream starts with. */
const head = '"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_eb9dce56a8"';

function openAiChunk(delta: string, finishReason = 'null'): string {
  return `{${head},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finishReason}}],"usage":null}`;
}

/**
 * OpenAI's parallel tool calls with `include_usage`, as gpt-4o streams them: text, then each call
 * whole (its id and name first, then argument fragments), the finish chunk, the usage chunk and [DONE].
 */
const textThenParallelCalls = dataOnlySse(
  openAiChunk('{"role":"assistant","content":"","refusal":null}'),
  openAiChunk('{"content":"Checking both."}'),
  openAiChunk(
    '{"tool_calls":[{"index":0,"id":"call_3kNHD9D5XSIhRA8q28ZS3mpS","type":"function","function":{"name":"get_weather","arguments":""}}]}',
  ),
  openAiChunk('{"tool_calls":[{"index":0,"function":{"arguments":"{\\"lo"}}]}'),
  openAiChunk('{"tool_calls":[{"index":0,"function":{"arguments":"cation\\": \\"Paris, FR\\"}"}}]}'),
  openAiChunk(
    '{"tool_calls":[{"index":1,"id":"call_Ov5mFWHNlo2GQrqgkmAw9QgA","type":"function","function":{"name":"get_time","arguments":""}}]}',
  ),
  openAiChunk('{"tool_calls":[{"index":1,"function":{"arguments":"{\\"timezone\\": \\"Europe/Paris\\"}"}}]}'),
  openAiChunk('{}', '"tool_calls"'),
  `{${head},"choices":[],"usage":{"prompt_tokens":2082,"completion_tokens":47,"total_tokens":2129,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
  '[DONE]',
);

/** Serializes a chunk around a `delta` object, so that argument fragments need no hand escaping. */
function interleavingChunk(delta: Record<string, unknown>, finishReason: string | null = null, usage?: Record<string, number>): string {
  const choices = [{ index: 0, delta, finish_reason: finishReason }];
  return JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1741570300, model: 'glm-4.6', choices, ...(usage && { usage }) });
}

function argumentsFragment(index: number, json: string): Record<string, unknown> {
  return { tool_calls: [{ index, function: { arguments: json } }] };
}

/**
 * A provider that interleaves the fragments of two parallel calls: both start in one chunk, and
 * their argument fragments alternate. The first call's string value contains `}` twice, the second
 * after an escaped quote whose backslash ends the fragment before, and neither may end the call's
 * arguments early.
 */
const interleavedCalls = dataOnlySse(
  interleavingChunk({
    role: 'assistant',
    content: null,
    tool_calls: [
      { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
    ],
  }),
  interleavingChunk(argumentsFragment(0, '{"city": ')),
  interleavingChunk(argumentsFragment(1, '{"zone": ')),
  interleavingChunk(argumentsFragment(0, '"Paris} \\')),
  interleavingChunk(argumentsFragment(1, '"CET"}')),
  interleavingChunk(argumentsFragment(0, '"}')),
  interleavingChunk(argumentsFragment(0, ' x"}')),
  interleavingChunk({}, 'tool_calls', { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 }),
  '[DONE]',
);

/** Mistral: no `stream_options`, usage in the finish chunk itself, 9-character tool call ids. */
const mistralToolCall = dataOnlySse(
  '{"id":"cf79f7daaee244b1a0ae5c7b1444424a","object":"chat.completion.chunk","created":1741570400,"model":"mistral-large-latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
  '{"id":"cf79f7daaee244b1a0ae5c7b1444424a","object":"chat.completion.chunk","created":1741570400,"model":"mistral-large-latest","choices":[{"index":0,"delta":{"tool_calls":[{"id":"D681PevKs","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"},"index":0}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":92,"total_tokens":116,"completion_tokens":24}}',
  '[DONE]',
);

/** DeepSeek thinking mode: reasoning_content first, then content, with DeepSeek's cache counts. */
const deepSeekReasoning = dataOnlySse(
  '{"id":"1f1a0b0c-5d3e","object":"chat.completion.chunk","created":1741570500,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}',
  '{"id":"1f1a0b0c-5d3e","object":"chat.completion.chunk","created":1741570500,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"9.11 < 9.9"},"logprobs":null,"finish_reason":null}]}',
  '{"id":"1f1a0b0c-5d3e","object":"chat.completion.chunk","created":1741570500,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"9.9 is larger.","reasoning_content":null},"logprobs":null,"finish_reason":null}]}',
  '{"id":"1f1a0b0c-5d3e","object":"chat.completion.chunk","created":1741570500,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":18,"completion_tokens":40,"total_tokens":58,"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":18,"completion_tokens_details":{"reasoning_tokens":30}}}',
  '[DONE]',
);

const twoContentDeltas = [
  openAiChunk('{"role":"assistant","content":""}'),
  openAiChunk('{"content":"Once upon"}'),
  openAiChunk('{"content":" a time"}'),
];

/** The connection closed after two deltas: no finish_reason and no [DONE]. */
const truncatedStream = dataOnlySse(...twoContentDeltas);

/** An error chunk after two deltas, as OpenAI sends when generation fails mid-stream. */
const errorAfterTwoDeltas = dataOnlySse(
  ...twoContentDeltas,
  '{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}',
  openAiChunk('{"content":" ignored"}'),
  '[DONE]',
);

function translate(text: string, readUsage: (raw: unknown) => CanonicalUsage = openAiUsage): SseEvent[] {
  return translateStream(new OpenAiChatStreamParser(readUsage), new AnthropicStreamRenderer({ model }), text);
}

/** Returns the events as `[name, data]` pairs. */
function named(events: SseEvent[]): [string | undefined, unknown][] {
  return events.map((event) => [event.event, JSON.parse(event.data)]);
}

function messageStart(id: string) {
  return [
    'message_start',
    {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
    },
  ];
}

function blockStart(index: number, block: Record<string, unknown>) {
  return ['content_block_start', { type: 'content_block_start', index, content_block: block }];
}

function blockDelta(index: number, delta: Record<string, unknown>) {
  return ['content_block_delta', { type: 'content_block_delta', index, delta }];
}

function blockStop(index: number) {
  return ['content_block_stop', { type: 'content_block_stop', index }];
}

/** Joins the input JSON fragments of every tool_use block, by its id. */
function toolInputs(events: SseEvent[]): Record<string, string> {
  const idByIndex = new Map<number, string>();
  const inputs: Record<string, string> = {};
  for (const [, data] of named(events)) {
    const event = data as { type: string; index: number; content_block?: { type: string; id: string }; delta?: { partial_json?: string } };
    if (event.type === 'content_block_start' && event.content_block?.type === 'tool_use') {
      idByIndex.set(event.index, event.content_block.id);
      inputs[event.content_block.id] = '';
    } else if (event.type === 'content_block_delta' && event.delta?.partial_json !== undefined) {
      const id = idByIndex.get(event.index)!;
      inputs[id] += event.delta.partial_json;
    }
  }
  return inputs;
}

describe('OpenAI chunks to Anthropic stream', () => {
  it('renders text then parallel tool calls', () => {
    expect(named(translate(textThenParallelCalls))).toEqual([
      messageStart('chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG'),
      blockStart(0, { type: 'text', text: '' }),
      blockDelta(0, { type: 'text_delta', text: 'Checking both.' }),
      blockStop(0),
      blockStart(1, { type: 'tool_use', id: 'call_3kNHD9D5XSIhRA8q28ZS3mpS', name: 'get_weather', input: {} }),
      blockDelta(1, { type: 'input_json_delta', partial_json: '{"lo' }),
      blockDelta(1, { type: 'input_json_delta', partial_json: 'cation": "Paris, FR"}' }),
      blockStop(1),
      blockStart(2, { type: 'tool_use', id: 'call_Ov5mFWHNlo2GQrqgkmAw9QgA', name: 'get_time', input: {} }),
      blockDelta(2, { type: 'input_json_delta', partial_json: '{"timezone": "Europe/Paris"}' }),
      blockStop(2),
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { input_tokens: 162, cache_creation_input_tokens: 0, cache_read_input_tokens: 1920, output_tokens: 47 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]);
  });

  it('writes named events', () => {
    const text = wireText(translate(textThenParallelCalls));

    expect(text.startsWith('event: message_start\ndata: {"type":"message_start","message":{"id":"chatcmpl-')).toBe(true);
    expect(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
  });

  it('waits for usage after the finish reason', () => {
    const events = translate(textThenParallelCalls);
    const names = events.map((event) => event.event);

    expect(names.filter((name) => name === 'message_delta')).toHaveLength(1);
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
  });

  it('keeps interleaved arguments whole', () => {
    const events = translate(interleavedCalls);

    expect(toolInputs(events)).toEqual({ call_a: '{"city": "Paris} \\"} x"}', call_b: '{"zone": "CET"}' });
  });

  it('orders interleaved calls as they started', () => {
    const starts = named(translate(interleavedCalls)).filter(([name]) => name === 'content_block_start');

    expect(starts).toEqual([
      blockStart(0, { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} }),
      blockStart(1, { type: 'tool_use', id: 'call_b', name: 'get_time', input: {} }),
    ]);
  });

  it('closes each interleaved call before the next', () => {
    const blockEvents = named(translate(interleavedCalls))
      .filter(([name]) => name?.startsWith('content_block'))
      .map(([name, data]) => `${name}:${(data as { index: number }).index}`);

    expect(blockEvents).toEqual([
      'content_block_start:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_stop:0',
      'content_block_start:1',
      'content_block_delta:1',
      'content_block_stop:1',
    ]);
  });

  it('reads Mistral usage from the finish chunk', () => {
    const events = named(translate(mistralToolCall));

    expect(events.slice(1)).toEqual([
      blockStart(0, { type: 'tool_use', id: 'D681PevKs', name: 'get_weather', input: {} }),
      blockDelta(0, { type: 'input_json_delta', partial_json: '{"city": "Paris"}' }),
      blockStop(0),
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { input_tokens: 92, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 24 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]);
  });

  it('renders reasoning_content as thinking', () => {
    const events = named(translate(deepSeekReasoning, fromDeepSeekUsage));

    expect(events.slice(1, 7)).toEqual([
      blockStart(0, { type: 'thinking', thinking: '', signature: '' }),
      blockDelta(0, { type: 'thinking_delta', thinking: '9.11 < 9.9' }),
      blockStop(0),
      blockStart(1, { type: 'text', text: '' }),
      blockDelta(1, { type: 'text_delta', text: '9.9 is larger.' }),
      blockStop(1),
    ]);
    expect(events[7]).toEqual([
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 18, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 40 },
      },
    ]);
  });

  it('ends a truncated stream with an error', () => {
    const events = named(translate(truncatedStream));

    expect(events.map(([name]) => name)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    expect(events.at(-1)?.[1]).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'The upstream closed the stream before the response was complete.' },
    });
  });

  it('finishes a stream cut after its finish reason', () => {
    const stream = dataOnlySse(...twoContentDeltas, openAiChunk('{}', '"stop"'));
    const names = translate(stream).map((event) => event.event);

    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('passes a mid-stream error on and stops', () => {
    const events = named(translate(errorAfterTwoDeltas));

    expect(events.slice(2)).toEqual([
      blockDelta(0, { type: 'text_delta', text: 'Once upon' }),
      blockDelta(0, { type: 'text_delta', text: ' a time' }),
      [
        'error',
        { type: 'error', error: { type: 'api_error', message: 'The server had an error while processing your request.' } },
      ],
    ]);
  });

  it('reports [DONE] without a finish reason as an error', () => {
    const stream = dataOnlySse(...twoContentDeltas, '[DONE]');
    const last = named(translate(stream)).at(-1);

    expect(last?.[0]).toBe('error');
    expect(last?.[1]).toMatchObject({ error: { type: 'api_error' } });
  });
});

describe('Anthropic SDK on translated events', () => {
  function client(text: string): Anthropic {
    return new Anthropic({ apiKey: 'test-key', baseURL: 'http://127.0.0.1:9', maxRetries: 0, fetch: sseFetch(text) });
  }

  const request = {
    model,
    max_tokens: 1024,
    messages: [{ role: 'user' as const, content: 'Weather and time in Paris?' }],
  };

  it('assembles text, tool calls and usage', async () => {
    const body = wireText(translate(textThenParallelCalls));
    const message = await client(body).messages.stream(request).finalMessage();

    expect(message.content).toEqual([
      { type: 'text', text: 'Checking both.' },
      { type: 'tool_use', id: 'call_3kNHD9D5XSIhRA8q28ZS3mpS', name: 'get_weather', input: { location: 'Paris, FR' } },
      { type: 'tool_use', id: 'call_Ov5mFWHNlo2GQrqgkmAw9QgA', name: 'get_time', input: { timezone: 'Europe/Paris' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({
      input_tokens: 162,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1920,
      output_tokens: 47,
    });
  });

  it('assembles interleaved tool calls', async () => {
    const body = wireText(translate(interleavedCalls));
    const message = await client(body).messages.stream(request).finalMessage();

    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris} "} x' } },
      { type: 'tool_use', id: 'call_b', name: 'get_time', input: { zone: 'CET' } },
    ]);
  });

  it('assembles thinking then text', async () => {
    const body = wireText(translate(deepSeekReasoning, fromDeepSeekUsage));
    const message = await client(body).messages.stream(request).finalMessage();

    expect(message.content).toEqual([
      { type: 'thinking', thinking: '9.11 < 9.9', signature: '' },
      { type: 'text', text: '9.9 is larger.' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('rejects a mid-stream error', async () => {
    const body = wireText(translate(errorAfterTwoDeltas));

    await expect(client(body).messages.stream(request).finalMessage()).rejects.toThrow(
      'The server had an error while processing your request.',
    );
  });

  it('rejects a truncated stream', async () => {
    const body = wireText(translate(truncatedStream));

    await expect(client(body).messages.stream(request).finalMessage()).rejects.toThrow('before the response was complete');
  });
});
