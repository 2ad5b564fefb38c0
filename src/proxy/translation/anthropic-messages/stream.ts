/**
 * Anthropic Messages streams to and from the IR's stream events.
 *
 * An Anthropic stream is a sequence of named SSE events: `message_start`, then per content block
 * `content_block_start`, deltas and `content_block_stop`, then `message_delta` with the stop reason
 * and cumulative usage, then `message_stop`. `ping` and `error` may come anywhere.
 */
import { randomUUID } from 'node:crypto';
import type { SseEvent } from '../../sse/sse-parser.js';
import { emptyUsage, fromAnthropicUsage, toAnthropicUsage, type CanonicalUsage } from '../../usage.js';
import type { StopReason, StreamBlock, StreamEvent } from '../ir.js';
import {
  errorTypeFromAnthropic,
  malformedEventError,
  renderStreamErrorData,
  streamError,
  truncatedStreamError,
} from '../stream-errors.js';
import { stopReasonFromAnthropic, stopReasonToAnthropic } from '../stop-reasons.js';
import { isNonEmptyString, parseEventObject, stringOf } from '../stream-values.js';
import { isObject, type Json } from '../wire-values.js';

/** An upstream content block that the parser passes on, with the index the IR gave it. */
interface ParsedBlock {
  index: number;
  type: StreamBlock['type'];
}

/**
 * Parses an Anthropic Messages stream into IR events. Feed it every SSE event in order, then call
 * `end()` when the upstream closes.
 *
 * Block types the IR cannot carry (server tool calls and their results, such as
 * `server_tool_use` and `web_search_tool_result`) are skipped with their deltas, and the remaining
 * blocks are renumbered so that IR indexes stay contiguous. Citations deltas are dropped.
 */
export class AnthropicStreamParser {
  /** The passed-on blocks, by the upstream's index. */
  readonly #blocks = new Map<number, ParsedBlock>();
  #nextIndex = 0;
  #usage: CanonicalUsage = emptyUsage;
  #rawUsage: Json | undefined;
  #started = false;
  #stopSeen = false;
  /** True after `message_stop` or an error, when nothing more is emitted. */
  #finished = false;

  /** The upstream's usage fields merged so far (message_start's, then message_delta's), for the request log. */
  get rawUsage(): Readonly<Json> | undefined {
    return this.#rawUsage;
  }

