import { describe, expect, it } from 'vitest';
import { AnthropicStreamParser } from '../../src/proxy/translation/anthropic-messages/stream.js';
import type { StreamEvent } from '../../src/proxy/translation/ir.js';
import { OpenAiChatStreamParser } from '../../src/proxy/translation/openai-chat/stream.js';
import { fromOpenAiUsage, fromXaiUsage } from '../../src/proxy/usage.js';
import { dataOnlySse, parseStream, sseText } from './stream-support.js';

function anthropicEvent(type: string, data: Record<string, unknown>): string[] {
  return [`event: ${type}`, `data: ${JSON.stringify({ type, ...data })}`];
}

const messageStart = anthropicEvent('message_start', {
  message: {
    id: 'msg_01',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 472, cache_creation_input_tokens: 100, cache_read_input_tokens: 128, output_tokens: 2 },
  },
});
const textStart = (index: number) => anthropicEvent('content_block_start', { index, content_block: { type: 'text', text: '' } });
const textDelta = (index: number, text: string) =>
  anthropicEvent('content_block_delta', { index, delta: { type: 'text_delta', text } });
const blockStop = (index: number) => anthropicEvent('content_block_stop', { index });
const messageDelta = (stopReason: string, usage: Record<string, number>, stopSequence: string | null = null) =>
  anthropicEvent('message_delta', { delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage });
const messageStop = anthropicEvent('message_stop', {});

function parseAnthropic(...events: string[][]): StreamEvent[] {
  return parseStream(new AnthropicStreamParser(), sseText(...events));
}

