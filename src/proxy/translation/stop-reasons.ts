/**
 * The two-way table between the IR's stop reasons, Anthropic's `stop_reason` and the
 * `finish_reason` of OpenAI-shaped upstreams (OpenAI, Mistral, DeepSeek, xAI, zAI, Gemini on Vertex).
 *
 * | upstream value                                   | IR               | OpenAI client     | Anthropic client                |
 * |--------------------------------------------------|------------------|-------------------|---------------------------------|
 * | `end_turn`, `stop`                               | `end_turn`       | `stop`            | `end_turn`                      |
 * | `max_tokens`, `length`                           | `max_tokens`     | `length`          | `max_tokens`                    |
 * | `model_context_window_exceeded`, `model_length`  | `context_window` | `length`          | `model_context_window_exceeded` |
 * | `tool_use`, `tool_calls`, `function_call`        | `tool_use`       | `tool_calls`      | `tool_use`                      |
 * | `stop_sequence`                                  | `stop_sequence`  | `stop`            | `stop_sequence` + the sequence  |
 * | `pause_turn`                                     | `pause_turn`     | `stop`            | `pause_turn`                    |
 * | `refusal`                                        | `refusal`        | `content_filter`  | `refusal`                       |
 * | `content_filter`, `sensitive`                    | `content_filter` | `content_filter`  | `refusal`                       |
 * | `error`, `network_error`, `insufficient_system_resource` | `error`  | `error`           | `error`                         |
 * | anything else                                    | `unknown`        | the value as received | the value as received       |
 *
 * Neither format has a stop reason for an upstream failure in the middle of generation (Mistral
 * `error`, zAI `network_error`, DeepSeek `insufficient_system_resource`), so both renderers send
 * `error`, because mapping it to a normal stop would tell the client that a cut-off output is complete.
 * An unknown value is passed through unchanged for the same reason; `isUnknownStopReason` lets the
 * route log it.
 */
import type { StopReason } from './ir.js';

const fromAnthropicTable: Record<string, StopReason> = {
  end_turn: { type: 'end_turn' },
  max_tokens: { type: 'max_tokens' },
  model_context_window_exceeded: { type: 'context_window' },
  tool_use: { type: 'tool_use' },
  stop_sequence: { type: 'stop_sequence' },
  pause_turn: { type: 'pause_turn' },
  refusal: { type: 'refusal' },
};

const fromOpenAiTable: Record<string, StopReason> = {
  stop: { type: 'end_turn' },
  length: { type: 'max_tokens' },
  tool_calls: { type: 'tool_use' },
  // Deprecated by OpenAI, still sent for the legacy `functions` field.
  function_call: { type: 'tool_use' },
  content_filter: { type: 'content_filter' },
  // Mistral: the prompt and the answer filled the model's context window.
  model_length: { type: 'context_window' },
  // zAI sends Anthropic's name for the same condition.
  model_context_window_exceeded: { type: 'context_window' },
  // zAI: its content filter stopped the output.
  sensitive: { type: 'content_filter' },
  // Mistral's TypeScript client (mistralai/client-ts, CompletionResponseStreamChoiceFinishReason)
  // lists `error` beside stop, length and tool_calls.
  error: { type: 'error' },
  network_error: { type: 'error' },
  // DeepSeek: generation was cut off because the service ran out of capacity.
  // NOTE: unverified against DeepSeek's own reference; the value is taken from clients that handle it.
  insufficient_system_resource: { type: 'error' },
};

/** Maps an Anthropic `stop_reason`. The matched sequence of `stop_sequence` is read by the caller. */
export function stopReasonFromAnthropic(value: string): StopReason {
  return copyOf(fromAnthropicTable[value]) ?? { type: 'unknown', value };
}

/** Maps an OpenAI-family `finish_reason`, provider extras included. */
export function stopReasonFromOpenAi(value: string): StopReason {
  return copyOf(fromOpenAiTable[value]) ?? { type: 'unknown', value };
}

/** Renders a stop reason as Anthropic's `stop_reason` and `stop_sequence` pair. */
export function stopReasonToAnthropic(reason: StopReason): { stop_reason: string; stop_sequence: string | null } {
  switch (reason.type) {
    case 'end_turn':
    case 'max_tokens':
    case 'tool_use':
    case 'pause_turn':
    case 'refusal':
    case 'error':
      return { stop_reason: reason.type, stop_sequence: null };
    case 'context_window':
      return { stop_reason: 'model_context_window_exceeded', stop_sequence: null };
    case 'stop_sequence':
      return { stop_reason: 'stop_sequence', stop_sequence: reason.sequence ?? null };
    case 'content_filter':
      // Anthropic has no separate filter reason and reports filtered output as a refusal.
      return { stop_reason: 'refusal', stop_sequence: null };
    case 'unknown':
      return { stop_reason: reason.value, stop_sequence: null };
  }
}

/** Renders a stop reason as an OpenAI `finish_reason`. */
export function stopReasonToOpenAi(reason: StopReason): string {
  switch (reason.type) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'context_window':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
    case 'content_filter':
      return 'content_filter';
    case 'error':
      return 'error';
    case 'unknown':
      return reason.value;
  }
}

/** Tells whether neither table knew the upstream's value, so the route can log it. */
export function isUnknownStopReason(reason: StopReason | null): reason is { type: 'unknown'; value: string } {
  return reason?.type === 'unknown';
}

// Table entries are shared, so every caller gets its own object to modify (a parser sets `sequence`).
function copyOf(reason: StopReason | undefined): StopReason | undefined {
  return reason === undefined ? undefined : { ...reason };
}