  /** Returns the IR events for one upstream event. */
  push(event: SseEvent): StreamEvent[] {
    if (this.#finished) return [];

    const data = parseEventObject(event.data);
    if (data === undefined) {
      this.#finished = true;
      return [malformedEventError()];
    }

    // The data's `type` repeats the event name, and Bedrock's stream carries the data without a name.
    const type = typeof data.type === 'string' ? data.type : event.event;
    switch (type) {
      case 'message_start':
        return this.#messageStart(data);
      case 'content_block_start':
        return this.#blockStart(data);
      case 'content_block_delta':
        return this.#blockDelta(data);
      case 'content_block_stop':
        return this.#blockStop(data);
      case 'message_delta':
        return this.#messageDelta(data);
      case 'message_stop':
        this.#finished = true;
        return [{ type: 'message_stop' }];
      case 'ping':
        return [{ type: 'ping' }];
      case 'error': {
        this.#finished = true;
        const error = isObject(data.error) ? data.error : undefined;
        return [streamError(errorTypeFromAnthropic(error?.type), error?.message)];
      }
      default:
        // Anthropic's versioning policy allows new event types, which clients must ignore.
        return [];
    }
  }

  /**
   * Returns the events that end a stream the upstream closed without `message_stop`: a normal end
   * when the stop reason had arrived, otherwise an error, because the response is cut off.
   */
  end(): StreamEvent[] {
    if (this.#finished) return [];
    this.#finished = true;
    if (!this.#stopSeen) return [truncatedStreamError()];

    const events: StreamEvent[] = [];
    for (const block of this.#blocks.values()) events.push({ type: 'block_stop', index: block.index });
    this.#blocks.clear();
    events.push({ type: 'message_stop' });
    return events;
  }

  #messageStart(data: Json): StreamEvent[] {
    if (this.#started) return [];
    this.#started = true;

    const message = isObject(data.message) ? data.message : {};
    const event: StreamEvent = { type: 'message_start', id: stringOf(message.id), model: stringOf(message.model) };
    if (isObject(message.usage)) {
      this.#mergeUsage(message.usage);
      event.usage = this.#usage;
    }
    return [event];
  }

  #blockStart(data: Json): StreamEvent[] {
    const upstreamIndex = data.index;
    const content = data.content_block;
    if (typeof upstreamIndex !== 'number' || !isObject(content)) return [];

    const index = this.#nextIndex;
    switch (content.type) {
      case 'text': {
        this.#open(upstreamIndex, index, 'text');
        const events: StreamEvent[] = [{ type: 'block_start', index, block: { type: 'text' } }];
        if (isNonEmptyString(content.text)) events.push({ type: 'text_delta', index, text: content.text });
        return events;
      }
      case 'thinking': {
        this.#open(upstreamIndex, index, 'thinking');
        const events: StreamEvent[] = [{ type: 'block_start', index, block: { type: 'thinking' } }];
        if (isNonEmptyString(content.thinking)) events.push({ type: 'thinking_delta', index, text: content.thinking });
        if (isNonEmptyString(content.signature)) events.push({ type: 'signature_delta', index, signature: content.signature });
        return events;
      }
      case 'redacted_thinking':
        this.#open(upstreamIndex, index, 'redacted_thinking');
        return [{ type: 'block_start', index, block: { type: 'redacted_thinking', data: stringOf(content.data) } }];
      case 'tool_use': {
        this.#open(upstreamIndex, index, 'tool_call');
        const events: StreamEvent[] = [
          { type: 'block_start', index, block: { type: 'tool_call', id: stringOf(content.id), name: stringOf(content.name) } },
        ];
        // Anthropic starts with `input: {}` and streams the arguments. An input given whole is passed as one fragment.
        if (isObject(content.input) && hasKeys(content.input)) {
          events.push({ type: 'tool_arguments_delta', index, json: JSON.stringify(content.input) });
        }
        return events;
      }
      default:
        return [];
    }
  }

  #blockDelta(data: Json): StreamEvent[] {
    const block = typeof data.index === 'number' ? this.#blocks.get(data.index) : undefined;
    const delta = data.delta;
    if (block === undefined || !isObject(delta)) return [];

    const { index } = block;
    switch (delta.type) {
      case 'text_delta':
        return block.type === 'text' && isNonEmptyString(delta.text) ? [{ type: 'text_delta', index, text: delta.text }] : [];
      case 'input_json_delta':
        // The first fragment is often empty and carries nothing.
        return block.type === 'tool_call' && isNonEmptyString(delta.partial_json)
          ? [{ type: 'tool_arguments_delta', index, json: delta.partial_json }]
          : [];
      case 'thinking_delta':
        return block.type === 'thinking' && isNonEmptyString(delta.thinking)
          ? [{ type: 'thinking_delta', index, text: delta.thinking }]
          : [];
      case 'signature_delta':
        return block.type === 'thinking' && isNonEmptyString(delta.signature)
          ? [{ type: 'signature_delta', index, signature: delta.signature }]
          : [];
      default:
        return [];
    }
  }

  #blockStop(data: Json): StreamEvent[] {
    const block = typeof data.index === 'number' ? this.#blocks.get(data.index) : undefined;
    if (block === undefined) return [];
    this.#blocks.delete(data.index as number);
    return [{ type: 'block_stop', index: block.index }];
  }

  #messageDelta(data: Json): StreamEvent[] {
    const events: StreamEvent[] = [];
    const delta = isObject(data.delta) ? data.delta : {};
    if (typeof delta.stop_reason === 'string' && !this.#stopSeen) {
      this.#stopSeen = true;
      const reason = stopReasonFromAnthropic(delta.stop_reason);
      if (reason.type === 'stop_sequence' && typeof delta.stop_sequence === 'string') reason.sequence = delta.stop_sequence;
      events.push({ type: 'stop', reason });
    }
    // The counts are cumulative totals, and some upstreams send the input count here only.
    if (isObject(data.usage)) {
      this.#mergeUsage(data.usage);
      events.push({ type: 'usage', usage: this.#usage });
    }
    return events;
  }

  #open(upstreamIndex: number, index: number, type: StreamBlock['type']): void {
    this.#blocks.set(upstreamIndex, { index, type });
    this.#nextIndex = index + 1;
  }

  #mergeUsage(raw: Json): void {
    this.#usage = fromAnthropicUsage(raw, this.#usage);
    this.#rawUsage = this.#rawUsage === undefined ? { ...raw } : Object.assign(this.#rawUsage, raw);
  }
}

