/**
 * OpenAI Chat Completions streams to and from the IR's stream events.
 *
 * An OpenAI-family stream is data-only SSE with one `chat.completion.chunk` per event. The deltas
 * in `choices[0].delta` carry text, reasoning or tool call fragments. Then come a chunk with
 * `finish_reason`, a chunk with `usage` when the request included it (Mistral puts `usage` in the
 * finish chunk itself), and `data: [DONE]`.
 */
import { randomUUID } from 'node:crypto';
import type { SseEvent } from '../../sse/sse-parser.js';
import { toOpenAiUsage, type CanonicalUsage } from '../../usage.js';
import type { StreamBlock, StreamEvent } from '../ir.js';
import {
  errorTypeFromOpenAi,
  malformedEventError,
  renderStreamErrorData,
  streamError,
  truncatedStreamError,
} from '../stream-errors.js';
import { stopReasonFromOpenAi, stopReasonToOpenAi } from '../stop-reasons.js';
import { isNonEmptyString, parseEventObject, stringOf } from '../stream-values.js';
import { isObject, type Json } from '../wire-values.js';

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

/**
 * Tracks whether streamed JSON text has closed its top-level object or array, without parsing it:
 * it counts brackets outside strings and reads each character once over the whole stream.
 */
class JsonCompletion {
  #depth = 0;
  #inString = false;
  #escaped = false;
  #opened = false;
  complete = false;

  feed(text: string): void {
    if (this.complete) return;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (code === backslash) this.#escaped = true;
        else if (code === quote) this.#inString = false;
      } else if (code === quote) {
        this.#inString = true;
      } else if (code === openBrace || code === openBracket) {
        this.#depth += 1;
        this.#opened = true;
      } else if (code === closeBrace || code === closeBracket) {
        this.#depth -= 1;
        if (this.#opened && this.#depth === 0) {
          this.complete = true;
          return;
        }
      }
    }
  }
}

/** One tool call of the upstream's stream, from its first fragment until its block closes. */
interface ToolCall {
  /** The upstream's `index` of the call, when the provider sent one. */
  key: number | undefined;
  id: string;
  name: string;
  /** The IR index of the call's block, or -1 while it is waiting to open. */
  blockIndex: number;
  /** Arguments received while the call was waiting to open. */
  buffered: string;
  arguments: JsonCompletion;
}

type OpenBlock =
  | { type: 'text' | 'thinking'; index: number }
  | { type: 'tool_call'; index: number; call: ToolCall };

/**
 * Parses an OpenAI-family chat completion stream (OpenAI, Mistral, DeepSeek, xAI, zAI, Gemini on
 * Vertex) into IR events. Feed it every SSE event in order, then call `end()` when the upstream
 * closes. Only the first choice is read, because the gateway rejects requests for more than one.
 *
 * `delta.reasoning_content` (DeepSeek, xAI, zAI) opens a thinking block, `delta.content` and
 * `delta.refusal` a text block, and Mistral's array content is split into both.
 *
 * Tool calls: the IR allows one open block at a time, but a provider may interleave the argument
 * fragments of parallel calls. The open call streams its fragments as they come. A call that
 * starts while another is open waits and buffers its fragments until the open call's arguments
 * form a closed JSON object. Then the open call closes and the waiting one opens with its buffer.
 * The finish reason flushes every waiting call in order, a call whose name never came with an
 * empty name. So each call's arguments stay whole and in order whatever the interleaving, and
 * OpenAI's usual one-call-after-another order streams live.
 */
export class OpenAiChatStreamParser {
  readonly #readUsage: (raw: unknown) => CanonicalUsage;
  #started = false;
  #stopSeen = false;
  /** True after `[DONE]` or an error, when nothing more is emitted. */
  #finished = false;
  #nextIndex = 0;
  #open: OpenBlock | undefined;
  /** Every tool call seen, in the order of their first fragments. */
  readonly #calls: ToolCall[] = [];
  /** Position in `#calls` of the first call whose block has not opened yet. */
  #nextCall = 0;
  #rawUsage: Json | undefined;

  /** @param readUsage converts the upstream's usage object, such as fromOpenAiUsage or fromDeepSeekUsage. */
  constructor(readUsage: (raw: unknown) => CanonicalUsage) {
    this.#readUsage = readUsage;
  }

  /** The upstream's last usage object, for the request log. */
  get rawUsage(): Readonly<Json> | undefined {
    return this.#rawUsage;
  }

