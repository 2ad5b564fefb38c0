/**
 * Bedrock Converse responses and stop reasons to the internal representation.
 */
import { fromBedrockConverseUsage } from '../../usage.js';
import type { ChatResponse, StopReason, ThinkingPart } from '../ir.js';
import { stopReasonFromAnthropic } from '../stop-reasons.js';
import { isObject, type Json } from '../wire-values.js';

/**
 * Converse's stop reasons that Anthropic's table does not have. The full list is the `StopReason`
 * enum of `@aws-sdk/client-bedrock-runtime` 3.1178: end_turn, tool_use, max_tokens, stop_sequence
 * and model_context_window_exceeded have Anthropic's names and meanings.
 *
 * | Converse                                     | IR               |
 * |----------------------------------------------|------------------|
 * | `guardrail_intervened`, `content_filtered`   | `content_filter` |
 * | `malformed_model_output`, `malformed_tool_use` | `error`        |
 */
const converseOnlyStopReasons: Readonly<Record<string, StopReason>> = {
  guardrail_intervened: { type: 'content_filter' },
  content_filtered: { type: 'content_filter' },
  // The model produced output Bedrock could not parse, so the response is not usable as it is.
  malformed_model_output: { type: 'error' },
  malformed_tool_use: { type: 'error' },
};

/**
 * Maps Converse's `stopReason`. For an Anthropic model, Converse reports the matched stop sequence
 * in `additionalModelResponseFields.stop_sequence`, which the caller may pass in.
 */
// NOTE: unverified that Converse fills additionalModelResponseFields.stop_sequence without being
// asked through additionalModelResponseFieldPaths. Without it the sequence is absent.
export function stopReasonFromConverse(value: string, stopSequence?: unknown): StopReason {
  const own = converseOnlyStopReasons[value];
  const reason = own === undefined ? stopReasonFromAnthropic(value) : { ...own };
  if (reason.type === 'stop_sequence' && typeof stopSequence === 'string') reason.sequence = stopSequence;
  return reason;
}

export interface ConverseResponseOptions {
  /** Converse returns no message id, so the caller provides one, such as Bedrock's `x-amzn-requestid`. */
  id: string;
  /** Converse does not echo the model, so the caller provides the model id it called. */
  model: string;
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Parses a Converse response body. Content blocks the IR cannot carry (images the model produced,
 * citations, guardrail content) are skipped. Tool call ids are Bedrock's, and the caller restores the
 * client's ids with the tool id map of the request.
 */
export function parseConverseResponse(body: Json, options: ConverseResponseOptions): ChatResponse {
  const output = isObject(body.output) ? body.output : {};
  const message = isObject(output.message) ? output.message : {};
  const blocks = Array.isArray(message.content) ? message.content : [];

  const content: ChatResponse['content'] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (typeof block.text === 'string') {
      content.push({ type: 'text', text: block.text });
    } else if (isObject(block.toolUse)) {
      const { toolUse } = block;
      const input = toolUse.input === undefined ? {} : toolUse.input;
      content.push({ type: 'tool_call', id: stringOf(toolUse.toolUseId), name: stringOf(toolUse.name), arguments: JSON.stringify(input) });
    } else if (isObject(block.reasoningContent)) {
      const reasoning = block.reasoningContent;
      if (isObject(reasoning.reasoningText)) {
        const signature = reasoning.reasoningText.signature;
        const thinking: ThinkingPart = { type: 'thinking', text: stringOf(reasoning.reasoningText.text) };
        if (typeof signature === 'string' && signature.length > 0) thinking.signature = signature;
        content.push(thinking);
      } else if (typeof reasoning.redactedContent === 'string') {
        content.push({ type: 'redacted_thinking', data: reasoning.redactedContent });
      }
    }
  }

  const additional = isObject(body.additionalModelResponseFields) ? body.additionalModelResponseFields : {};
  const response: ChatResponse = {
    id: options.id,
    model: options.model,
    content,
    stopReason: typeof body.stopReason === 'string' ? stopReasonFromConverse(body.stopReason, additional.stop_sequence) : null,
  };
  if (isObject(body.usage)) response.usage = fromBedrockConverseUsage(body.usage);
  return response;
}