export interface AnthropicStreamRendererOptions {
  /** The model id that the client requested, reported in `message_start`. */
  model: string;
  /** The message id reported to the client. Without it, the id of the IR's `message_start`. */
  messageId?: string;
  /** Maps an upstream tool call id back to the id the client sent, for upstreams whose ids the gateway rewrote. */
  restoreToolCallId?: (id: string) => string;
}

/**
 * Renders IR events as an Anthropic Messages stream, with the `event:` names that Anthropic
 * clients dispatch on. Feed it every IR event in order, one stream per instance.
 *
 * `message_delta` carries the stop reason and the whole usage. Its counts are totals: the
 * @anthropic-ai/sdk 1.17 MessageStream replaces `output_tokens` with the delta's and takes
 * `input_tokens` and both cache counts from it whenever they are present. It is sent once both
 * the stop reason and a usage event after it have arrived, or at `message_stop`, because
 * OpenAI-family upstreams send their usage after the finish reason.
 *
 * A `message_stop` without a stop reason before it becomes an `error` event, so that a client never
 * takes a cut-off response for a complete one. After an error or `message_stop`, nothing more is sent.
 */
export class AnthropicStreamRenderer {
  readonly #model: string;
  readonly #messageId: string | undefined;
  readonly #restoreToolCallId: ((id: string) => string) | undefined;
  #started = false;
  #finished = false;
  /** The IR index of the open content block, or -1. */
  #openIndex = -1;
  #openType: StreamBlock['type'] | undefined;
  #stopReason: StopReason | undefined;
  #usage: CanonicalUsage | undefined;
  #messageDeltaSent = false;

  constructor(options: AnthropicStreamRendererOptions) {
    this.#model = options.model;
    this.#messageId = options.messageId;
    this.#restoreToolCallId = options.restoreToolCallId;
  }

