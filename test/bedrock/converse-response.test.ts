import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/proxy/translation/ir.js';
import { parseConverseResponse, stopReasonFromConverse } from '../../src/proxy/translation/bedrock-converse/response.js';
import { ConverseStreamParser, type ConverseStreamInput } from '../../src/proxy/translation/bedrock-converse/stream.js';
import { usEastRow } from './helpers.js';

const ids = { id: 'req-123', model: 'amazon.nova-pro-v1:0' };

describe('stopReasonFromConverse', () => {
  const table: [string, ReturnType<typeof stopReasonFromConverse>][] = [
    ['end_turn', { type: 'end_turn' }],
    ['tool_use', { type: 'tool_use' }],
    ['max_tokens', { type: 'max_tokens' }],
    ['stop_sequence', { type: 'stop_sequence' }],
    ['guardrail_intervened', { type: 'content_filter' }],
    ['content_filtered', { type: 'content_filter' }],
    ['model_context_window_exceeded', { type: 'context_window' }],
    ['malformed_model_output', { type: 'error' }],
    ['malformed_tool_use', { type: 'error' }],
    ['something_new', { type: 'unknown', value: 'something_new' }],
  ];

  for (const [value, expected] of table) {
    it(`maps ${value}`, () => {
      expect(stopReasonFromConverse(value)).toEqual(expected);
    });
  }

  it('keeps the matched stop sequence', () => {
    expect(stopReasonFromConverse('stop_sequence', 'END')).toEqual({ type: 'stop_sequence', sequence: 'END' });
  });
});