describe('AnthropicStreamParser', () => {
  it('reads message_start with its usage', () => {
    const [start] = parseAnthropic(messageStart);

    expect(start).toEqual({
      type: 'message_start',
      id: 'msg_01',
      model: 'claude-sonnet-4-5-20250929',
      usage: { inputUncached: 472, cacheRead: 128, cacheWrite: 100, output: 2, reasoning: 0 },
    });
  });

  it('replaces output with the cumulative count', () => {
    const events = parseAnthropic(messageStart, textStart(0), textDelta(0, 'Hi'), blockStop(0), messageDelta('end_turn', { output_tokens: 89 }), messageStop);

    expect(events.find((event) => event.type === 'usage')).toEqual({
      type: 'usage',
      usage: { inputUncached: 472, cacheRead: 128, cacheWrite: 100, output: 89, reasoning: 0 },
    });
  });

  it('takes input first reported in message_delta', () => {
    const lateStart = anthropicEvent('message_start', {
      message: { id: 'msg_02', model: 'glm-4.6', content: [], usage: { input_tokens: 0, output_tokens: 0 } },
    });
    const events = parseAnthropic(
      lateStart,
      textStart(0),
      textDelta(0, 'Hi'),
      blockStop(0),
      messageDelta('end_turn', { input_tokens: 1520, cache_read_input_tokens: 1280, output_tokens: 37 }),
      messageStop,
    );

    expect(events.find((event) => event.type === 'usage')).toEqual({
      type: 'usage',
      usage: { inputUncached: 1520, cacheRead: 1280, cacheWrite: 0, output: 37, reasoning: 0 },
    });
  });

  it('merges the raw usage objects', () => {
    const parser = new AnthropicStreamParser();
    parseStream(parser, sseText(messageStart, messageDelta('end_turn', { output_tokens: 89 }), messageStop));

    expect(parser.rawUsage).toEqual({ input_tokens: 472, cache_creation_input_tokens: 100, cache_read_input_tokens: 128, output_tokens: 89 });
  });

  it('emits the stop before the usage', () => {
    const events = parseAnthropic(messageStart, messageDelta('end_turn', { output_tokens: 5 }), messageStop);

    expect(events.slice(1).map((event) => event.type)).toEqual(['stop', 'usage', 'message_stop']);
  });

  it('keeps the matched stop sequence', () => {
    const events = parseAnthropic(messageStart, messageDelta('stop_sequence', { output_tokens: 5 }, '\n\nHuman:'), messageStop);

    expect(events.find((event) => event.type === 'stop')).toEqual({
      type: 'stop',
      reason: { type: 'stop_sequence', sequence: '\n\nHuman:' },
    });
  });

  it('skips server tool blocks and renumbers', () => {
    const events = parseAnthropic(
      messageStart,
      anthropicEvent('content_block_start', {
        index: 0,
        content_block: { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: {} },
      }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"query":"x"}' } }),
      blockStop(0),
      anthropicEvent('content_block_start', {
        index: 1,
        content_block: { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_01', content: [] },
      }),
      blockStop(1),
      textStart(2),
      textDelta(2, 'Found it.'),
      blockStop(2),
      messageDelta('end_turn', { output_tokens: 30 }),
      messageStop,
    );

    expect(events.slice(1, 4)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Found it.' },
      { type: 'block_stop', index: 0 },
    ]);
  });

  it('reads events without names', () => {
    // Bedrock's InvokeModelWithResponseStream carries the same JSON in frames without SSE names.
    const parser = new AnthropicStreamParser();
    const events = [
      parser.push({ data: JSON.stringify({ type: 'message_start', message: { id: 'msg_bdrk_01', model: 'claude', usage: { input_tokens: 3 } } }) }),
      parser.push({ data: JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) }),
      parser.push({ data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }) }),
    ].flat();

    expect(events.map((event) => event.type)).toEqual(['message_start', 'block_start', 'text_delta']);
  });

  it('passes a whole tool input as one fragment', () => {
    const events = parseAnthropic(
      messageStart,
      anthropicEvent('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { location: 'Paris' } },
      }),
      blockStop(0),
    );

    expect(events.slice(1, 3)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'toolu_01', name: 'get_weather' } },
      { type: 'tool_arguments_delta', index: 0, json: '{"location":"Paris"}' },
    ]);
  });

  it('drops empty input fragments', () => {
    const events = parseAnthropic(
      messageStart,
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_01', name: 'f', input: {} } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '' } }),
      blockStop(0),
      messageDelta('tool_use', { output_tokens: 5 }),
      messageStop,
    );

    expect(events.slice(0, 3).map((event) => event.type)).toEqual(['message_start', 'block_start', 'block_stop']);
  });

  it('reads thinking, signature and redacted blocks', () => {
    const events = parseAnthropic(
      messageStart,
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } }),
      blockStop(0),
      anthropicEvent('content_block_start', { index: 1, content_block: { type: 'redacted_thinking', data: 'EmwK' } }),
      blockStop(1),
    );

    expect(events.slice(1, 7)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'thinking_delta', index: 0, text: 'Hmm.' },
      { type: 'signature_delta', index: 0, signature: 'EqQB' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'redacted_thinking', data: 'EmwK' } },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('drops a delta of another block type', () => {
    const events = parseAnthropic(
      messageStart,
      textStart(0),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'x' } }),
      blockStop(0),
    );

    expect(events.slice(0, 3).map((event) => event.type)).toEqual(['message_start', 'block_start', 'block_stop']);
  });

  it('reads pings and ignores unknown events', () => {
    const events = parseAnthropic(
      messageStart,
      ['event: ping', 'data: {"type": "ping"}'],
      anthropicEvent('future_event', { value: 1 }),
      messageDelta('end_turn', { output_tokens: 1 }),
    );

    expect(events.slice(0, 3).map((event) => event.type)).toEqual(['message_start', 'ping', 'stop']);
  });

  it('reads an error event and stops', () => {
    const events = parseAnthropic(
      messageStart,
      anthropicEvent('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
      textStart(0),
      messageStop,
    );

    expect(events.slice(1)).toEqual([{ type: 'error', errorType: 'overloaded_error', message: 'Overloaded' }]);
  });

  it('maps an unknown error type to api_error', () => {
    const events = parseAnthropic(anthropicEvent('error', { error: { type: 'billing_error', message: 'No credit.' } }));

    expect(events).toEqual([{ type: 'error', errorType: 'api_error', message: 'No credit.' }]);
  });

  it('reports invalid JSON as an error', () => {
    const events = parseAnthropic(messageStart, ['event: content_block_start', 'data: {"type":"content_bl']);

    expect(events.at(-1)).toEqual({
      type: 'error',
      errorType: 'api_error',
      message: 'The upstream sent a stream event that is not valid JSON.',
    });
  });

  it('finishes a stream cut after its stop reason', () => {
    const events = parseAnthropic(messageStart, textStart(0), textDelta(0, 'Hi'), messageDelta('end_turn', { output_tokens: 3 }));

    expect(events.slice(-2)).toEqual([{ type: 'block_stop', index: 0 }, { type: 'message_stop' }]);
  });

  it('reports a stream cut before its stop', () => {
    const events = parseAnthropic(messageStart, textStart(0), textDelta(0, 'Hi'));

    expect(events.at(-1)).toEqual({
      type: 'error',
      errorType: 'api_error',
      message: 'The upstream closed the stream before the response was complete.',
    });
  });

  it('emits nothing after message_stop', () => {
    const parser = new AnthropicStreamParser();
    parseStream(parser, sseText(messageStart, messageDelta('end_turn', { output_tokens: 1 }), messageStop));

    expect(parser.push({ event: 'ping', data: '{"type":"ping"}' })).toEqual([]);
    expect(parser.end()).toEqual([]);
  });
});

