/**
 * Bedrock ConverseStream events to the IR's stream events.
 *
 * A ConverseStream sends `messageStart`, then per content block an optional `contentBlockStart`
 * (tool calls only, with the id and name), `contentBlockDelta`s and `contentBlockStop`, each naming
 * its block by `contentBlockIndex`, then `messageStop` with the stop reason and `metadata` with the
 * usage. Exceptions (`throttlingException`, `modelStreamErrorException` …) may end it anywhere.
 */
import { mapBedrockStreamException, type BedrockErrorContext } from '../../upstream/bedrock/bedrock-errors.js';
import { fromBedrockConverseUsage, type CanonicalUsage } from '../../usage.js';
import type { StopReason, StreamBlock, StreamEvent } from '../ir.js';
import { streamError, truncatedStreamError } from '../stream-errors.js';
import { isNonEmptyString } from '../stream-values.js';
import { isObject, type Json } from '../wire-values.js';
import { stopReasonFromConverse } from './response.js';

/** One event as the event-stream decoder returns it: an event with its JSON payload, or an exception. */
export type ConverseStreamInput =
  | { kind?: 'event'; type: string; payload: Record<string, unknown> }
  | { kind: 'exception'; type: string; message: string };

export interface ConverseStreamParserOptions {
  /** ConverseStream sends no message id, so the caller provides one, such as Bedrock's `x-amzn-requestid`. */
  id: string;
  /** The model id the request called, which ConverseStream does not echo. */
  model: string;
  /** Names the key and region in mapped exceptions, and lists the secrets to scrub from them. */
  errorContext?: BedrockErrorContext;
}

/** The state of one Converse content block, by its `contentBlockIndex`. */
interface ConverseBlock {
  block: StreamBlock | { type: 'skipped' };
  /** The IR index once the block has been opened in the IR stream. */
  index?: number;
  /** Deltas that arrived while another block was open in the IR stream, kept in order. */
  pending: Array<(index: number) => StreamEvent>;
  /** Base64 pieces of redacted reasoning, which the IR carries whole in its block start. */
  redacted: string[];
  /** True once Converse sent `contentBlockStop` for it. */
  stopped: boolean;
  /** True once its IR `block_stop` went out. */
  closed: boolean;
}

/** Joins base64 pieces into one base64 text; plain concatenation breaks when a piece ends in padding. */
function joinBase64(pieces: readonly string[]): string {
  if (pieces.length === 1) return pieces[0]!;
  return Buffer.concat(pieces.map((piece) => Buffer.from(piece, 'base64'))).toString('base64');
}

/**
 * Parses a ConverseStream into IR events. Feed it every decoded event in order, then call `end()`
 * when the body ends.
 *
 * The IR has one open block at a time, while Converse names each delta's block and may interleave
 * them. A delta for the open block goes out at once. A block that starts while another is open is
 * buffered and goes out, opened and filled, when the blocks before it have stopped. Redacted
 * reasoning is always buffered until its block stops, because the IR carries its data whole.
 *
 * The stop reason is held back until the usage arrives, so that `stop`, `usage` and
 * `message_stop` leave together as an Anthropic stream's `message_delta` and `message_stop` do.
 * Usage normally follows `messageStop` in its own `metadata` event, and a `metadata` that comes first
 * is kept for the stop.
 */
// NOTE: unverified against live AWS that metadata always follows messageStop. The parser accepts
// either order and emits the same events.
export class ConverseStreamParser {
  readonly #options: ConverseStreamParserOptions;
  readonly #blocks = new Map<number, ConverseBlock>();
  /** Converse indexes of blocks waiting to be opened in the IR stream, in order of arrival. */
  readonly #queue: number[] = [];
  /** The Converse index of the block open in the IR stream. */
  #open: number | undefined;
  #nextIndex = 0;
  #started = false;
  #stopReason: StopReason | undefined;
  #usage: CanonicalUsage | undefined;
  #rawUsage: Json | undefined;
  /** True after the message finished or failed, when nothing more is emitted. */
  #finished = false;

  constructor(options: ConverseStreamParserOptions) {
    this.#options = options;
  }

  /** The usage object of the `metadata` event, for the request log. */
  get rawUsage(): Readonly<Json> | undefined {
    return this.#rawUsage;
  }