  /** Returns the IR events for one upstream event. */
  push(event: SseEvent): StreamEvent[] {
    if (this.#finished) return [];
    if (event.data.startsWith('[DONE]')) return this.#done();

    const chunk = parseEventObject(event.data);
    if (chunk === undefined) {
      this.#finished = true;
      return [malformedEventError()];
    }
    if (isErrorChunk(chunk)) {
      this.#finished = true;
      return [errorOf(chunk)];
    }

    const events: StreamEvent[] = [];
    if (!this.#started) {
      this.#started = true;
      const start: StreamEvent = { type: 'message_start', id: stringOf(chunk.id), model: stringOf(chunk.model) };
      if (typeof chunk.created === 'number') start.created = chunk.created;
      events.push(start);
    }

    const choice = firstChoice(chunk.choices);
    if (choice !== undefined && !this.#stopSeen) {
      if (isObject(choice.delta)) this.#delta(events, choice.delta);
      if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
        this.#closeAll(events);
        this.#stopSeen = true;
        events.push({ type: 'stop', reason: stopReasonFromOpenAi(choice.finish_reason) });
      }
    }

    if (isObject(chunk.usage)) {
      this.#rawUsage = chunk.usage;
      events.push({ type: 'usage', usage: this.#readUsage(chunk.usage) });
    }
    return events;
  }

  /**
   * Returns the events that end a stream the upstream closed without `[DONE]`: a normal end when
   * the finish reason had arrived, otherwise an error, because the response is cut off.
   */
  end(): StreamEvent[] {
    if (this.#finished) return [];
    return this.#done();
  }

  #done(): StreamEvent[] {
    this.#finished = true;
    if (!this.#stopSeen) return [truncatedStreamError()];
    const events: StreamEvent[] = [];
    this.#closeAll(events);
    events.push({ type: 'message_stop' });
    return events;
  }

  #delta(out: StreamEvent[], delta: Json): void {
    if (isNonEmptyString(delta.reasoning_content)) this.#appendThinking(out, delta.reasoning_content);

    const { content } = delta;
    if (isNonEmptyString(content)) this.#appendText(out, content);
    else if (Array.isArray(content)) this.#contentChunks(out, content);

    if (isNonEmptyString(delta.refusal)) this.#appendText(out, delta.refusal);

    if (Array.isArray(delta.tool_calls)) {
      for (const fragment of delta.tool_calls) {
        if (isObject(fragment)) this.#toolCallFragment(out, fragment);
      }
    }
  }

  /**
   * Reads Mistral's array content: its reasoning models (Magistral) stream `content` as an array of
   * `{type:"thinking", thinking:[{type:"text", text}]}` and `{type:"text", text}` chunks.
   */
  #contentChunks(out: StreamEvent[], chunks: unknown[]): void {
    for (const chunk of chunks) {
      if (!isObject(chunk)) continue;
      if (chunk.type === 'text' && isNonEmptyString(chunk.text)) {
        this.#appendText(out, chunk.text);
      } else if (chunk.type === 'thinking') {
        const { thinking } = chunk;
        if (isNonEmptyString(thinking)) this.#appendThinking(out, thinking);
        else if (Array.isArray(thinking)) {
          for (const part of thinking) {
            if (isObject(part) && isNonEmptyString(part.text)) this.#appendThinking(out, part.text);
          }
        }
      }
    }
  }

  #appendText(out: StreamEvent[], text: string): void {
    if (this.#open?.type !== 'text') this.#openBlock(out, 'text');
    out.push({ type: 'text_delta', index: this.#open!.index, text });
  }

  #appendThinking(out: StreamEvent[], text: string): void {
    if (this.#open?.type !== 'thinking') this.#openBlock(out, 'thinking');
    out.push({ type: 'thinking_delta', index: this.#open!.index, text });
  }

  #openBlock(out: StreamEvent[], type: 'text' | 'thinking'): void {
    this.#closeAll(out);
    const index = this.#nextIndex++;
    this.#open = { type, index };
    out.push({ type: 'block_start', index, block: { type } });
  }

  #toolCallFragment(out: StreamEvent[], fragment: Json): void {
    const call = this.#callFor(fragment);
    const fn = isObject(fragment.function) ? fragment.function : undefined;
    if (call.blockIndex === -1) {
      if (isNonEmptyString(fragment.id)) call.id = fragment.id;
      if (isNonEmptyString(fn?.name)) call.name = fn.name;
    }

    const json = fn?.arguments;
    if (isNonEmptyString(json)) {
      if (this.#open?.type === 'tool_call' && this.#open.call === call) {
        call.arguments.feed(json);
        out.push({ type: 'tool_arguments_delta', index: call.blockIndex, json });
      } else if (call.blockIndex === -1) {
        call.buffered += json;
      }
      // NOTE: a fragment for a call whose block already closed is dropped. Calls close only once
      // their arguments form a closed JSON object or when text or the finish reason follows them,
      // so only a provider that sends more after that would lose anything.
    }
    this.#openWaitingCalls(out);
  }

  /** Finds the call a fragment belongs to, by `index`, else by id, else the latest call, or starts a new one. */
  #callFor(fragment: Json): ToolCall {
    const key = typeof fragment.index === 'number' ? fragment.index : undefined;
    const id = isNonEmptyString(fragment.id) ? fragment.id : undefined;

    const found = this.#latestCall(key, id);
    // A new id under a known index is a new call, for providers that number every call 0.
    if (found !== undefined && (id === undefined || found.id === '' || found.id === id)) return found;

    const call: ToolCall = { key, id: '', name: '', blockIndex: -1, buffered: '', arguments: new JsonCompletion() };
    this.#calls.push(call);
    return call;
  }

  /** Returns the latest call with the given `index`, else with the given id, else the latest call of all. */
  #latestCall(key: number | undefined, id: string | undefined): ToolCall | undefined {
    for (let i = this.#calls.length - 1; i >= 0; i--) {
      const call = this.#calls[i]!;
      if (key !== undefined) {
        if (call.key === key) return call;
      } else if (id !== undefined) {
        if (call.id === id) return call;
      } else {
        return call;
      }
    }
    return undefined;
  }

  /** Opens waiting calls in order while the open call is complete and the next call's name is known. */
  #openWaitingCalls(out: StreamEvent[]): void {
    while (this.#nextCall < this.#calls.length) {
      const next = this.#calls[this.#nextCall]!;
      if (next.name === '') return;
      if (this.#open?.type === 'tool_call' && !this.#open.call.arguments.complete) return;
      this.#closeOpen(out);
      this.#openCall(out, next);
    }
  }

  #openCall(out: StreamEvent[], call: ToolCall): void {
    this.#nextCall += 1;
    call.blockIndex = this.#nextIndex++;
    if (call.id === '') call.id = `call_${randomUUID().replaceAll('-', '')}`;
    this.#open = { type: 'tool_call', index: call.blockIndex, call };
    out.push({ type: 'block_start', index: call.blockIndex, block: { type: 'tool_call', id: call.id, name: call.name } });
    if (call.buffered !== '') {
      call.arguments.feed(call.buffered);
      out.push({ type: 'tool_arguments_delta', index: call.blockIndex, json: call.buffered });
      call.buffered = '';
    }
  }