function chunk(delta: Record<string, unknown>, finishReason: string | null = null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1741570283,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  });
}

function parseOpenAi(...data: string[]): StreamEvent[] {
  return parseStream(new OpenAiChatStreamParser((raw) => fromOpenAiUsage(raw)), dataOnlySse(...data));
}

describe('OpenAiChatStreamParser', () => {
  it('starts the message from the first chunk', () => {
    const [start] = parseOpenAi(chunk({ role: 'assistant', content: '' }));

    expect(start).toEqual({ type: 'message_start', id: 'chatcmpl-1', model: 'gpt-4o-2024-08-06', created: 1741570283 });
  });

  it('reads text, finish reason and [DONE]', () => {
    const events = parseOpenAi(chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hi' }), chunk({}, 'length'), '[DONE]');

    expect(events.slice(1)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Hi' },
      { type: 'block_stop', index: 0 },
      { type: 'stop', reason: { type: 'max_tokens' } },
      { type: 'message_stop' },
    ]);
  });

  it('passes an unknown finish reason through', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }), chunk({}, 'guardrail_stop'), '[DONE]');

    expect(events.find((event) => event.type === 'stop')).toEqual({
      type: 'stop',
      reason: { type: 'unknown', value: 'guardrail_stop' },
    });
  });

  it('converts usage with the given reader', () => {
    const parser = new OpenAiChatStreamParser(fromXaiUsage);
    const usage = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 50, completion_tokens_details: { reasoning_tokens: 20 } };
    const events = parseStream(parser, dataOnlySse(chunk({ content: 'Hi' }, 'stop'), JSON.stringify({ id: 'x', choices: [], usage }), '[DONE]'));

    expect(events.find((event) => event.type === 'usage')).toEqual({
      type: 'usage',
      usage: { inputUncached: 10, cacheRead: 0, cacheWrite: 0, output: 40, reasoning: 20 },
    });
    expect(parser.rawUsage).toEqual(usage);
  });

  it('ignores usage null', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }, null, { usage: null }), chunk({}, 'stop', { usage: null }), '[DONE]');

    expect(events.some((event) => event.type === 'usage')).toBe(false);
  });

  it('splits Mistral thinking and text chunks', () => {
    const events = parseOpenAi(
      chunk({ role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Compare 9.11 and 9.9.' }] }] }),
      chunk({ content: [{ type: 'text', text: '9.9 is larger.' }] }),
      chunk({ content: '' }, 'stop'),
      '[DONE]',
    );

    expect(events.slice(1, 7)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'thinking_delta', index: 0, text: 'Compare 9.11 and 9.9.' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'text_delta', index: 1, text: '9.9 is larger.' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('reads a refusal as text', () => {
    const events = parseOpenAi(chunk({ role: 'assistant', content: null, refusal: "I can't help with that." }), chunk({}, 'stop'), '[DONE]');

    expect(events[2]).toEqual({ type: 'text_delta', index: 0, text: "I can't help with that." });
  });

  it('waits for a tool call name', () => {
    const events = parseOpenAi(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '1}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );

    expect(events.slice(1, 4)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'call_1', name: 'lookup' } },
      { type: 'tool_arguments_delta', index: 0, json: '{"a":1}' },
      { type: 'block_stop', index: 0 },
    ]);
  });

  it('separates calls that share index 0', () => {
    const events = parseOpenAi(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'call_2', type: 'function', function: { name: 'b', arguments: '{"y":2}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );

    expect(events.slice(1, 7)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'call_1', name: 'a' } },
      { type: 'tool_arguments_delta', index: 0, json: '{"x":1}' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'call_2', name: 'b' } },
      { type: 'tool_arguments_delta', index: 1, json: '{"y":2}' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('separates calls without an index by id', () => {
    const events = parseOpenAi(
      chunk({ tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } }] }),
      chunk({ tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'b', arguments: '{"y":2}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    const starts = events.filter((event) => event.type === 'block_start');

    expect(starts).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'call_1', name: 'a' } },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'call_2', name: 'b' } },
    ]);
  });

  it('gives a call without id one', () => {
    const events = parseOpenAi(
      chunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'a', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    const start = events.find((event) => event.type === 'block_start');

    expect(start).toMatchObject({ type: 'block_start', block: { type: 'tool_call', id: expect.stringMatching(/^call_[0-9a-f]{32}$/) } });
  });

  it('flushes a waiting call at the finish', () => {
    // The first call's arguments never close, so the second one waits until the finish reason.
    const events = parseOpenAi(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'b', arguments: '{"y":2}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );

    expect(events.slice(1, 7)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'call_1', name: 'a' } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'call_2', name: 'b' } },
      { type: 'tool_arguments_delta', index: 1, json: '{"y":2}' },
      { type: 'block_stop', index: 1 },
      { type: 'stop', reason: { type: 'tool_use' } },
    ]);
  });

  it('closes a tool call before text', () => {
    const events = parseOpenAi(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '{}' } }] }),
      chunk({ content: 'Done.' }),
      chunk({}, 'stop'),
      '[DONE]',
    );

    expect(events.slice(1, 6).map((event) => event.type)).toEqual([
      'block_start',
      'tool_arguments_delta',
      'block_stop',
      'block_start',
      'text_delta',
    ]);
  });

  it('reads only the first choice', () => {
    const events = parseOpenAi(
      JSON.stringify({ id: 'c', choices: [{ index: 1, delta: { content: 'second' } }, { index: 0, delta: { content: 'first' } }] }),
      chunk({}, 'stop'),
      '[DONE]',
    );

    expect(events.filter((event) => event.type === 'text_delta')).toEqual([{ type: 'text_delta', index: 0, text: 'first' }]);
  });

  it('reads an OpenAI error chunk', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }), JSON.stringify({ error: { message: 'Rate limit reached.', type: 'tokens', code: 'rate_limit_exceeded' } }));

    expect(events.at(-1)).toEqual({ type: 'error', errorType: 'rate_limit_error', message: 'Rate limit reached.' });
  });

  it('reads a Mistral error chunk', () => {
    const events = parseOpenAi(
      JSON.stringify({ object: 'error', message: 'Service unavailable.', type: 'service_unavailable', param: null, code: '1000' }),
    );

    expect(events).toEqual([{ type: 'error', errorType: 'api_error', message: 'Service unavailable.' }]);
  });

  it('reads an error given as a string', () => {
    const events = parseOpenAi(JSON.stringify({ code: 'Internal error', error: 'The model failed to generate a response.' }));

    expect(events).toEqual([{ type: 'error', errorType: 'api_error', message: 'The model failed to generate a response.' }]);
  });

  it('emits nothing after an error', () => {
    const parser = new OpenAiChatStreamParser((raw) => fromOpenAiUsage(raw));
    parser.push({ data: JSON.stringify({ error: { message: 'Boom.', type: 'server_error' } }) });

    expect(parser.push({ data: chunk({ content: 'more' }) })).toEqual([]);
    expect(parser.end()).toEqual([]);
  });

  it('reports invalid JSON as an error', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }), '{"id":"chatcmpl-1","choi');

    expect(events.at(-1)).toMatchObject({ type: 'error', errorType: 'api_error' });
  });

  it('finishes without [DONE] after the finish reason', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }), chunk({}, 'stop'));

    expect(events.slice(-2)).toEqual([{ type: 'stop', reason: { type: 'end_turn' } }, { type: 'message_stop' }]);
  });

  it('reports a stream cut before the finish reason', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }));

    expect(events.at(-1)).toEqual({
      type: 'error',
      errorType: 'api_error',
      message: 'The upstream closed the stream before the response was complete.',
    });
  });

  it('ignores content after the finish reason', () => {
    const events = parseOpenAi(chunk({ content: 'Hi' }, 'stop'), chunk({ content: 'late' }), '[DONE]');

    expect(events.filter((event) => event.type === 'text_delta')).toHaveLength(1);
  });
});
