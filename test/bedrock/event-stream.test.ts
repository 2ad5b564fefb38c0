import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/proxy/translation/ir.js';
import { ConverseStreamParser } from '../../src/proxy/translation/bedrock-converse/stream.js';
import {
  BedrockEventStreamDecoder,
  BedrockEventStreamError,
  invokeChunkToSseEvent,
  type DecodedBedrockEvent,
} from '../../src/proxy/upstream/bedrock/bedrock-event-stream.js';
import { encodeEventStream, type FakeBedrockFrame } from '../support/fake-upstreams/bedrock.js';

const converseFrames: FakeBedrockFrame[] = [
  { type: 'messageStart', payload: { role: 'assistant' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Grüße, ' } } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'world 👋' } } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
  { type: 'contentBlockStart', payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_a', name: 'lookup' } } } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"q":"x"}' } } } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
  { type: 'messageStop', payload: { stopReason: 'tool_use' } },
  { type: 'metadata', payload: { usage: { inputTokens: 12, outputTokens: 7, totalTokens: 19 }, metrics: { latencyMs: 42 } } },
];

/** The events a decoder should return for frames: the payloads without Bedrock's `p` padding. */
function expectedEvents(frames: FakeBedrockFrame[]): DecodedBedrockEvent[] {
  return frames.map((frame) => ({ kind: 'event', type: frame.type, payload: frame.payload as Record<string, unknown> }));
}

function decodeInPieces(bytes: Uint8Array, cuts: number[]): DecodedBedrockEvent[] {
  const decoder = new BedrockEventStreamDecoder();
  const events: DecodedBedrockEvent[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.byteLength]) {
    events.push(...decoder.push(bytes.slice(start, cut)));
    start = cut;
  }
  events.push(...decoder.end());
  return events;
}

describe('BedrockEventStreamDecoder', () => {
  const recorded = encodeEventStream(converseFrames);

  it('decodes a whole stream', () => {
    expect(decodeInPieces(recorded, [])).toEqual(expectedEvents(converseFrames));
  });

  it('removes the padding field', () => {
    const [first] = decodeInPieces(recorded, []);

    expect(first?.kind).toBe('event');
    expect(first).not.toHaveProperty('payload.p');
  });

  it('gives the same events split at every byte boundary', () => {
    const expected = expectedEvents(converseFrames);
    for (let cut = 1; cut < recorded.byteLength; cut += 1) {
      expect(decodeInPieces(recorded, [cut]), `split at byte ${cut}`).toEqual(expected);
    }
  });

  it('gives the same events one byte at a time', () => {
    const cuts = Array.from({ length: recorded.byteLength - 1 }, (_, index) => index + 1);

    expect(decodeInPieces(recorded, cuts)).toEqual(expectedEvents(converseFrames));
  });

  it('returns each event as soon as its frame is complete', () => {
    const decoder = new BedrockEventStreamDecoder();
    const firstFrameLength = new DataView(recorded.buffer, recorded.byteOffset).getUint32(0);

    expect(decoder.push(recorded.slice(0, firstFrameLength - 1))).toEqual([]);
    expect(decoder.push(recorded.slice(firstFrameLength - 1, firstFrameLength))).toHaveLength(1);
  });

  it('rejects a corrupted message CRC', () => {
    const corrupted = encodeEventStream(converseFrames.slice(0, 2));
    corrupted[corrupted.byteLength - 1]! ^= 0xff;
    const decoder = new BedrockEventStreamDecoder();

    expect(() => decoder.push(corrupted)).toThrow(BedrockEventStreamError);
    expect(() => new BedrockEventStreamDecoder().push(corrupted)).toThrow(/checksum/);
  });

  it('rejects a corrupted prelude CRC', () => {
    const corrupted = encodeEventStream(converseFrames.slice(0, 1));
    corrupted[9]! ^= 0x01;

    expect(() => new BedrockEventStreamDecoder().push(corrupted)).toThrow(/prelude checksum/);
  });

  it('rejects a corrupted payload byte', () => {
    const corrupted = encodeEventStream(converseFrames.slice(0, 1));
    corrupted[corrupted.byteLength - 8]! ^= 0x20;

    expect(() => new BedrockEventStreamDecoder().push(corrupted)).toThrow(BedrockEventStreamError);
  });

  it('rejects a frame over the size limit', () => {
    const decoder = new BedrockEventStreamDecoder({ maxFrameBytes: 64 });

    expect(() => decoder.push(recorded)).toThrow(expect.objectContaining({ code: 'event_stream_frame_too_large' }));
  });

  it('rejects a declared length below the frame overhead', () => {
    expect(() => new BedrockEventStreamDecoder().push(new Uint8Array([0, 0, 0, 8, 0, 0, 0, 0]))).toThrow(
      expect.objectContaining({ code: 'event_stream_invalid' }),
    );
  });

  it('reports a stream cut inside a frame', () => {
    const decoder = new BedrockEventStreamDecoder();
    decoder.push(recorded.slice(0, recorded.byteLength - 3));

    expect(() => decoder.end()).toThrow(expect.objectContaining({ code: 'event_stream_truncated' }));
  });

  it('decodes an exception frame alone', () => {
    const bytes = encodeEventStream([{ messageType: 'exception', type: 'throttlingException', payload: { message: 'Too many requests, please wait.' } }]);

    expect(decodeInPieces(bytes, [5])).toEqual([{ kind: 'exception', type: 'throttlingException', message: 'Too many requests, please wait.' }]);
  });

  it('decodes an error frame', () => {
    const bytes = encodeEventStream([{ messageType: 'error', type: 'InternalFailure', errorMessage: 'An internal error occurred.' }]);

    expect(decodeInPieces(bytes, [])).toEqual([{ kind: 'exception', type: 'InternalFailure', message: 'An internal error occurred.' }]);
  });

  it('decodes two deltas then an exception frame', () => {
    const frames: FakeBedrockFrame[] = [
      { type: 'messageStart', payload: { role: 'assistant' } },
      { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'one ' } } },
      { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'two ' } } },
      { messageType: 'exception', type: 'modelStreamErrorException', payload: { message: 'The model failed.', originalStatusCode: 500 } },
    ];
    const events = decodeInPieces(encodeEventStream(frames), [3, 40, 41]);

    expect(events.map((event) => `${event.kind}:${event.type}`)).toEqual([
      'event:messageStart',
      'event:contentBlockDelta',
      'event:contentBlockDelta',
      'exception:modelStreamErrorException',
    ]);
    expect(events.at(-1)).toEqual({ kind: 'exception', type: 'modelStreamErrorException', message: 'The model failed.' });
  });

  it('rejects an event payload that is not a JSON object', () => {
    const bytes = encodeEventStream([{ type: 'chunk', payload: 'not an object' }]);

    expect(() => decodeInPieces(bytes, [])).toThrow(/not a JSON object/);
  });
});

