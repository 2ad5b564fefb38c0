/**
 * Token usage in the request log's canonical columns, converted from each upstream's usage object
 * and rendered back into the two client dialects.
 *
 * The four counts `inputUncached`, `cacheRead`, `cacheWrite` and `output` do not overlap, so their sum
 * is every billed token. `reasoning` is a part of `output`, kept for reporting: every provider here
 * bills reasoning tokens as output tokens.
 */
export interface CanonicalUsage {
  /** Input tokens billed at the full input rate: neither read from nor written to a prompt cache. */
  inputUncached: number;
  /** Input tokens read from a prompt cache. */
  cacheRead: number;
  /** Input tokens written to a prompt cache. */
  cacheWrite: number;
  /** Every output token, reasoning included. */
  output: number;
  /** The part of `output` spent on reasoning, or 0 when the upstream does not report it. */
  reasoning: number;
}

export const emptyUsage: Readonly<CanonicalUsage> = Object.freeze({
  inputUncached: 0,
  cacheRead: 0,
  cacheWrite: 0,
  output: 0,
  reasoning: 0,
});

/** OpenAI chat completion usage, as rendered for clients. */
export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

/** Anthropic Messages usage, as rendered for clients. */
export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

export interface OpenAiUsageOptions {
  /**
   * Whether `completion_tokens` already contains `completion_tokens_details.reasoning_tokens`, as on
   * OpenAI. Used only when `total_tokens` does not settle it.
   * @default true
   */
  reasoningInCompletion?: boolean;
}

/**
 * Converts an OpenAI-shaped chat usage object, as sent by OpenAI, Mistral, zAI, xAI and Gemini on
 * Vertex. `prompt_tokens` includes `prompt_tokens_details.cached_tokens`. Missing, null or
 * malformed fields count as 0.
 */
export function fromOpenAiUsage(raw: unknown, options: OpenAiUsageOptions = {}): CanonicalUsage {
  const usage = asObject(raw);
  const prompt = countOf(usage?.prompt_tokens) ?? 0;
  const cached = countOf(asObject(usage?.prompt_tokens_details)?.cached_tokens) ?? 0;
  const cacheRead = Math.min(cached, prompt);

  return {
    inputUncached: prompt - cacheRead,
    cacheRead,
    cacheWrite: 0,
    ...outputOf(usage, prompt, options.reasoningInCompletion ?? true),
  };
}

/**
 * Converts xAI chat usage. xAI reports reasoning tokens beside `completion_tokens`, not inside it,
 * and counts them in `total_tokens`. Its documentation states that rule, as quoted in the fix of the
 * Vercel AI SDK's xAI provider (https://github.com/vercel/ai/pull/12425).
 */
export function fromXaiUsage(raw: unknown): CanonicalUsage {
  return fromOpenAiUsage(raw, { reasoningInCompletion: false });
}

/**
 * Converts DeepSeek chat usage, where `prompt_cache_hit_tokens` and `prompt_cache_miss_tokens` split
 * `prompt_tokens`. Without them the object is read as OpenAI usage.
 */
export function fromDeepSeekUsage(raw: unknown): CanonicalUsage {
  const usage = asObject(raw);
  const hit = countOf(usage?.prompt_cache_hit_tokens);
  const miss = countOf(usage?.prompt_cache_miss_tokens);
  if (hit === undefined && miss === undefined) return fromOpenAiUsage(raw);

  const prompt = countOf(usage?.prompt_tokens) ?? (hit ?? 0) + (miss ?? 0);
  const cacheRead = hit ?? 0;
  return {
    inputUncached: miss ?? Math.max(0, prompt - cacheRead),
    cacheRead,
    cacheWrite: 0,
    ...outputOf(usage, prompt, true),
  };
}

/**
 * Converts Anthropic Messages usage. `input_tokens` excludes both cache counts. A stream sends usage
 * in `message_start` and again in `message_delta`, whose counts are cumulative totals, not
 * increments. Pass the usage so far as `previous`: each field that the new object carries replaces
 * its value, and missing or null fields keep it.
 *
 * Anthropic counts thinking in `output_tokens` and reports no separate reasoning count, so
 * `reasoning` stays as `previous` has it.
 */
