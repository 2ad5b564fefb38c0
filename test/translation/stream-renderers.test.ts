import { describe, expect, it } from 'vitest';
import type { SseEvent } from '../../src/proxy/sse/sse-parser.js';
import { AnthropicStreamRenderer } from '../../src/proxy/translation/anthropic-messages/stream.js';
import type { CanonicalUsage, StreamEvent } from '../../src/proxy/translation/ir.js';
import { OpenAiChatStreamRenderer } from '../../src/proxy/translation/openai-chat/stream.js';
import type { StreamRenderer } from './stream-support.js';

const usage: CanonicalUsage = { inputUncached: 10, cacheRead: 5, cacheWrite: 2, output: 7, reasoning: 0 };

function renderAll(renderer: StreamRenderer, events: StreamEvent[]): SseEvent[] {
  return events.flatMap((event) => renderer.render(event));
}

function anthropic(events: StreamEvent[], messageId?: string): [string | undefined, Record<string, unknown>][] {
  const renderer = new AnthropicStreamRenderer(messageId === undefined ? { model: 'm' } : { model: 'm', messageId });
  return renderAll(renderer, events).map((event) => [event.event, JSON.parse(event.data)]);
}

function openAi(events: StreamEvent[], includeUsage = true): unknown[] {
  const renderer = new OpenAiChatStreamRenderer({ model: 'm', includeUsage });
  return renderAll(renderer, events).map((event) => (event.data === '[DONE]' ? '[DONE]' : JSON.parse(event.data)));
}

const start: StreamEvent = { type: 'message_start', id: 'msg_1', model: 'upstream-model', created: 1700000000 };