  /** Returns the IR events for one decoded event. */
  push(event: ConverseStreamInput): StreamEvent[] {
    if (this.#finished) return [];
    if (event.kind === 'exception') return this.#exception(event);

    const out: StreamEvent[] = [];
    const { payload } = event;
    switch (event.type) {
      case 'messageStart':
        this.#start(out);
        break;
      case 'contentBlockStart':
        this.#start(out);
        this.#blockStart(out, payload);
        break;
      case 'contentBlockDelta':
        this.#start(out);
        this.#blockDelta(out, payload);
        break;
      case 'contentBlockStop':
        this.#blockStop(out, payload);
        break;
      case 'messageStop': {
        this.#start(out);
        this.#closeAll(out);
        const additional = isObject(payload.additionalModelResponseFields) ? payload.additionalModelResponseFields : {};
        this.#stopReason = stopReasonFromConverse(typeof payload.stopReason === 'string' ? payload.stopReason : 'end_turn', additional.stop_sequence);
        if (this.#usage !== undefined) this.#finish(out);
        break;
      }
      case 'metadata':
        if (isObject(payload.usage)) {
          this.#rawUsage = { ...payload.usage };
          this.#usage = fromBedrockConverseUsage(payload.usage);
        }
        if (this.#stopReason !== undefined) this.#finish(out);
        break;
      default:
        // AWS may add event types. The IR has nothing for them, so they are skipped.
        break;
    }
    return out;
  }

  /**
   * Returns the events that end a stream whose body ended. When `messageStop` had arrived without a
   * later `metadata`, they are the held stop reason and `message_stop`, without usage. Otherwise the
   * response is cut off, so the event is an error.
   */
  end(): StreamEvent[] {
    if (this.#finished) return [];
    if (this.#stopReason === undefined) {
      this.#finished = true;
      return [truncatedStreamError()];
    }
    const out: StreamEvent[] = [];
    this.#finish(out);
    return out;
  }

  #start(out: StreamEvent[]): void {
    if (this.#started) return;
    this.#started = true;
    out.push({ type: 'message_start', id: this.#options.id, model: this.#options.model });
  }

  #exception(frame: { type: string; message: string }): StreamEvent[] {
    this.#finished = true;
    const error = mapBedrockStreamException(frame, { modelId: this.#options.model, ...this.#options.errorContext });
    return [streamError(error.type, error.message)];
  }

  #finish(out: StreamEvent[]): void {
    this.#finished = true;
    this.#closeAll(out);
    out.push({ type: 'stop', reason: this.#stopReason ?? { type: 'end_turn' } });
    // Without a metadata event the usage is unknown, which is not the same as zero tokens.
    if (this.#usage !== undefined) out.push({ type: 'usage', usage: this.#usage });
    out.push({ type: 'message_stop' });
  }

  /** Registers a block and opens it in the IR stream when nothing else is open or waiting. */
  #register(converseIndex: number, block: ConverseBlock['block']): ConverseBlock {
    const state: ConverseBlock = { block, pending: [], redacted: [], stopped: false, closed: false };
    this.#blocks.set(converseIndex, state);
    if (block.type !== 'skipped') this.#queue.push(converseIndex);
    return state;
  }

  #blockStart(out: StreamEvent[], payload: Json): void {
    const converseIndex = payload.contentBlockIndex;
    if (typeof converseIndex !== 'number' || this.#blocks.has(converseIndex)) return;
    const start = isObject(payload.start) ? payload.start : {};
    const toolUse = isObject(start.toolUse) ? start.toolUse : undefined;
    // Tool results and images in a start belong to server-side tools, which the IR cannot carry.
    const block: ConverseBlock['block'] =
      toolUse === undefined
        ? { type: 'skipped' }
        : { type: 'tool_call', id: typeof toolUse.toolUseId === 'string' ? toolUse.toolUseId : '', name: typeof toolUse.name === 'string' ? toolUse.name : '' };
    this.#register(converseIndex, block);
    this.#advance(out);
  }

  #blockDelta(out: StreamEvent[], payload: Json): void {
    const converseIndex = payload.contentBlockIndex;
    const delta = payload.delta;
    if (typeof converseIndex !== 'number' || !isObject(delta)) return;

    let state = this.#blocks.get(converseIndex);
    if (state === undefined) {
      // Text and reasoning blocks have no contentBlockStart: their first delta opens them.
      const reasoning = isObject(delta.reasoningContent) ? delta.reasoningContent : undefined;
      let block: ConverseBlock['block'] = { type: 'skipped' };
      if (typeof delta.text === 'string') block = { type: 'text' };
      else if (reasoning !== undefined && typeof reasoning.redactedContent === 'string') block = { type: 'redacted_thinking', data: '' };
      else if (reasoning !== undefined) block = { type: 'thinking' };
      state = this.#register(converseIndex, block);
    }
    if (state.closed) return;

    const produce = this.#deltaEvent(state, delta);
    if (produce !== undefined) {
      if (state.index !== undefined) out.push(produce(state.index));
      else state.pending.push(produce);
    }
    this.#advance(out);
  }

  /** Returns the IR event a delta becomes, given the block's IR index, or undefined for nothing. */
  #deltaEvent(state: ConverseBlock, delta: Json): ((index: number) => StreamEvent) | undefined {
    const reasoning = isObject(delta.reasoningContent) ? delta.reasoningContent : undefined;
    switch (state.block.type) {
      case 'text':
        return isNonEmptyString(delta.text) ? (index) => ({ type: 'text_delta', index, text: delta.text as string }) : undefined;
      case 'tool_call': {
        const input = isObject(delta.toolUse) ? delta.toolUse.input : undefined;
        return isNonEmptyString(input) ? (index) => ({ type: 'tool_arguments_delta', index, json: input }) : undefined;
      }
      case 'thinking':
        if (isNonEmptyString(reasoning?.text)) return (index) => ({ type: 'thinking_delta', index, text: reasoning.text as string });
        if (isNonEmptyString(reasoning?.signature)) return (index) => ({ type: 'signature_delta', index, signature: reasoning.signature as string });
        return undefined;
      case 'redacted_thinking':
        if (isNonEmptyString(reasoning?.redactedContent)) state.redacted.push(reasoning.redactedContent);
        return undefined;
      default:
        return undefined;
    }
  }

  #blockStop(out: StreamEvent[], payload: Json): void {
    const converseIndex = payload.contentBlockIndex;
    const state = typeof converseIndex === 'number' ? this.#blocks.get(converseIndex) : undefined;
    if (state === undefined || state.stopped) return;
    state.stopped = true;
    this.#advance(out);
  }

  /**
   * Moves the IR stream forward: closes the open block once Converse stopped it, then opens waiting
   * blocks in order, emitting their buffered deltas, until one that is still streaming stays open.
   */
  #advance(out: StreamEvent[]): void {
    for (;;) {
      if (this.#open !== undefined) {
        const open = this.#blocks.get(this.#open)!;
        if (!open.stopped) return;
        this.#close(out, open);
        this.#open = undefined;
      }
      const next = this.#queue[0];
      if (next === undefined) return;
      const state = this.#blocks.get(next)!;
      // Redacted reasoning opens only when whole, since its data goes in the block start.
      if (state.block.type === 'redacted_thinking' && !state.stopped) return;
      this.#queue.shift();
      this.#openInIr(out, state);
      this.#open = next;
    }
  }

  #openInIr(out: StreamEvent[], state: ConverseBlock): void {
    const index = this.#nextIndex;
    this.#nextIndex += 1;
    state.index = index;
    const block = state.block.type === 'redacted_thinking' ? { type: 'redacted_thinking' as const, data: joinBase64(state.redacted) } : state.block;
    out.push({ type: 'block_start', index, block: block as StreamBlock });
    for (const produce of state.pending.splice(0)) out.push(produce(index));
  }

  #close(out: StreamEvent[], state: ConverseBlock): void {
    if (state.closed || state.index === undefined) return;
    state.closed = true;
    out.push({ type: 'block_stop', index: state.index });
  }

  /** Stops every block, since the message ended: the open one, then those still waiting, in order. */
  #closeAll(out: StreamEvent[]): void {
    for (const state of this.#blocks.values()) state.stopped = true;
    this.#advance(out);
  }
}