export function fromAnthropicUsage(raw: unknown, previous: Readonly<CanonicalUsage> = emptyUsage): CanonicalUsage {
  const usage = asObject(raw);
  return {
    inputUncached: countOf(usage?.input_tokens) ?? previous.inputUncached,
    cacheRead: countOf(usage?.cache_read_input_tokens) ?? previous.cacheRead,
    cacheWrite: countOf(usage?.cache_creation_input_tokens) ?? cacheCreationTotal(usage) ?? previous.cacheWrite,
    output: countOf(usage?.output_tokens) ?? previous.output,
    reasoning: previous.reasoning,
  };
}

/**
 * Converts Bedrock Converse usage (`inputTokens` excludes both cache counts). Reasoning is counted
 * in `outputTokens` without a separate count.
 */
export function fromBedrockConverseUsage(raw: unknown): CanonicalUsage {
  const usage = asObject(raw);
  return {
    inputUncached: countOf(usage?.inputTokens) ?? 0,
    cacheRead: countOf(usage?.cacheReadInputTokens) ?? 0,
    cacheWrite: countOf(usage?.cacheWriteInputTokens) ?? 0,
    output: countOf(usage?.outputTokens) ?? 0,
    reasoning: 0,
  };
}

/**
 * Renders usage for an OpenAI client: `prompt_tokens` counts every input token, cached or not,
 * because OpenAI's includes `cached_tokens`.
 */
export function toOpenAiUsage(usage: CanonicalUsage): OpenAiUsage {
  const prompt = usage.inputUncached + usage.cacheRead + usage.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output,
    total_tokens: prompt + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cacheRead },
    completion_tokens_details: { reasoning_tokens: usage.reasoning },
  };
}

/** Renders usage for an Anthropic client, whose `input_tokens` excludes both cache counts. */
export function toAnthropicUsage(usage: CanonicalUsage): AnthropicUsage {
  return {
    input_tokens: usage.inputUncached,
    cache_creation_input_tokens: usage.cacheWrite,
    cache_read_input_tokens: usage.cacheRead,
    output_tokens: usage.output,
  };
}

/**
 * Reads output and reasoning from OpenAI-shaped usage. Providers disagree on whether
 * `completion_tokens` contains the reasoning tokens. `total_tokens` settles it when it equals one of
 * the two sums, and `reasoningInCompletion` decides otherwise.
 */
function outputOf(
  usage: Record<string, unknown> | undefined,
  prompt: number,
  reasoningInCompletion: boolean,
): Pick<CanonicalUsage, 'output' | 'reasoning'> {
  const completion = countOf(usage?.completion_tokens) ?? 0;
  const reasoning = countOf(asObject(usage?.completion_tokens_details)?.reasoning_tokens) ?? 0;
  const total = countOf(usage?.total_tokens);

  let included = reasoningInCompletion;
  if (reasoning > 0 && total === prompt + completion) included = true;
  else if (reasoning > 0 && total === prompt + completion + reasoning) included = false;

  if (included) return { output: completion, reasoning: Math.min(reasoning, completion) };
  return { output: completion + reasoning, reasoning };
}

// The split that newer Anthropic responses add beside `cache_creation_input_tokens`.
function cacheCreationTotal(usage: Record<string, unknown> | undefined): number | undefined {
  const creation = asObject(usage?.cache_creation);
  const fiveMinutes = countOf(creation?.ephemeral_5m_input_tokens);
  const oneHour = countOf(creation?.ephemeral_1h_input_tokens);
  if (fiveMinutes === undefined && oneHour === undefined) return undefined;
  return (fiveMinutes ?? 0) + (oneHour ?? 0);
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Reads a token count: a finite number of 0 or more, rounded to a whole token. Returns undefined for anything else. */
function countOf(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return Math.round(value);
}