describe('invokeChunkToSseEvent', () => {
  const messageStart = '{"type":"message_start","message":{"id":"msg_bdrk_1","role":"assistant","content":[]}}';

  function chunkEvent(json: string): DecodedBedrockEvent {
    return { kind: 'event', type: 'chunk', payload: { bytes: Buffer.from(json, 'utf8').toString('base64') } };
  }

  it('turns a chunk into the Anthropic SSE event', () => {
    expect(invokeChunkToSseEvent(chunkEvent(messageStart))).toEqual({ event: 'message_start', data: messageStart });
  });

  it('keeps the JSON text byte for byte', () => {
    const text = '{"type":"content_block_delta", "index":0,"delta":{"type":"text_delta","text":"é \\u00e9"}}';

    expect(invokeChunkToSseEvent(chunkEvent(text))?.data).toBe(text);
  });

  it('skips events that are not chunks', () => {
    expect(invokeChunkToSseEvent({ kind: 'event', type: 'metadata', payload: {} })).toBeUndefined();
    expect(invokeChunkToSseEvent({ kind: 'exception', type: 'throttlingException', message: 'slow down' })).toBeUndefined();
  });

  it('skips a chunk without a type', () => {
    expect(invokeChunkToSseEvent(chunkEvent('{"keepAlive":true}'))).toBeUndefined();
  });

  it('rejects a chunk without bytes', () => {
    expect(() => invokeChunkToSseEvent({ kind: 'event', type: 'chunk', payload: {} })).toThrow(BedrockEventStreamError);
  });

  it('rejects bytes that are not JSON', () => {
    expect(() => invokeChunkToSseEvent(chunkEvent('not json'))).toThrow(/base64 of JSON/);
  });
});

describe('decoder and Converse parser together', () => {
  const frames: FakeBedrockFrame[] = [
    { type: 'messageStart', payload: { role: 'assistant' } },
    { type: 'contentBlockStart', payload: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_a', name: 'first' } } } },
    { type: 'contentBlockStart', payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_b', name: 'second' } } } },
    { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"b":2}' } } } },
    { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { toolUse: { input: '{"a":1}' } } } },
    { type: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
    { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
    { type: 'messageStop', payload: { stopReason: 'tool_use' } },
    { type: 'metadata', payload: { usage: { inputTokens: 30, outputTokens: 12, totalTokens: 42 }, metrics: { latencyMs: 5 } } },
  ];
  const recorded = encodeEventStream(frames);

  function parseInPieces(cut: number): StreamEvent[] {
    const parser = new ConverseStreamParser({ id: 'req-1', model: 'amazon.nova-pro-v1:0' });
    const events = decodeInPieces(recorded, [cut]);
    return [...events.flatMap((event) => parser.push(event)), ...parser.end()];
  }

  it('gives the same IR events split at every byte boundary', () => {
    const whole = parseInPieces(0);
    for (let cut = 1; cut < recorded.byteLength; cut += 1) {
      expect(parseInPieces(cut), `split at byte ${cut}`).toEqual(whole);
    }
  });

  it('serializes interleaved tool blocks and ends with usage', () => {
    const events = parseInPieces(0);

    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'block_start',
      'tool_arguments_delta',
      'block_stop',
      'block_start',
      'tool_arguments_delta',
      'block_stop',
      'stop',
      'usage',
      'message_stop',
    ]);
    expect(events[2]).toEqual({ type: 'tool_arguments_delta', index: 0, json: '{"a":1}' });
    expect(events[5]).toEqual({ type: 'tool_arguments_delta', index: 1, json: '{"b":2}' });
    expect(events[8]).toEqual({ type: 'usage', usage: { inputUncached: 30, cacheRead: 0, cacheWrite: 0, output: 12, reasoning: 0 } });
  });
});
