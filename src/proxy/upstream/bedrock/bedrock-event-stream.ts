import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import type { SseEvent } from '../../sse/sse-parser.js';

/**
 * Decoding of `application/vnd.amazon.eventstream` bodies, the binary framing of Bedrock's
 * ConverseStream and InvokeModelWithResponseStream. Each frame is a 12-byte prelude (total length,
 * headers length, CRC32 of those 8 bytes), the headers, the payload and a CRC32 of everything
 * before it. `@smithy/eventstream-codec` decodes one whole frame and checks both CRCs (in
 * `splitMessage` of `@smithy/core` 3.x event-streams), and this class cuts the byte stream into frames.
 */

/** An event or an error that Bedrock sent inside the stream. */
export type DecodedBedrockEvent =
  /** `:message-type: event`: `type` is `:event-type` and `payload` the JSON body without its `p` padding. */
  | { kind: 'event'; type: string; payload: Record<string, unknown> }
  /**
   * `:message-type: exception` (`type` is `:exception-type`, such as `throttlingException`) or
   * `:message-type: error` (`type` is `:error-code`).
   */
  | { kind: 'exception'; type: string; message: string };

export type BedrockEventStreamErrorCode = 'event_stream_invalid' | 'event_stream_frame_too_large' | 'event_stream_truncated';

/** The stream's bytes are not a valid event stream: a bad CRC, length or header, or a cut-off frame. */
export class BedrockEventStreamError extends Error {
  constructor(
    readonly code: BedrockEventStreamErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BedrockEventStreamError';
  }
}

/** The prelude (12 bytes) and the message CRC (4 bytes) that every frame carries. */
const frameOverheadBytes = 16;

export interface BedrockEventStreamDecoderOptions {
  /**
   * Largest frame accepted, in bytes. It bounds the memory one malformed or hostile length field
   * can claim. Default 16 MiB, the same bound as the SSE parser's event length.
   */
  maxFrameBytes?: number;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => textDecoder.decode(bytes),
  (text: string) => textEncoder.encode(text),
);

function headerText(headers: MessageHeaders, name: string): string | undefined {
  const header = headers[name];
  return header?.type === 'string' ? header.value : undefined;
}

