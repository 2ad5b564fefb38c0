/** One dispatched server-sent event. `event` is absent for unnamed events (OpenAI's data-only stream). */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

export interface SseParserOptions {
  /** Receives the text of each comment line without the colon and one leading space, such as `keep-alive`. */
  onComment?: (text: string) => void;
  /**
   * Maximum length in UTF-16 code units of one event's data, or of one line, before `push` throws
   * SseEventTooLargeError. It bounds the memory a misbehaving upstream can take. Default 16 MiB.
   */
  maxEventLength?: number;
}

/** Raised when one event or line exceeds the parser's maximum length. */
export class SseEventTooLargeError extends Error {
  readonly code = 'sse_event_too_large';

  constructor(readonly maxEventLength: number) {
    super(`A server-sent event is longer than the limit of ${maxEventLength} characters.`);
    this.name = 'SseEventTooLargeError';
  }
}

const LF = 10;
const CR = 13;

/**
 * An incremental parser for `text/event-stream` bodies, following the "event stream
 * interpretation" rules of the WHATWG HTML standard. Lines end with CRLF, LF or CR, and `:` starts
 * a comment. The `data` lines of one event are joined with LF. A blank line dispatches the event,
 * and a blank line with no data dispatches nothing (DeepSeek's keep-alive blank lines). Chunks may
 * split lines, CRLF pairs and UTF-8 sequences anywhere. `retry` and unknown fields are ignored.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #onComment: ((text: string) => void) | undefined;
  readonly #maxEventLength: number;
  /** Text of an unterminated line carried over from earlier chunks. */
  #partialLine = '';
  /** True when the previous chunk ended in CR, so an LF at the start of the next one ends nothing. */
  #skipLineFeed = false;
  #eventType: string | undefined;
  #data: string[] = [];
  #dataLength = 0;
  #lastEventId: string | undefined;

  constructor(options: SseParserOptions = {}) {
    this.#onComment = options.onComment;
    this.#maxEventLength = options.maxEventLength ?? 16 * 1024 * 1024;
  }

  /** Parses the next chunk and returns the events that it completed, in order. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    return this.#consume(text);
  }

  /**
   * Ends the stream and returns the last event when the upstream closed without the final blank
   * line. The WHATWG rules discard such an event, but an upstream that ends that way still means it.
   */
  end(): SseEvent[] {
    const events = this.#consume(this.#decoder.decode());
    if (this.#partialLine !== '') {
      this.#processLine(this.#partialLine);
      this.#partialLine = '';
    }
    const last = this.#dispatch();
    if (last) events.push(last);
    return events;
  }

  #consume(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    if (this.#skipLineFeed && text.length > 0) {
      if (text.charCodeAt(0) === LF) start = 1;
      this.#skipLineFeed = false;
    }
    for (let index = start; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      if (code !== LF && code !== CR) continue;

      const line = this.#partialLine + text.slice(start, index);
      this.#partialLine = '';
      if (code === CR) {
        if (index + 1 < text.length) {
          if (text.charCodeAt(index + 1) === LF) index += 1;
        } else {
          this.#skipLineFeed = true;
        }
      }
      start = index + 1;

      if (line === '') {
        const event = this.#dispatch();
        if (event) events.push(event);
      } else {
        this.#processLine(line);
      }
    }
    this.#partialLine += text.slice(start);
    if (this.#partialLine.length > this.#maxEventLength) throw new SseEventTooLargeError(this.#maxEventLength);
    return events;
  }

  #processLine(line: string): void {
    if (line.charCodeAt(0) === 58 /* ':' */) {
      this.#onComment?.(line.slice(line.startsWith(': ') ? 2 : 1));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);

    switch (field) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#dataLength += value.length + 1;
        if (this.#dataLength > this.#maxEventLength) throw new SseEventTooLargeError(this.#maxEventLength);
        this.#data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value;
        break;
      default:
        break;
    }
  }

  #dispatch(): SseEvent | undefined {
    const eventType = this.#eventType;
    const data = this.#data;
    this.#eventType = undefined;
    this.#data = [];
    this.#dataLength = 0;
    if (data.length === 0) return undefined;

    const event: SseEvent = { data: data.join('\n') };
    if (eventType !== undefined && eventType !== '') event.event = eventType;
    if (this.#lastEventId !== undefined) event.id = this.#lastEventId;
    return event;
  }
}
