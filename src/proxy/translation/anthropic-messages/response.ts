/**
 * Complete (non-streamed) Anthropic Messages responses to and from the internal representation.
 */
import type { ChatResponse, ThinkingPart } from '../ir.js';
import { emptyUsage, fromAnthropicUsage, toAnthropicUsage } from '../../usage.js';
import { stopReasonFromAnthropic, stopReasonToAnthropic } from '../stop-reasons.js';
import type { ToolIdMap } from '../tool-ids.js';
import { isObject, type Json } from '../wire-values.js';

/**
 * Parses a Messages response body from Claude: text, thinking, redacted thinking and tool use
 * blocks. Other block types are skipped. Server tool blocks cannot occur, since a translated request
 * offers no server tools.
 */
export function parseAnthropicResponse(body: Record<string, unknown>): ChatResponse {
  const response: ChatResponse = {
    id: typeof body.id === 'string' ? body.id : '',
    model: typeof body.model === 'string' ? body.model : '',
    content: Array.isArray(body.content) ? body.content.flatMap(readBlock) : [],
    stopReason: null,
  };

  if (typeof body.stop_reason === 'string') {
    const reason = stopReasonFromAnthropic(body.stop_reason);
    if (reason.type === 'stop_sequence' && typeof body.stop_sequence === 'string') reason.sequence = body.stop_sequence;
    response.stopReason = reason;
  }
  if (isObject(body.usage)) response.usage = fromAnthropicUsage(body.usage);
  return response;
}

function readBlock(block: unknown): ChatResponse['content'] {
  if (!isObject(block)) return [];
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' ? [{ type: 'text', text: block.text }] : [];
    case 'thinking': {
      if (typeof block.thinking !== 'string') return [];
      const part: ThinkingPart = { type: 'thinking', text: block.thinking };
      if (typeof block.signature === 'string') part.signature = block.signature;
      return [part];
    }
    case 'redacted_thinking':
      return typeof block.data === 'string' ? [{ type: 'redacted_thinking', data: block.data }] : [];
    case 'tool_use':
      return [
        {
          type: 'tool_call',
          id: typeof block.id === 'string' ? block.id : '',
          name: typeof block.name === 'string' ? block.name : '',
          arguments: JSON.stringify(block.input ?? {}),
        },
      ];
    default:
      return [];
  }
}

export interface AnthropicResponseRenderOptions {
  /** The model id the client asked for, which the response repeats. */
  model: string;
  /** The map the request was rendered with, to give the client back its own tool call ids. */
  toolIds?: ToolIdMap;
}

/**
 * Renders a complete response for an Anthropic-format client. The id is the upstream's, unchanged,
 * since Anthropic clients treat it as an opaque string.
 *
 * Thinking from another model has no signature; it goes out with an empty one, since the field is
 * required and only Claude verifies it. Usage is required too: a response without it reports zeros.
 */
export function renderAnthropicResponse(response: ChatResponse, options: AnthropicResponseRenderOptions): Record<string, unknown> {
  const content = response.content.map((part): Json => {
    switch (part.type) {
      case 'text':
        return { type: 'text', text: part.text };
      case 'thinking':
        return { type: 'thinking', thinking: part.text, signature: part.signature ?? '' };
      case 'redacted_thinking':
        return { type: 'redacted_thinking', data: part.data };
      case 'tool_call':
        return { type: 'tool_use', id: options.toolIds?.restore(part.id) ?? part.id, name: part.name, input: toolInput(part.arguments) };
    }
  });

  const stop = response.stopReason === null ? { stop_reason: null, stop_sequence: null } : stopReasonToAnthropic(response.stopReason);
  return {
    id: response.id,
    type: 'message',
    role: 'assistant',
    model: options.model,
    content,
    stop_reason: stop.stop_reason,
    stop_sequence: stop.stop_sequence,
    usage: toAnthropicUsage(response.usage ?? emptyUsage),
  };
}

/**
 * Parses tool arguments into the object Anthropic clients expect.
 * NOTE: arguments that are not a JSON object (a model can emit broken JSON) are sent as `{}`, and
 * the broken text is lost. The client's own input validation then reports the call as invalid.
 */
function toolInput(argumentsText: string): Json {
  try {
    const input: unknown = JSON.parse(argumentsText);
    return isObject(input) ? input : {};
  } catch {
    return {};
  }
}