function parsePayload(body: Uint8Array, eventType: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = body.byteLength === 0 ? {} : JSON.parse(textDecoder.decode(body));
  } catch (error) {
    throw new BedrockEventStreamError('event_stream_invalid', `The payload of the Bedrock stream event ${eventType} is not JSON.`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BedrockEventStreamError('event_stream_invalid', `The payload of the Bedrock stream event ${eventType} is not a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

function toDecodedEvent(frame: Uint8Array): DecodedBedrockEvent {
  let message: { headers: MessageHeaders; body: Uint8Array };
  try {
    message = codec.decode(frame);
  } catch (error) {
    throw new BedrockEventStreamError('event_stream_invalid', `Invalid Bedrock event stream frame: ${(error as Error).message}`, { cause: error });
  }
  const messageType = headerText(message.headers, ':message-type') ?? 'event';

  if (messageType === 'error') {
    return {
      kind: 'exception',
      type: headerText(message.headers, ':error-code') ?? 'UnknownError',
      message: headerText(message.headers, ':error-message') ?? '',
    };
  }
  if (messageType === 'exception') {
    const type = headerText(message.headers, ':exception-type') ?? 'unknownException';
    let text = '';
    try {
      const payload = parsePayload(message.body, type);
      const value = payload.message ?? payload.Message;
      if (typeof value === 'string') text = value;
    } catch {
      // An exception whose payload is not JSON still ends the stream, and its type is what matters.
    }
    return { kind: 'exception', type, message: text };
  }

  const type = headerText(message.headers, ':event-type');
  if (type === undefined) throw new BedrockEventStreamError('event_stream_invalid', 'A Bedrock stream event has no :event-type header.');
  const payload = parsePayload(message.body, type);
  // Bedrock pads events with a random `p` field so that their sizes do not reveal the content.
  delete payload.p;
  return { kind: 'event', type, payload };
}

/**
 * An incremental decoder. `push` takes the body's chunks as they arrive, split anywhere, and
 * returns the events that they completed. `end` checks that no partial frame is left. Both throw
 * BedrockEventStreamError for invalid bytes, after which the decoder must not be used again.
 */
export class BedrockEventStreamDecoder {
  readonly #maxFrameBytes: number;
  /** Received bytes not yet decoded, in order; only the first chunk may start mid-frame. */
  #chunks: Uint8Array[] = [];
  #bufferedBytes = 0;

  constructor(options: BedrockEventStreamDecoderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
  }

  push(chunk: Uint8Array): DecodedBedrockEvent[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.byteLength;
    }
    const events: DecodedBedrockEvent[] = [];
    while (this.#bufferedBytes >= 4) {
      const frameLength = this.#peekFrameLength();
      if (frameLength < frameOverheadBytes) {
        throw new BedrockEventStreamError('event_stream_invalid', `A Bedrock event stream frame declares ${frameLength} bytes, fewer than its ${frameOverheadBytes}-byte overhead.`);
      }
      if (frameLength > this.#maxFrameBytes) {
        throw new BedrockEventStreamError('event_stream_frame_too_large', `A Bedrock event stream frame declares ${frameLength} bytes, more than the limit of ${this.#maxFrameBytes}.`);
      }
      if (this.#bufferedBytes < frameLength) break;
      events.push(toDecodedEvent(this.#take(frameLength)));
    }
    return events;
  }

  /** Returns the last events (none: frames are complete or pending) and throws when a frame was cut off. */
  end(): DecodedBedrockEvent[] {
    if (this.#bufferedBytes > 0) {
      throw new BedrockEventStreamError('event_stream_truncated', `The Bedrock event stream ended inside a frame, with ${this.#bufferedBytes} bytes left over.`);
    }
    return [];
  }

  /** Reads the big-endian total length at the start of the buffered bytes, which may span chunks. */
  #peekFrameLength(): number {
    let length = 0;
    let read = 0;
    for (const chunk of this.#chunks) {
      for (let index = 0; index < chunk.byteLength && read < 4; index += 1, read += 1) length = length * 256 + chunk[index]!;
      if (read === 4) break;
    }
    return length;
  }

  /** Removes the first `length` buffered bytes and returns them as one contiguous array. */
  #take(length: number): Uint8Array {
    const first = this.#chunks[0]!;
    let frame: Uint8Array;
    if (first.byteLength >= length) {
      frame = first.subarray(0, length);
      if (first.byteLength === length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(length);
    } else {
      frame = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const chunk = this.#chunks[0]!;
        const part = Math.min(chunk.byteLength, length - filled);
        frame.set(chunk.subarray(0, part), filled);
        filled += part;
        if (part === chunk.byteLength) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(part);
      }
    }
    this.#bufferedBytes -= length;
    return frame;
  }
}

/**
 * Turns one InvokeModelWithResponseStream `chunk` event into the SSE event Anthropic itself would
 * have sent: the payload's `bytes` are base64 of one Anthropic stream event's JSON, whose `type`
 * names the event. The JSON text is kept byte for byte, so the gateway's Anthropic stream handling
 * works on it unchanged. Returns undefined for an event that is not a chunk, or a chunk without a
 * `type` (Bedrock sends none today, but the Anthropic Bedrock SDK drops such keep-alives too).
 * Exceptions are not events: map them with mapBedrockStreamException.
 */
export function invokeChunkToSseEvent(event: DecodedBedrockEvent): SseEvent | undefined {
  if (event.kind !== 'event' || event.type !== 'chunk') return undefined;
  const { bytes } = event.payload;
  if (typeof bytes !== 'string') {
    throw new BedrockEventStreamError('event_stream_invalid', 'A Bedrock chunk event has no base64 bytes field.');
  }
  let data: string;
  let parsed: unknown;
  try {
    data = textDecoder.decode(Buffer.from(bytes, 'base64'));
    parsed = JSON.parse(data);
  } catch (error) {
    throw new BedrockEventStreamError('event_stream_invalid', 'A Bedrock chunk event does not contain base64 of JSON.', { cause: error });
  }
  const type = typeof parsed === 'object' && parsed !== null ? (parsed as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || /[\r\n]/.test(type)) return undefined;
  return { event: type, data };
}