  #closeOpen(out: StreamEvent[]): void {
    if (this.#open === undefined) return;
    out.push({ type: 'block_stop', index: this.#open.index });
    this.#open = undefined;
  }

  /** Closes the open block and flushes every waiting tool call, each as a whole block. */
  #closeAll(out: StreamEvent[]): void {
    this.#closeOpen(out);
    while (this.#nextCall < this.#calls.length) {
      this.#openCall(out, this.#calls[this.#nextCall]!);
      this.#closeOpen(out);
    }
  }
}

export interface OpenAiChatStreamRendererOptions {
  /** The model id that the client requested, reported on every chunk. */
  model: string;
  /** Whether the client requested usage (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** Maps an upstream tool call id back to the id the client sent, for upstreams whose ids the gateway rewrote. */
  restoreToolCallId?: (id: string) => string;
  /**
   * Whether to send each signed thinking block and redacted thinking block as `thinking_blocks`, so
   * that a client can send them back and a second tool turn on Claude succeeds.
   * @default true
   */
  emitReasoningSignatures?: boolean;
}

/**
 * Renders IR events as an OpenAI `chat.completion.chunk` stream: data-only events, each chunk with
 * the same `id`, `created` and `model`. Feed it every IR event in order, one stream per instance.
 *
 * - The role chunk `delta:{role:"assistant",content:""}` comes first, once.
 * - Text goes to `delta.content` and thinking to `delta.reasoning_content`, the convention of
 *   DeepSeek and LiteLLM.
 * - A signed thinking block ends with one delta of `thinking_blocks:[{index, type:"thinking",
 *   thinking, signature}]` holding the block's whole text, and a redacted block is one delta of
 *   `thinking_blocks:[{index, type:"redacted_thinking", data}]`. Anthropic rejects a thinking block
 *   sent back with other text than it signed, so the text is repeated there rather than left for
 *   the client to join from `reasoning_content`. Each delta carries only its own block, numbered by
 *   `index` among thinking blocks from 0, because openai-python's stream accumulator
 *   (`accumulate_delta` in src/openai/lib/streaming/_deltas.py) merges list entries by `index` and
 *   raises on a second list without it. The `openai` 6.49 Node accumulator keeps only the last such
 *   delta, so its final message lists one block when the upstream sent several.
 * - Tool calls are numbered among tool calls only, from 0: the first delta has the id, type and
 *   name with empty arguments, the next ones argument fragments.
 * - The stop reason becomes a chunk with `delta:{}` and `finish_reason`, the last chunk with
 *   choices. Usage is held until `message_stop`, when it is final for every upstream, and sent only
 *   when `includeUsage` is set, as a chunk with `choices:[]`. `data: [DONE]` ends the stream.
 * - An error becomes `data: {"error":{...}}` with nothing after it, not even `[DONE]`, so the SDKs
 *   report a failure. A `message_stop` without a stop reason before it is rendered as such an error.
 */
export class OpenAiChatStreamRenderer {
  readonly #model: string;
  readonly #includeUsage: boolean;
  readonly #restoreToolCallId: ((id: string) => string) | undefined;
  readonly #emitReasoningSignatures: boolean;
  /** The JSON text that every chunk starts with: `{"id":…,"object":…,"created":…,"model":…,`. */
  #chunkPrefix = '';
  /** The JSON text that every chunk with choices ends with: `,"usage":null}` when usage was requested. */
  #chunkSuffix: string;
  #started = false;
  #finished = false;
  #stopSent = false;
  /** The IR index of the open block, or -1. */
  #openIndex = -1;
  #openType: StreamBlock['type'] | undefined;
  /** The tool call number of the open block, when it is a tool call. */
  #openToolIndex = 0;
  #toolCount = 0;
  #thinkingBlockCount = 0;
  #thinkingText = '';
  #thinkingSignature = '';
  #usage: CanonicalUsage | undefined;

