import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SseEvent } from '../../src/proxy/sse/sse-parser.js';
import { AnthropicStreamParser } from '../../src/proxy/translation/anthropic-messages/stream.js';
import {
  OpenAiChatStreamRenderer,
  type OpenAiChatStreamRendererOptions,
} from '../../src/proxy/translation/openai-chat/stream.js';
import { dataOf, sseFetch, sseText, translateStream, wireText } from './stream-support.js';

/** 2026-01-01T00:00:00Z, the `created` of every chunk while the clock is faked. */
const created = 1_767_225_600;
const model = 'claude-sonnet-4-5';

/**
 * A text block, then two tool_use blocks at Anthropic indexes 1 and 2, shaped like the tool use
 * streaming example of Anthropic's documentation (with a ping and the empty first input fragment).
 */
const textThenTwoTools = sseText(
  [
    'event: message_start',
    'data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":128,"output_tokens":2},"content":[],"stop_reason":null}}',
  ],
  ['event: content_block_start', 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'],
  ['event: ping', 'data: {"type": "ping"}'],
  ['event: content_block_delta', 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}'],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", checking both cities."}}',
  ],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
  [
    'event: content_block_start',
    'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\"}"}}',
  ],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":1}'],
  [
    'event: content_block_start',
    'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01Q5g5dJxPSjVhGz3Gv8Wj2n","name":"get_time","input":{}}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"timezone\\": \\"Europe/"}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"Paris\\"}"}}',
  ],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":2}'],
  [
    'event: message_delta',
    'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}',
  ],
  ['event: message_stop', 'data: {"type":"message_stop"}'],
);

/** Extended thinking: a thinking block signed by one signature_delta, then the text. */
const thinkingThenText = sseText(
  [
    'event: message_start',
    'data: {"type":"message_start","message":{"id":"msg_01Thinking","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":36,"output_tokens":4}}}',
  ],
  [
    'event: content_block_start',
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"27 + 15: 20 + 10 = 30,"}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" 7 + 5 = 12, so 42."}}',
  ],
  [
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}',
  ],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
  ['event: content_block_start', 'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}'],
  ['event: content_block_delta', 'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"42"}}'],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":1}'],
  [
    'event: message_delta',
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":61}}',
  ],
  ['event: message_stop', 'data: {"type":"message_stop"}'],
);

