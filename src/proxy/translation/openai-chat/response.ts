/**
 * Complete (non-streamed) OpenAI chat completion responses to and from the internal representation.
 */
import type { CanonicalUsage, ChatResponse, RedactedThinkingPart, StopReason, ThinkingPart, ToolCallPart } from '../ir.js';
import { toOpenAiUsage } from '../../usage.js';
import { stopReasonFromOpenAi, stopReasonToOpenAi } from '../stop-reasons.js';
import type { ToolIdMap } from '../tool-ids.js';
import { isObject, type Json } from '../wire-values.js';

/**
 * Parses an OpenAI-family response body. `readUsage` is the provider's usage converter
 * (fromOpenAiUsage, fromDeepSeekUsage, fromXaiUsage). Only the first choice is read, since
 * translated requests never ask for more.
 *
 * Reasoning comes from `reasoning_content` (DeepSeek, zAI, xAI), `reasoning` (servers that follow
 * OpenRouter's name) or Mistral's `thinking` content chunks. A refusal (`message.refusal`) becomes
 * text, and a normal stop with a refusal becomes the `refusal` stop reason.
 */
export function parseOpenAiChatResponse(body: Record<string, unknown>, readUsage: (raw: unknown) => CanonicalUsage): ChatResponse {
  const choice = Array.isArray(body.choices) && isObject(body.choices[0]) ? body.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const response: ChatResponse = {
    id: typeof body.id === 'string' ? body.id : '',
    model: typeof body.model === 'string' ? body.model : '',
    content: [],
    stopReason: typeof choice.finish_reason === 'string' ? stopReasonFromOpenAi(choice.finish_reason) : null,
  };
  if (typeof body.created === 'number') response.created = body.created;

  response.content.push(...readThinking(message));
  response.content.push(...readContent(message.content));

  const refusal = typeof message.refusal === 'string' && message.refusal.length > 0 ? message.refusal : undefined;
  if (refusal !== undefined) {
    response.content.push({ type: 'text', text: refusal });
    if (response.stopReason?.type === 'end_turn') response.stopReason = { type: 'refusal' };
  }
  if (Array.isArray(message.tool_calls)) response.content.push(...message.tool_calls.flatMap(readToolCall));

  if (isObject(body.usage)) response.usage = readUsage(body.usage);
  return response;
}

function readThinking(message: Json): ChatResponse['content'] {
  if (Array.isArray(message.thinking_blocks)) {
    return message.thinking_blocks.flatMap((block): ChatResponse['content'] => {
      if (!isObject(block)) return [];
      if (block.type === 'redacted_thinking' && typeof block.data === 'string') return [{ type: 'redacted_thinking', data: block.data }];
      if (block.type !== 'thinking' || typeof block.thinking !== 'string') return [];
      const part: ThinkingPart = { type: 'thinking', text: block.thinking };
      if (typeof block.signature === 'string') part.signature = block.signature;
      return [part];
    });
  }
  const reasoning = typeof message.reasoning_content === 'string' ? message.reasoning_content : message.reasoning;
  return typeof reasoning === 'string' && reasoning.length > 0 ? [{ type: 'thinking', text: reasoning }] : [];
}

/** Content as a string, or as Mistral's chunk array of `text` and `thinking` chunks, in order. */
function readContent(content: unknown): ChatResponse['content'] {
  if (typeof content === 'string') return content.length > 0 ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) return [];

  return content.flatMap((chunk): ChatResponse['content'] => {
    if (!isObject(chunk)) return [];
    if (chunk.type === 'text' && typeof chunk.text === 'string' && chunk.text.length > 0) return [{ type: 'text', text: chunk.text }];
    if (chunk.type === 'thinking') {
      const text = typeof chunk.thinking === 'string' ? chunk.thinking : textOfChunks(chunk.thinking);
      return text.length > 0 ? [{ type: 'thinking', text }] : [];
    }
    return [];
  });
}

function textOfChunks(chunks: unknown): string {
  if (!Array.isArray(chunks)) return '';
  return chunks.map((chunk) => (isObject(chunk) && typeof chunk.text === 'string' ? chunk.text : '')).join('');
}

function readToolCall(raw: unknown): ToolCallPart[] {
  if (!isObject(raw) || !isObject(raw.function)) return [];
  const fn = raw.function;
  const argumentsText = typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {});
  return [{ type: 'tool_call', id: typeof raw.id === 'string' ? raw.id : '', name: typeof fn.name === 'string' ? fn.name : '', arguments: argumentsText }];
}

export interface OpenAiResponseRenderOptions {
  /** The model id the client asked for, which the response repeats. */
  model: string;
  /** Unix seconds, used when the upstream reported no creation time. */
  created: number;
  /** The map the request was rendered with, to give the client back its own tool call ids. */
  toolIds?: ToolIdMap;
}

/**
 * Renders a complete response for an OpenAI-format client. Thinking goes out twice: as
 * `reasoning_content` text, and as `thinking_blocks` with Anthropic's signatures (LiteLLM's
 * convention), which a client sends back unchanged so that Claude accepts the next tool turn.
 *
 * The id is the upstream's, unchanged: OpenAI clients treat it as an opaque string, and it can be
 * looked up in the upstream's own logs.
 */
export function renderOpenAiChatResponse(response: ChatResponse, options: OpenAiResponseRenderOptions): Record<string, unknown> {
  const text = response.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
  const calls = response.content.filter((part): part is ToolCallPart => part.type === 'tool_call');
  const thinking = response.content.filter(
    (part): part is ThinkingPart | RedactedThinkingPart => part.type === 'thinking' || part.type === 'redacted_thinking',
  );

  const message: Json = {
    role: 'assistant',
    content: text.length === 0 && calls.length > 0 ? null : text,
    refusal: null,
  };
  if (calls.length > 0) {
    message.tool_calls = calls.map((call) => ({
      id: options.toolIds?.restore(call.id) ?? call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  if (thinking.length > 0) {
    const reasoning = thinking.flatMap((part) => (part.type === 'thinking' ? [part.text] : [])).join('');
    if (reasoning.length > 0) message.reasoning_content = reasoning;
    message.thinking_blocks = thinking.map((part) => {
      if (part.type === 'redacted_thinking') return { type: 'redacted_thinking', data: part.data };
      const block: Json = { type: 'thinking', thinking: part.text };
      if (part.signature !== undefined) block.signature = part.signature;
      return block;
    });
  }

  const body: Json = {
    id: response.id,
    object: 'chat.completion',
    created: response.created ?? options.created,
    model: options.model,
    choices: [{ index: 0, message, finish_reason: renderFinishReason(response.stopReason), logprobs: null }],
  };
  if (response.usage !== undefined) body.usage = toOpenAiUsage(response.usage);
  return body;
}

// A missing stop reason stays null rather than posing as a normal stop.
function renderFinishReason(reason: StopReason | null): string | null {
  return reason === null ? null : stopReasonToOpenAi(reason);
}