describe('parseConverseResponse', () => {
  it('reads text, reasoning, tool calls, stop reason and usage', () => {
    const response = parseConverseResponse(
      {
        output: {
          message: {
            role: 'assistant',
            content: [
              { reasoningContent: { reasoningText: { text: 'Let me see.', signature: 'sig-9' } } },
              { reasoningContent: { redactedContent: 'c2VjcmV0' } },
              { text: 'Calling the tool.' },
              { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } },
              { image: { format: 'png', source: { bytes: 'AAAA' } } },
            ],
          },
        },
        stopReason: 'tool_use',
        usage: { inputTokens: 10, outputTokens: 20, totalTokens: 40, cacheReadInputTokens: 6, cacheWriteInputTokens: 4 },
        metrics: { latencyMs: 100 },
      },
      ids,
    );

    expect(response).toEqual({
      id: 'req-123',
      model: 'amazon.nova-pro-v1:0',
      content: [
        { type: 'thinking', text: 'Let me see.', signature: 'sig-9' },
        { type: 'redacted_thinking', data: 'c2VjcmV0' },
        { type: 'text', text: 'Calling the tool.' },
        { type: 'tool_call', id: 'tooluse_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      ],
      stopReason: { type: 'tool_use' },
      usage: { inputUncached: 10, cacheRead: 6, cacheWrite: 4, output: 20, reasoning: 0 },
    });
  });

  it('maps a guardrail stop to content_filter', () => {
    const response = parseConverseResponse({ output: { message: { role: 'assistant', content: [{ text: 'Sorry.' }] } }, stopReason: 'guardrail_intervened' }, ids);

    expect(response.stopReason).toEqual({ type: 'content_filter' });
    expect(response.usage).toBeUndefined();
  });
});

function parse(events: ConverseStreamInput[], options: { end?: boolean } = {}): StreamEvent[] {
  const parser = new ConverseStreamParser(ids);
  const out = events.flatMap((event) => parser.push(event));
  if (options.end !== false) out.push(...parser.end());
  return out;
}

const event = (type: string, payload: Record<string, unknown>): ConverseStreamInput => ({ kind: 'event', type, payload });
const textDelta = (index: number, text: string) => event('contentBlockDelta', { contentBlockIndex: index, delta: { text } });
const toolStart = (index: number, id: string, name: string) => event('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: id, name } } });
const toolDelta = (index: number, input: string) => event('contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input } } });
const blockStop = (index: number) => event('contentBlockStop', { contentBlockIndex: index });
const usage = { inputTokens: 11, outputTokens: 5, totalTokens: 16 };
const canonicalUsage = { inputUncached: 11, cacheRead: 0, cacheWrite: 0, output: 5, reasoning: 0 };

describe('ConverseStreamParser', () => {
  it('parses text with usage after messageStop', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      textDelta(0, 'Hello '),
      textDelta(0, 'there'),
      blockStop(0),
      event('messageStop', { stopReason: 'end_turn' }),
      event('metadata', { usage, metrics: { latencyMs: 9 } }),
    ]);

    expect(events).toEqual([
      { type: 'message_start', id: 'req-123', model: 'amazon.nova-pro-v1:0' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Hello ' },
      { type: 'text_delta', index: 0, text: 'there' },
      { type: 'block_stop', index: 0 },
      { type: 'stop', reason: { type: 'end_turn' } },
      { type: 'usage', usage: canonicalUsage },
      { type: 'message_stop' },
    ]);
  });

  it('holds the stop reason until the usage arrives', () => {
    const parser = new ConverseStreamParser(ids);
    parser.push(event('messageStart', { role: 'assistant' }));
    parser.push(textDelta(0, 'Hi'));
    const atStop = parser.push(event('messageStop', { stopReason: 'max_tokens' }));
    const atMetadata = parser.push(event('metadata', { usage }));

    expect(atStop).toEqual([{ type: 'block_stop', index: 0 }]);
    expect(atMetadata).toEqual([{ type: 'stop', reason: { type: 'max_tokens' } }, { type: 'usage', usage: canonicalUsage }, { type: 'message_stop' }]);
    expect(parser.rawUsage).toEqual(usage);
    expect(parser.end()).toEqual([]);
  });

  it('accepts metadata before messageStop', () => {
    const events = parse([event('messageStart', { role: 'assistant' }), textDelta(0, 'Hi'), event('metadata', { usage }), event('messageStop', { stopReason: 'end_turn' })]);

    expect(events.slice(-3)).toEqual([{ type: 'stop', reason: { type: 'end_turn' } }, { type: 'usage', usage: canonicalUsage }, { type: 'message_stop' }]);
  });

  it('ends without usage when metadata is missing', () => {
    const events = parse([event('messageStart', { role: 'assistant' }), textDelta(0, 'Hi'), blockStop(0), event('messageStop', { stopReason: 'end_turn' })]);

    expect(events.slice(-3)).toEqual([{ type: 'block_stop', index: 0 }, { type: 'stop', reason: { type: 'end_turn' } }, { type: 'message_stop' }]);
  });

  it('reports a stream cut before messageStop', () => {
    const events = parse([event('messageStart', { role: 'assistant' }), textDelta(0, 'Hi')]);

    expect(events.at(-1)).toMatchObject({ type: 'error', errorType: 'api_error', message: expect.stringMatching(/closed the stream before the response was complete/) });
  });

  it('parses tool calls keyed by block index', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      textDelta(0, 'Let me check.'),
      blockStop(0),
      toolStart(1, 'tooluse_a', 'get_weather'),
      toolDelta(1, '{"city":'),
      toolDelta(1, '"Paris"}'),
      blockStop(1),
      event('messageStop', { stopReason: 'tool_use' }),
      event('metadata', { usage }),
    ]);

    expect(events.slice(1, 8)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'text_delta', index: 0, text: 'Let me check.' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'tooluse_a', name: 'get_weather' } },
      { type: 'tool_arguments_delta', index: 1, json: '{"city":' },
      { type: 'tool_arguments_delta', index: 1, json: '"Paris"}' },
      { type: 'block_stop', index: 1 },
    ]);
    expect(events[8]).toEqual({ type: 'stop', reason: { type: 'tool_use' } });
  });

  it('serializes interleaved tool blocks', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      toolStart(0, 'tooluse_a', 'first'),
      toolStart(1, 'tooluse_b', 'second'),
      toolDelta(1, '{"b":'),
      toolDelta(0, '{"a":'),
      toolDelta(1, '2}'),
      blockStop(1),
      toolDelta(0, '1}'),
      blockStop(0),
      event('messageStop', { stopReason: 'tool_use' }),
      event('metadata', { usage }),
    ]);

    expect(events.slice(1, 9)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'tooluse_a', name: 'first' } },
      { type: 'tool_arguments_delta', index: 0, json: '{"a":' },
      { type: 'tool_arguments_delta', index: 0, json: '1}' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'tooluse_b', name: 'second' } },
      { type: 'tool_arguments_delta', index: 1, json: '{"b":' },
      { type: 'tool_arguments_delta', index: 1, json: '2}' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('closes blocks left open at messageStop', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      toolStart(0, 'tooluse_a', 'first'),
      toolStart(1, 'tooluse_b', 'second'),
      toolDelta(1, '{}'),
      event('messageStop', { stopReason: 'tool_use' }),
    ]);

    expect(events.slice(1, 6)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'tool_call', id: 'tooluse_a', name: 'first' } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'tool_call', id: 'tooluse_b', name: 'second' } },
      { type: 'tool_arguments_delta', index: 1, json: '{}' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('parses reasoning text and signature', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'Thinking' } } }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig-1' } } }),
      blockStop(0),
      textDelta(1, 'Answer'),
      blockStop(1),
      event('messageStop', { stopReason: 'end_turn' }),
      event('metadata', { usage }),
    ]);

    expect(events.slice(1, 8)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'thinking_delta', index: 0, text: 'Thinking' },
      { type: 'signature_delta', index: 0, signature: 'sig-1' },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'text_delta', index: 1, text: 'Answer' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('emits redacted reasoning whole', () => {
    const first = Buffer.from('abcd').toString('base64');
    const second = Buffer.from('ef').toString('base64');
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { redactedContent: first } } }),
      textDelta(1, 'Visible'),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { redactedContent: second } } }),
      blockStop(0),
      blockStop(1),
      event('messageStop', { stopReason: 'end_turn' }),
    ]);

    expect(events.slice(1, 6)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'redacted_thinking', data: Buffer.from('abcdef').toString('base64') } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'text_delta', index: 1, text: 'Visible' },
      { type: 'block_stop', index: 1 },
    ]);
  });

  it('turns an exception into an error event', () => {
    const parser = new ConverseStreamParser({ ...ids, errorContext: { secrets: [usEastRow.secretAccessKey] } });
    parser.push(event('messageStart', { role: 'assistant' }));
    parser.push(textDelta(0, 'one '));
    parser.push(textDelta(0, 'two '));
    const events = parser.push({ kind: 'exception', type: 'throttlingException', message: `Too many tokens for ${usEastRow.secretAccessKey}` });

    expect(events).toEqual([{ type: 'error', errorType: 'rate_limit_error', message: 'AWS Bedrock is throttling requests (Too many tokens for [redacted]).' }]);
    expect(parser.push(textDelta(0, 'three'))).toEqual([]);
    expect(parser.end()).toEqual([]);
  });

  it('reports the stop sequence Anthropic models return', () => {
    const events = parse([
      event('messageStart', { role: 'assistant' }),
      textDelta(0, 'a'),
      event('messageStop', { stopReason: 'stop_sequence', additionalModelResponseFields: { stop_sequence: 'END' } }),
      event('metadata', { usage }),
    ]);

    expect(events).toContainEqual({ type: 'stop', reason: { type: 'stop_sequence', sequence: 'END' } });
  });
});