describe('AnthropicStreamRenderer', () => {
  it('reports the known input in message_start', () => {
    const [first] = anthropic([{ ...start, usage }]);

    expect(first?.[1]).toMatchObject({
      message: { usage: { input_tokens: 10, cache_creation_input_tokens: 2, cache_read_input_tokens: 5, output_tokens: 7 } },
    });
  });

  it('prefers the given message id', () => {
    const [first] = anthropic([start], 'msg_client');

    expect(first?.[1]).toMatchObject({ message: { id: 'msg_client', model: 'm' } });
  });

  it('starts the message for an early block', () => {
    const events = anthropic([{ type: 'block_start', index: 0, block: { type: 'text' } }]);

    expect(events.map(([name]) => name)).toEqual(['message_start', 'content_block_start']);
    expect(events[0]?.[1]).toMatchObject({ message: { id: expect.stringMatching(/^msg_[0-9a-f]{32}$/) } });
  });

  it('drops deltas of blocks not started', () => {
    const events = anthropic([
      start,
      { type: 'text_delta', index: 0, text: 'lost' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'thinking_delta', index: 0, text: 'wrong type' },
      { type: 'text_delta', index: 1, text: 'wrong index' },
      { type: 'text_delta', index: 0, text: 'kept' },
    ]);

    expect(events.filter(([name]) => name === 'content_block_delta').map(([, data]) => data.delta)).toEqual([
      { type: 'text_delta', text: 'kept' },
    ]);
  });

  it('closes an open block before the next', () => {
    const events = anthropic([
      start,
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'toolu_1', name: 'f' } },
    ]);

    expect(events.slice(1).map(([name, data]) => `${name}:${data.index}`)).toEqual([
      'content_block_start:0',
      'content_block_stop:0',
      'content_block_start:1',
    ]);
  });

  it('sends message_delta when usage follows the stop', () => {
    const events = anthropic([start, { type: 'stop', reason: { type: 'end_turn' } }, { type: 'usage', usage }]);

    expect(events.at(-1)).toEqual([
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 10, cache_creation_input_tokens: 2, cache_read_input_tokens: 5, output_tokens: 7 },
      },
    ]);
  });

  it('holds the stop until usage or message_stop', () => {
    const events = anthropic([start, { type: 'stop', reason: { type: 'end_turn' } }]);

    expect(events.map(([name]) => name)).toEqual(['message_start']);
  });

  it('sends message_delta once', () => {
    const events = anthropic([
      start,
      { type: 'stop', reason: { type: 'end_turn' } },
      { type: 'usage', usage },
      { type: 'usage', usage: { ...usage, output: 9 } },
      { type: 'message_stop' },
    ]);

    expect(events.map(([name]) => name)).toEqual(['message_start', 'message_delta', 'message_stop']);
  });

  it('uses message_start usage without a usage event', () => {
    const events = anthropic([{ ...start, usage }, { type: 'stop', reason: { type: 'end_turn' } }, { type: 'message_stop' }]);

    expect(events[1]?.[1]).toMatchObject({ usage: { input_tokens: 10, output_tokens: 7 } });
  });

  it('restores tool call ids', () => {
    // Mistral takes 9-character ids only, so the gateway sends it its own and maps them back.
    const restoreToolCallId = (id: string) => (id === 'D681PevKs' ? 'toolu_01A09q90qw90lq917835lq9' : id);
    const renderer = new AnthropicStreamRenderer({ model: 'm', restoreToolCallId });
    const toolStart: StreamEvent = { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'D681PevKs', name: 'lookup' } };
    const [, blockStart] = renderAll(renderer, [start, toolStart]);

    expect(JSON.parse(blockStart?.data ?? '')).toMatchObject({
      content_block: { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9' },
    });
  });

  it('renders the stop sequence', () => {
    const events = anthropic([
      start,
      { type: 'stop', reason: { type: 'stop_sequence', sequence: 'END' } },
      { type: 'message_stop' },
    ]);

    expect(events[1]?.[1]).toMatchObject({ delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' } });
  });

  it('renders the upstream error type', () => {
    const events = anthropic([start, { type: 'error', errorType: 'overloaded_error', message: 'Overloaded' }]);

    expect(events.at(-1)).toEqual(['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]);
  });

  it('sends nothing after an error', () => {
    const renderer = new AnthropicStreamRenderer({ model: 'm' });
    renderer.render(start);
    renderer.render({ type: 'error', errorType: 'api_error', message: 'Boom.' });

    expect(renderer.render({ type: 'stop', reason: { type: 'end_turn' } })).toEqual([]);
    expect(renderer.render({ type: 'message_stop' })).toEqual([]);
  });

  it('renders a ping', () => {
    const events = anthropic([start, { type: 'ping' }]);

    expect(events.at(-1)).toEqual(['ping', { type: 'ping' }]);
  });
});

describe('OpenAiChatStreamRenderer', () => {
  it('sends the role chunk once', () => {
    const data = openAi([start, start, { type: 'block_start', index: 0, block: { type: 'text' } }]) as {
      choices: { delta: unknown }[];
    }[];

    expect(data).toHaveLength(1);
    expect(data[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
  });

  it('keeps id, created and model on every chunk', () => {
    const data = openAi([
      start,
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Hi' },
      { type: 'stop', reason: { type: 'end_turn' } },
      { type: 'usage', usage },
      { type: 'message_stop' },
    ]).slice(0, -1) as Record<string, unknown>[];

    expect(data.map((chunk) => [chunk.id, chunk.created, chunk.model])).toEqual(Array(4).fill(['msg_1', 1700000000, 'm']));
  });

  it('counts tool calls apart from other blocks', () => {
    const data = openAi([
      start,
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'block_stop', index: 1 },
      { type: 'block_start', index: 2, block: { type: 'tool_call', id: 'toolu_1', name: 'f' } },
      { type: 'tool_arguments_delta', index: 2, json: '{}' },
    ]) as { choices: { delta: { tool_calls: { index: number }[] } }[] }[];

    expect(data.slice(1).map((chunk) => chunk.choices[0]?.delta.tool_calls[0]?.index)).toEqual([0, 0]);
  });

  it('drops deltas of blocks not started', () => {
    const data = openAi([
      start,
      { type: 'text_delta', index: 0, text: 'lost' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'tool_arguments_delta', index: 0, json: '{}' },
      { type: 'text_delta', index: 0, text: 'kept' },
    ]) as { choices: { delta: unknown }[] }[];

    expect(data.slice(1).map((chunk) => chunk.choices[0]?.delta)).toEqual([{ content: 'kept' }]);
  });

  it('sends no choices after the finish chunk', () => {
    const data = openAi([
      start,
      { type: 'stop', reason: { type: 'end_turn' } },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'late' },
      { type: 'stop', reason: { type: 'max_tokens' } },
      { type: 'message_stop' },
    ], false) as { choices: { finish_reason: string | null }[] }[];

    expect(data).toHaveLength(3);
    expect(data[1]?.choices[0]?.finish_reason).toBe('stop');
    expect(data[2]).toBe('[DONE]');
  });

  it('omits the usage chunk when usage is unknown', () => {
    const data = openAi([start, { type: 'stop', reason: { type: 'end_turn' } }, { type: 'message_stop' }]);

    expect(data).toHaveLength(3);
    expect(data.at(-1)).toBe('[DONE]');
  });

  it('uses the latest usage', () => {
    const data = openAi([
      { ...start, usage: { ...usage, output: 1 } },
      { type: 'stop', reason: { type: 'end_turn' } },
      { type: 'usage', usage },
      { type: 'message_stop' },
    ]);

    expect(data.at(-2)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 17, completion_tokens: 7, total_tokens: 24, prompt_tokens_details: { cached_tokens: 5 } },
    });
  });

  it('sends nothing after an error', () => {
    const renderer = new OpenAiChatStreamRenderer({ model: 'm', includeUsage: true });
    renderer.render(start);
    const error = renderer.render({ type: 'error', errorType: 'rate_limit_error', message: 'Slow down.' });

    expect(JSON.parse(error[0]?.data ?? '')).toEqual({
      error: { message: 'Slow down.', type: 'rate_limit_error', code: 'upstream_error', param: null },
    });
    expect(renderer.render({ type: 'message_stop' })).toEqual([]);
  });

  it('renders no ping', () => {
    expect(openAi([start, { type: 'ping' }])).toHaveLength(1);
  });

  it('generates an id for an early stop', () => {
    const data = openAi([{ type: 'stop', reason: { type: 'end_turn' } }]) as { id: string }[];

    expect(data[0]?.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
  });
});