  /** Returns the SSE events for one IR event, often none or one. */
  render(event: StreamEvent): SseEvent[] {
    if (this.#finished) return [];

    const out: SseEvent[] = [];
    switch (event.type) {
      case 'message_start':
        if (event.usage !== undefined) this.#usage = event.usage;
        this.#start(out, event.id);
        break;
      case 'block_start':
        this.#blockStart(out, event.index, event.block);
        break;
      case 'text_delta':
        if (this.#isOpen(event.index, 'text')) {
          out.push(blockDelta(event.index, { type: 'text_delta', text: event.text }));
        }
        break;
      case 'thinking_delta':
        if (this.#isOpen(event.index, 'thinking')) {
          out.push(blockDelta(event.index, { type: 'thinking_delta', thinking: event.text }));
        }
        break;
      case 'signature_delta':
        if (this.#isOpen(event.index, 'thinking')) {
          out.push(blockDelta(event.index, { type: 'signature_delta', signature: event.signature }));
        }
        break;
      case 'tool_arguments_delta':
        if (this.#isOpen(event.index, 'tool_call')) {
          out.push(blockDelta(event.index, { type: 'input_json_delta', partial_json: event.json }));
        }
        break;
      case 'block_stop':
        if (this.#openIndex === event.index) this.#closeBlock(out);
        break;
      case 'stop':
        this.#start(out);
        this.#closeBlock(out);
        this.#stopReason ??= event.reason;
        break;
      case 'usage':
        this.#usage = event.usage;
        if (this.#stopReason !== undefined && !this.#messageDeltaSent) this.#messageDelta(out);
        break;
      case 'message_stop':
        this.#messageStop(out);
        break;
      case 'error':
        this.#finished = true;
        out.push({ event: 'error', data: renderStreamErrorData(event, 'anthropic') });
        break;
      case 'ping':
        out.push({ event: 'ping', data: '{"type":"ping"}' });
        break;
    }
    return out;
  }

  /** Sends `message_start` unless it went out already. An event that arrives before it starts the message. */
  #start(out: SseEvent[], upstreamId?: string): void {
    if (this.#started) return;
    this.#started = true;

    const id = this.#messageId ?? (upstreamId ? upstreamId : `msg_${randomUUID().replaceAll('-', '')}`);
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model: this.#model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: toAnthropicUsage(this.#usage ?? emptyUsage),
    };
    out.push({ event: 'message_start', data: JSON.stringify({ type: 'message_start', message }) });
  }

  #blockStart(out: SseEvent[], index: number, block: StreamBlock): void {
    // A block after the stop reason has no place in an Anthropic message.
    if (this.#stopReason !== undefined) return;
    this.#start(out);
    this.#closeBlock(out);

    let contentBlock: Json;
    switch (block.type) {
      case 'text':
        contentBlock = { type: 'text', text: '' };
        break;
      case 'thinking':
        contentBlock = { type: 'thinking', thinking: '', signature: '' };
        break;
      case 'redacted_thinking':
        contentBlock = { type: 'redacted_thinking', data: block.data };
        break;
      case 'tool_call':
        contentBlock = {
          type: 'tool_use',
          id: this.#restoreToolCallId ? this.#restoreToolCallId(block.id) : block.id,
          name: block.name,
          input: {},
        };
        break;
    }
    this.#openIndex = index;
    this.#openType = block.type;
    out.push({
      event: 'content_block_start',
      data: JSON.stringify({ type: 'content_block_start', index, content_block: contentBlock }),
    });
  }

  #isOpen(index: number, type: StreamBlock['type']): boolean {
    return this.#openIndex === index && this.#openType === type;
  }

  #closeBlock(out: SseEvent[]): void {
    if (this.#openIndex === -1) return;
    out.push({ event: 'content_block_stop', data: `{"type":"content_block_stop","index":${this.#openIndex}}` });
    this.#openIndex = -1;
    this.#openType = undefined;
  }

  #messageDelta(out: SseEvent[]): void {
    const { stop_reason, stop_sequence } = stopReasonToAnthropic(this.#stopReason!);
    this.#messageDeltaSent = true;
    out.push({
      event: 'message_delta',
      data: JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason, stop_sequence },
        usage: toAnthropicUsage(this.#usage ?? emptyUsage),
      }),
    });
  }

  #messageStop(out: SseEvent[]): void {
    this.#finished = true;
    if (this.#stopReason === undefined) {
      out.push({
        event: 'error',
        data: renderStreamErrorData(
          { type: 'error', errorType: 'api_error', message: 'The upstream ended the response without a stop reason.' },
          'anthropic',
        ),
      });
      return;
    }
    this.#closeBlock(out);
    if (!this.#messageDeltaSent) this.#messageDelta(out);
    out.push({ event: 'message_stop', data: '{"type":"message_stop"}' });
  }
}

function blockDelta(index: number, delta: Json): SseEvent {
  return { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index, delta }) };
}

function hasKeys(value: Json): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}