  constructor(options: OpenAiChatStreamRendererOptions) {
    this.#model = options.model;
    this.#includeUsage = options.includeUsage;
    this.#restoreToolCallId = options.restoreToolCallId;
    this.#emitReasoningSignatures = options.emitReasoningSignatures ?? true;
    // OpenAI sends `usage: null` on every chunk but the usage chunk when the client requested usage.
    this.#chunkSuffix = options.includeUsage ? ',"usage":null}' : '}';
  }

  /** Returns the SSE events for one IR event, often none or one. */
  render(event: StreamEvent): SseEvent[] {
    if (this.#finished) return [];

    const out: SseEvent[] = [];
    switch (event.type) {
      case 'message_start':
        if (event.usage !== undefined) this.#usage = event.usage;
        this.#start(out, event.id, event.created);
        break;
      case 'block_start':
        this.#blockStart(out, event.index, event.block);
        break;
      case 'text_delta':
        if (this.#isOpen(event.index, 'text')) out.push(this.#chunk({ content: event.text }));
        break;
      case 'thinking_delta':
        if (this.#isOpen(event.index, 'thinking')) {
          if (this.#emitReasoningSignatures) this.#thinkingText += event.text;
          out.push(this.#chunk({ reasoning_content: event.text }));
        }
        break;
      case 'signature_delta':
        // Anthropic sends the whole signature in one delta, and its SDK keeps the last one.
        if (this.#isOpen(event.index, 'thinking')) this.#thinkingSignature = event.signature;
        break;
      case 'tool_arguments_delta':
        if (this.#isOpen(event.index, 'tool_call')) {
          out.push(this.#chunk({ tool_calls: [{ index: this.#openToolIndex, function: { arguments: event.json } }] }));
        }
        break;
      case 'block_stop':
        if (this.#openIndex === event.index) this.#closeBlock(out);
        break;
      case 'stop':
        if (this.#stopSent) break;
        this.#start(out);
        this.#closeBlock(out);
        this.#stopSent = true;
        out.push({
          data: `${this.#chunkPrefix}"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":${JSON.stringify(
            stopReasonToOpenAi(event.reason),
          )}}]${this.#chunkSuffix}`,
        });
        break;
      case 'usage':
        this.#usage = event.usage;
        break;
      case 'message_stop':
        this.#messageStop(out);
        break;
      case 'error':
        this.#finished = true;
        out.push({ data: renderStreamErrorData(event, 'openai') });
        break;
      case 'ping':
        // OpenAI's stream format has no ping event. The stream relay's comment heartbeat keeps the connection alive.
        break;
    }
    return out;
  }

  /** Sends the role chunk unless it went out already. An event that arrives before `message_start` starts the stream. */
  #start(out: SseEvent[], upstreamId?: string, created?: number): void {
    if (this.#started) return;
    this.#started = true;

    const id = upstreamId ? upstreamId : `chatcmpl-${randomUUID().replaceAll('-', '')}`;
    const seconds = created ?? Math.floor(Date.now() / 1000);
    this.#chunkPrefix =
      `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${seconds},` +
      `"model":${JSON.stringify(this.#model)},`;
    out.push(this.#chunk({ role: 'assistant', content: '' }));
  }

  #blockStart(out: SseEvent[], index: number, block: StreamBlock): void {
    // Content after the finish chunk would break the rule that it is the last chunk with choices.
    if (this.#stopSent) return;
    this.#start(out);
    this.#closeBlock(out);
    this.#openIndex = index;
    this.#openType = block.type;

    if (block.type === 'tool_call') {
      this.#openToolIndex = this.#toolCount++;
      const id = this.#restoreToolCallId ? this.#restoreToolCallId(block.id) : block.id;
      out.push(
        this.#chunk({
          tool_calls: [{ index: this.#openToolIndex, id, type: 'function', function: { name: block.name, arguments: '' } }],
        }),
      );
    } else if (block.type === 'redacted_thinking' && this.#emitReasoningSignatures) {
      const entry = { index: this.#thinkingBlockCount++, type: 'redacted_thinking', data: block.data };
      out.push(this.#chunk({ thinking_blocks: [entry] }));
    }
  }

  #isOpen(index: number, type: StreamBlock['type']): boolean {
    return this.#openIndex === index && this.#openType === type;
  }

  #closeBlock(out: SseEvent[]): void {
    if (this.#openIndex === -1) return;
    if (this.#openType === 'thinking' && this.#thinkingSignature !== '' && this.#emitReasoningSignatures) {
      const entry = {
        index: this.#thinkingBlockCount++,
        type: 'thinking',
        thinking: this.#thinkingText,
        signature: this.#thinkingSignature,
      };
      out.push(this.#chunk({ thinking_blocks: [entry] }));
    }
    this.#thinkingText = '';
    this.#thinkingSignature = '';
    this.#openIndex = -1;
    this.#openType = undefined;
  }

  #messageStop(out: SseEvent[]): void {
    this.#finished = true;
    if (!this.#stopSent) {
      out.push({
        data: renderStreamErrorData(
          { type: 'error', errorType: 'api_error', message: 'The upstream ended the response without a stop reason.' },
          'openai',
        ),
      });
      return;
    }
    if (this.#includeUsage && this.#usage !== undefined) {
      out.push({ data: `${this.#chunkPrefix}"choices":[],"usage":${JSON.stringify(toOpenAiUsage(this.#usage))}}` });
    }
    out.push({ data: '[DONE]' });
  }

  /** One chunk with a delta for choice 0 and no finish reason. */
  #chunk(delta: Json): SseEvent {
    return {
      data: `${this.#chunkPrefix}"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":null}]${this.#chunkSuffix}`,
    };
  }
}

function isErrorChunk(chunk: Json): boolean {
  const { error } = chunk;
  return isObject(error) || isNonEmptyString(error) || chunk.object === 'error';
}

/**
 * Reads the error chunks of the OpenAI family: `{"error":{"message","type","code"}}`, xAI's
 * `{"code","error":"…"}` and Mistral's `{"object":"error","message","type"}`.
 */
function errorOf(chunk: Json): StreamEvent {
  const { error } = chunk;
  if (isObject(error)) return streamError(errorTypeFromOpenAi(error.type), error.message);
  if (typeof error === 'string') return streamError('api_error', error);
  return streamError(errorTypeFromOpenAi(chunk.type), chunk.message);
}

function firstChoice(choices: unknown): Json | undefined {
  if (!Array.isArray(choices)) return undefined;
  for (const choice of choices) {
    if (isObject(choice) && (choice.index === undefined || choice.index === 0)) return choice;
  }
  return undefined;
}
