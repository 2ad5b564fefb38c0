/**
 * The table between OpenAI's `reasoning_effort` and Anthropic's `thinking.budget_tokens`, and the
 * reasoning fields each OpenAI-family upstream takes.
 *
 * | effort    | budget_tokens | budget_tokens read back as |
 * |-----------|---------------|----------------------------|
 * | `minimal` | 1024          | below 4096: `low`          |
 * | `low`     | 2048          | below 4096: `low`          |
 * | `medium`  | 8192          | 4096 to 16383: `medium`    |
 * | `high`    | 24576         | 16384 and more: `high`     |
 *
 * A budget is never read back as `minimal`: OpenAI's o-series models reject it (only the GPT-5
 * family takes it), while `low` works on every model that takes `reasoning_effort` at all.
 */
import type { ReasoningEffort, ReasoningRequest } from './ir.js';
import { RequestFieldError } from '../upstream/request-field-error.js';

export type OpenAiFamilyTarget = 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI' | 'VERTEX';

/** Anthropic rejects a smaller `thinking.budget_tokens`. */
export const minimumThinkingBudget = 1024;

export const thinkingBudgetByEffort: Readonly<Record<ReasoningEffort, number>> = Object.freeze({
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 24576,
});

export const reasoningEfforts: readonly ReasoningEffort[] = ['minimal', 'low', 'medium', 'high'];

/** Returns the effort whose band contains a thinking budget. */
export function effortForBudget(budgetTokens: number): ReasoningEffort {
  if (budgetTokens < 4096) return 'low';
  if (budgetTokens < 16384) return 'medium';
  return 'high';
}

/**
 * Reads OpenAI's `reasoning_effort`. `none` (GPT-5.1 and later) turns reasoning off. Values with no
 * thinking budget in the table, such as `xhigh`, are rejected rather than guessed.
 */
export function parseReasoningEffort(value: unknown, field: string): ReasoningRequest | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'none') return { enabled: false };
  if (typeof value === 'string' && (reasoningEfforts as readonly string[]).includes(value)) {
    return { enabled: true, effort: value as ReasoningEffort };
  }
  throw new RequestFieldError(
    field,
    `Invalid ${field} ${JSON.stringify(value)}: use one of none, ${reasoningEfforts.join(', ')}.`,
  );
}

/**
 * Chooses Anthropic's `thinking.budget_tokens` for a request that enables reasoning.
 *
 * Both formats count reasoning inside the maximum output tokens (OpenAI's `max_completion_tokens`,
 * Anthropic's `max_tokens`), so the client's maximum is kept and the budget is lowered to leave at
 * least 1024 tokens for the visible output, but never below Anthropic's minimum of 1024. A maximum of 1024
 * or less leaves no valid budget, which is a RequestFieldError on the field that asked for reasoning.
 */
export function fitThinkingBudget(reasoning: ReasoningRequest, maxTokens: number): number {
  const requested = reasoning.budgetTokens ?? thinkingBudgetByEffort[reasoning.effort ?? 'medium'];
  const field = reasoning.budgetTokens === undefined ? 'reasoning_effort' : 'thinking.budget_tokens';
  if (maxTokens <= minimumThinkingBudget) {
    throw new RequestFieldError(
      field,
      `Reasoning on this model needs a thinking budget of at least ${minimumThinkingBudget} tokens below the maximum output tokens, which is ${maxTokens}. Raise the maximum output tokens above ${minimumThinkingBudget} or remove ${field}.`,
    );
  }

  const roomForAnswer = Math.max(maxTokens - minimumThinkingBudget, minimumThinkingBudget);
  return Math.max(Math.min(requested, roomForAnswer, maxTokens - 1), minimumThinkingBudget);
}

/**
 * Returns the reasoning fields for an OpenAI-family upstream, to merge into the request body.
 *
 * - OpenAI, xAI, Mistral and Gemini on Vertex take `reasoning_effort`. A budget without an effort is
 *   converted through the table.
 * - DeepSeek and zAI switch thinking with their own `thinking: {type: "enabled" | "disabled"}`.
 *   DeepSeek also takes `reasoning_effort` and maps values it does not list (it lists low, high and
 *   max); zAI has no effort setting.
 * - Turning reasoning off is sent only where a switch exists (DeepSeek, zAI). OpenAI's reasoning
 *   models cannot turn it off through chat completions, and other models do not reason by default.
 */
export function renderOpenAiReasoning(
  reasoning: ReasoningRequest | undefined,
  target: OpenAiFamilyTarget,
): Record<string, unknown> {
  if (reasoning === undefined) return {};
  const hasSwitch = target === 'DEEPSEEK' || target === 'ZAI';
  if (!reasoning.enabled) return hasSwitch ? { thinking: { type: 'disabled' } } : {};

  const effort =
    reasoning.effort ?? (reasoning.budgetTokens === undefined ? undefined : effortForBudget(reasoning.budgetTokens));
  if (target === 'ZAI') return { thinking: { type: 'enabled' } };

  const fields: Record<string, unknown> = hasSwitch ? { thinking: { type: 'enabled' } } : {};
  // NOTE: unverified: the effort values that Mistral and Gemini's compatibility layer accept are
  // assumed to be OpenAI's. An upstream that rejects one returns its own 400.
  if (effort !== undefined) fields.reasoning_effort = effort;
  return fields;
}

