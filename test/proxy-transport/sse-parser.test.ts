import { describe, expect, it } from 'vitest';
import { formatSseEvent, sseHeartbeat } from '../../src/proxy/sse/sse-format.js';
import { SseEventTooLargeError, SseParser, type SseEvent } from '../../src/proxy/sse/sse-parser.js';

/** An Anthropic stream as the API sends it, with a ping and non-ASCII text. */
const anthropicStream = [
  'event: message_start',
  'data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":12,"output_tokens":1}}}',
  '',
  'event: content_block_start',
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
  '',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Grüße, 世界 😀"}}',
  '',
  'event: content_block_stop',
  'data: {"type":"content_block_stop","index":0}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}',
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
  '',
].join('\n');

/** A DeepSeek stream: keep-alive comments and blank lines while queued, then data-only events and [DONE]. */
const deepSeekStream = [
  ': keep-alive',
  '',
  '',
  ': keep-alive',
  '',
  'data: {"id":"1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
  '',
  'data: {"id":"1","choices":[{"index":0,"delta":{"content":"Héllo"}}]}',
  '',
  'data: {"id":"1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
  '',
  'data: [DONE]',
  '',
  '',
].join('\n');

function parseAll(chunks: (string | Uint8Array)[]): { events: SseEvent[]; comments: string[] } {
  const comments: string[] = [];
  const parser = new SseParser({ onComment: (text) => comments.push(text) });
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  events.push(...parser.end());
  return { events, comments };
}

describe('SseParser', () => {
  const anthropicBytes = Buffer.from(anthropicStream, 'utf8');
  const deepSeekBytes = Buffer.from(deepSeekStream, 'utf8');
  const anthropicWhole = parseAll([anthropicBytes]);
  const deepSeekWhole = parseAll([deepSeekBytes]);

  it('reads named Anthropic events', () => {
    expect(anthropicWhole.events.map((event) => event.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('decodes UTF-8 text', () => {
    const delta = JSON.parse(anthropicWhole.events[3]!.data) as { delta: { text: string } };
    expect(delta.delta.text).toBe('Grüße, 世界 😀');
  });

  it('reads unnamed events up to [DONE]', () => {
    expect(deepSeekWhole.events.map((event) => event.event)).toEqual([undefined, undefined, undefined, undefined]);
    expect(deepSeekWhole.events.at(-1)!.data).toBe('[DONE]');
  });

  it('reports comments apart from events', () => {
    expect(deepSeekWhole.comments).toEqual(['keep-alive', 'keep-alive']);
  });

  it('gives the same events for every split into two chunks', () => {
    for (const bytes of [anthropicBytes, deepSeekBytes]) {
      const whole = parseAll([bytes]);
      for (let split = 1; split < bytes.length; split += 1) {
        const parts = parseAll([bytes.subarray(0, split), bytes.subarray(split)]);
        expect(parts, `split at byte ${split}`).toEqual(whole);
      }
    }
  });

  it('gives the same events one byte at a time', () => {
    const chunks = [...anthropicBytes].map((byte) => Uint8Array.of(byte));
    expect(parseAll(chunks)).toEqual(anthropicWhole);
  });

  it('accepts CRLF line endings', () => {
    const crlf = Buffer.from(anthropicStream.replaceAll('\n', '\r\n'), 'utf8');
    expect(parseAll([crlf])).toEqual(anthropicWhole);
  });

  it('accepts CRLF split between chunks', () => {
    const crlf = Buffer.from(deepSeekStream.replaceAll('\n', '\r\n'), 'utf8');
    for (let split = 1; split < crlf.length; split += 1) {
      expect(parseAll([crlf.subarray(0, split), crlf.subarray(split)]), `split at byte ${split}`).toEqual(deepSeekWhole);
    }
  });

  it('accepts CR line endings', () => {
    expect(parseAll([deepSeekStream.replaceAll('\n', '\r')])).toEqual(deepSeekWhole);
  });

  it('joins multi-line data with LF', () => {
    expect(parseAll(['data: first\ndata: second\ndata:\n\n']).events).toEqual([{ data: 'first\nsecond\n' }]);
  });

  it('strips one space after the colon only', () => {
    expect(parseAll(['data:  two spaces\ndata:none\n\n']).events).toEqual([{ data: ' two spaces\nnone' }]);
  });

  it('treats a field without a colon as empty', () => {
    expect(parseAll(['data\n\n']).events).toEqual([{ data: '' }]);
  });

  it('forgets the event name after dispatch', () => {
    expect(parseAll(['event: error\ndata: a\n\ndata: b\n\n']).events).toEqual([{ event: 'error', data: 'a' }, { data: 'b' }]);
  });

  it('dispatches nothing for an event name without data', () => {
    expect(parseAll(['event: ping\n\ndata: b\n\n']).events).toEqual([{ data: 'b' }]);
  });

  it('ignores retry and unknown fields', () => {
    expect(parseAll(['retry: 100\nfoo: bar\ndata: x\n\n']).events).toEqual([{ data: 'x' }]);
  });

  it('keeps the last event id', () => {
    expect(parseAll(['id: 7\ndata: a\n\ndata: b\n\n']).events).toEqual([{ id: '7', data: 'a' }, { id: '7', data: 'b' }]);
  });

  it('keeps a last event without a blank line', () => {
    expect(parseAll(['data: a\n\ndata: b']).events).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('rejects an oversized event', () => {
    const parser = new SseParser({ maxEventLength: 10 });
    expect(() => parser.push('data: 0123456789abc\n')).toThrow(SseEventTooLargeError);
  });

  it('rejects an oversized unterminated line', () => {
    const parser = new SseParser({ maxEventLength: 10 });
    expect(() => parser.push('data: 0123456789abc')).toThrow(SseEventTooLargeError);
  });
});

describe('SSE formatting', () => {
  it('writes a named event', () => {
    expect(formatSseEvent({ event: 'message_stop', data: '{"type":"message_stop"}' })).toBe(
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
  });

  it('writes an unnamed event', () => {
    expect(formatSseEvent({ data: '[DONE]' })).toBe('data: [DONE]\n\n');
  });

  it('splits multi-line data into data lines', () => {
    expect(formatSseEvent({ data: 'a\r\nb\nc' })).toBe('data: a\ndata: b\ndata: c\n\n');
  });

  it('round-trips through the parser', () => {
    const event = { event: 'content_block_delta', data: 'line one\nline two' };
    expect(parseAll([formatSseEvent(event)]).events).toEqual([event]);
  });

  it('rejects a line break in the event name', () => {
    expect(() => formatSseEvent({ event: 'a\ndata: injected', data: 'x' })).toThrow(/line break/);
  });

  it('writes a heartbeat that parses as a comment only', () => {
    const parsed = parseAll([sseHeartbeat()]);
    expect(parsed.events).toEqual([]);
    expect(parsed.comments).toEqual(['keep-alive']);
  });
});