/** An upstream that sends message_start with zero input and the real counts only in message_delta. */
const inputOnlyInMessageDelta = sseText(
  [
    'event: message_start',
    'data: {"type":"message_start","message":{"id":"msg_02Late","type":"message","role":"assistant","model":"deepseek-v4-flash","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}',
  ],
  ['event: content_block_start', 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'],
  ['event: content_block_delta', 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi."}}'],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
  [
    'event: message_delta',
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":1520,"cache_read_input_tokens":1280,"output_tokens":37}}',
  ],
  ['event: message_stop', 'data: {"type":"message_stop"}'],
);

const twoTextDeltas = [
  [
    'event: message_start',
    'data: {"type":"message_start","message":{"id":"msg_03Cut","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}',
  ],
  ['event: content_block_start', 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'],
  ['event: content_block_delta', 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Once upon"}}'],
  ['event: content_block_delta', 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" a time"}}'],
];

/** The stream cut after two text deltas: no content_block_stop, message_delta or message_stop. */
const truncatedStream = sseText(...twoTextDeltas);

/** Anthropic's mid-stream overload error after two text deltas, then events that must be ignored. */
const overloadedAfterTwoDeltas = sseText(
  ...twoTextDeltas,
  ['event: error', 'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'],
  ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
  ['event: message_stop', 'data: {"type":"message_stop"}'],
);

function translate(text: string, options: Partial<OpenAiChatStreamRendererOptions> = {}): SseEvent[] {
  return translateStream(new AnthropicStreamParser(), new OpenAiChatStreamRenderer({ model, includeUsage: true, ...options }), text);
}

/** Builds a chunk with choice 0, as the renderer writes it for a client that requested usage. */
function chunk(id: string, delta: Record<string, unknown>, finishReason: string | null = null) {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    usage: null,
  };
}

describe('Anthropic stream to OpenAI chunks', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('renders text then two tool calls', () => {
    const id = 'msg_014p7gG3wDgGV9EUtLvnow3U';
    const firstCall = 'toolu_01T1x1fJ34qAmk2tNTrN7Up6';
    const secondCall = 'toolu_01Q5g5dJxPSjVhGz3Gv8Wj2n';

    expect(dataOf(translate(textThenTwoTools))).toEqual([
      chunk(id, { role: 'assistant', content: '' }),
      chunk(id, { content: 'Okay' }),
      chunk(id, { content: ', checking both cities.' }),
      chunk(id, { tool_calls: [{ index: 0, id: firstCall, type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk(id, { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }),
      chunk(id, { tool_calls: [{ index: 0, function: { arguments: ' "San Francisco, CA"}' } }] }),
      chunk(id, { tool_calls: [{ index: 1, id: secondCall, type: 'function', function: { name: 'get_time', arguments: '' } }] }),
      chunk(id, { tool_calls: [{ index: 1, function: { arguments: '{"timezone": "Europe/' } }] }),
      chunk(id, { tool_calls: [{ index: 1, function: { arguments: 'Paris"}' } }] }),
      chunk(id, {}, 'tool_calls'),
      {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: {
          prompt_tokens: 600,
          completion_tokens: 89,
          total_tokens: 689,
          prompt_tokens_details: { cached_tokens: 128 },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      },
      '[DONE]',
    ]);
  });

  it('writes data-only events', () => {
    const text = wireText(translate(textThenTwoTools));

    expect(text).not.toContain('event:');
    expect(text.startsWith(
      'data: {"id":"msg_014p7gG3wDgGV9EUtLvnow3U","object":"chat.completion.chunk","created":1767225600,"model":"claude-sonnet-4-5","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}\n\n',
    )).toBe(true);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('restores tool call ids', () => {
    const events = translate(textThenTwoTools, { restoreToolCallId: (id) => `restored_${id.slice(-4)}` });
    const ids = dataOf(events).flatMap((data) => {
      const delta = (data as { choices?: { delta: { tool_calls?: { id?: string }[] } }[] }).choices?.[0]?.delta;
      return delta?.tool_calls?.flatMap((call) => (call.id ? [call.id] : [])) ?? [];
    });

    expect(ids).toEqual(['restored_7Up6', 'restored_Wj2n']);
  });

  it('omits usage when not requested', () => {
    const data = dataOf(translate(textThenTwoTools, { includeUsage: false })) as Record<string, unknown>[];
    const finish = data.at(-2) as { choices: { finish_reason: string | null }[] };

    expect(data.some((entry) => typeof entry === 'object' && 'usage' in entry)).toBe(false);
    expect(finish.choices[0]?.finish_reason).toBe('tool_calls');
    expect(data.at(-1)).toBe('[DONE]');
  });

  it('sends usage after the finish chunk', () => {
    const data = dataOf(translate(textThenTwoTools)) as { choices: unknown[]; usage: unknown }[];
    const withChoices = data.slice(0, -1).filter((entry) => entry.choices.length > 0);

    expect(data.at(-2)?.choices).toEqual([]);
    expect(withChoices.at(-1)).toMatchObject({ choices: [{ finish_reason: 'tool_calls' }] });
    expect(data.at(-1)).toBe('[DONE]');
  });

  it('counts input reported only in message_delta', () => {
    const data = dataOf(translate(inputOnlyInMessageDelta));

    expect(data.at(-2)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 2800, completion_tokens: 37, total_tokens: 2837, prompt_tokens_details: { cached_tokens: 1280 } },
    });
  });

  it('renders thinking with its signature', () => {
    const id = 'msg_01Thinking';
    const data = dataOf(translate(thinkingThenText, { includeUsage: false }));
    const plain = (delta: Record<string, unknown>, finishReason: string | null = null) => {
      const { usage: _usage, ...rest } = chunk(id, delta, finishReason);
      return rest;
    };

    expect(data).toEqual([
      plain({ role: 'assistant', content: '' }),
      plain({ reasoning_content: '27 + 15: 20 + 10 = 30,' }),
      plain({ reasoning_content: ' 7 + 5 = 12, so 42.' }),
      plain({
        thinking_blocks: [
          {
            index: 0,
            type: 'thinking',
            thinking: '27 + 15: 20 + 10 = 30, 7 + 5 = 12, so 42.',
            signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
          },
        ],
      }),
      plain({ content: '42' }),
      plain({}, 'stop'),
      '[DONE]',
    ]);
  });

  it('omits thinking blocks when disabled', () => {
    const text = wireText(translate(thinkingThenText, { emitReasoningSignatures: false }));

    expect(text).not.toContain('thinking_blocks');
    expect(text).toContain('"reasoning_content":" 7 + 5 = 12, so 42."');
  });

  it('renders redacted thinking as a thinking block', () => {
    const stream = sseText(
      [
        'event: message_start',
        'data: {"type":"message_start","message":{"id":"msg_04Redacted","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}}',
      ],
      [
        'event: content_block_start',
        'data: {"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"}}',
      ],
      ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
      ['event: content_block_start', 'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}'],
      ['event: content_block_delta', 'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Done."}}'],
      ['event: content_block_stop', 'data: {"type":"content_block_stop","index":1}'],
      [
        'event: message_delta',
        'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}',
      ],
      ['event: message_stop', 'data: {"type":"message_stop"}'],
    );
    const data = dataOf(translate(stream)) as { choices: { delta: unknown }[] }[];

    expect(data[1]?.choices[0]?.delta).toEqual({
      thinking_blocks: [{ index: 0, type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' }],
    });
    expect(data[2]?.choices[0]?.delta).toEqual({ content: 'Done.' });
  });

  it('ends a truncated stream with an error', () => {
    const data = dataOf(translate(truncatedStream));

    expect(data).toHaveLength(4);
    expect(data.at(-1)).toEqual({
      error: {
        message: 'The upstream closed the stream before the response was complete.',
        type: 'server_error',
        code: 'upstream_error',
        param: null,
      },
    });
  });

  it('sends no finish or [DONE] after truncation', () => {
    const text = wireText(translate(truncatedStream));

    expect(text).not.toContain('finish_reason":"');
    expect(text).not.toContain('[DONE]');
  });

  it('passes a mid-stream error on and stops', () => {
    const data = dataOf(translate(overloadedAfterTwoDeltas));

    expect(data).toEqual([
      chunk('msg_03Cut', { role: 'assistant', content: '' }),
      chunk('msg_03Cut', { content: 'Once upon' }),
      chunk('msg_03Cut', { content: ' a time' }),
      { error: { message: 'Overloaded', type: 'server_error', code: 'upstream_error', param: null } },
    ]);
  });

  it('reports a stop-less message_stop as an error', () => {
    const stream = sseText(...twoTextDeltas, ['event: message_stop', 'data: {"type":"message_stop"}']);
    const data = dataOf(translate(stream));

    expect(data.at(-1)).toMatchObject({ error: { message: 'The upstream ended the response without a stop reason.' } });
    expect(data).not.toContain('[DONE]');
  });

  it('maps max_tokens to length', () => {
    const stream = sseText(
      ...twoTextDeltas,
      ['event: content_block_stop', 'data: {"type":"content_block_stop","index":0}'],
      [
        'event: message_delta',
        'data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":2}}',
      ],
      ['event: message_stop', 'data: {"type":"message_stop"}'],
    );
    const data = dataOf(translate(stream)) as { choices: { finish_reason: string | null }[] }[];

    expect(data.at(-3)?.choices[0]?.finish_reason).toBe('length');
  });
});

describe('OpenAI SDK on translated chunks', () => {
  const tool = (name: string) => ({
    type: 'function' as const,
    function: {
      name,
      strict: true,
      parameters: { type: 'object', properties: {}, additionalProperties: true },
    },
  });

  function client(text: string): OpenAI {
    return new OpenAI({ apiKey: 'test-key', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0, fetch: sseFetch(text) });
  }

  it('assembles text, tool calls and usage', async () => {
    const body = wireText(translate(textThenTwoTools));
    const stream = client(body).chat.completions.stream({
      model,
      messages: [{ role: 'user', content: 'Weather in San Francisco and time in Paris?' }],
      tools: [tool('get_weather'), tool('get_time')],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    const message = completion.choices[0]?.message;

    expect(message?.content).toBe('Okay, checking both cities.');
    expect(message?.tool_calls?.map((call) => call.id)).toEqual(['toolu_01T1x1fJ34qAmk2tNTrN7Up6', 'toolu_01Q5g5dJxPSjVhGz3Gv8Wj2n']);
    expect(message?.tool_calls?.map((call) => call.type === 'function' && call.function.parsed_arguments)).toEqual([
      { location: 'San Francisco, CA' },
      { timezone: 'Europe/Paris' },
    ]);
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.usage).toMatchObject({ prompt_tokens: 600, completion_tokens: 89, total_tokens: 689 });
  });

  it('keeps the thinking block on the message', async () => {
    const body = wireText(translate(thinkingThenText));
    const completion = await client(body)
      .chat.completions.stream({ model, messages: [{ role: 'user', content: '27 + 15?' }] })
      .finalChatCompletion();
    const message = completion.choices[0]?.message as unknown as Record<string, unknown>;

    expect(message.content).toBe('42');
    expect(message.thinking_blocks).toEqual([
      {
        index: 0,
        type: 'thinking',
        thinking: '27 + 15: 20 + 10 = 30, 7 + 5 = 12, so 42.',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
      },
    ]);
  });

  it('rejects a mid-stream error', async () => {
    const body = wireText(translate(overloadedAfterTwoDeltas));
    const stream = client(body).chat.completions.stream({ model, messages: [{ role: 'user', content: 'A story.' }] });

    await expect(stream.finalChatCompletion()).rejects.toThrow('Overloaded');
  });

  it('rejects a truncated stream', async () => {
    const body = wireText(translate(truncatedStream));
    const stream = client(body).chat.completions.stream({ model, messages: [{ role: 'user', content: 'A story.' }] });

    await expect(stream.finalChatCompletion()).rejects.toThrow('before the response was complete');
  });
});
