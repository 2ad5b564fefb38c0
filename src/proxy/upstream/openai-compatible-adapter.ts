import { createHash } from 'node:crypto';
import type { OpenAiCompatibleProvider } from './endpoints.js';
import { RequestFieldError } from './request-field-error.js';

type Json = Record<string, unknown>;

/** Fields only the gateway reads; they never go upstream. */
export const gatewayOnlyFields = ['tags'] as const;

interface FieldRules {
  /** Fields removed because the upstream does not take them and they do not change the result. */
  strip: readonly string[];
  /** Fields the upstream cannot honour and that would change the result: 400 naming them. */
  reject: Readonly<Record<string, string>>;
  /** Fields the upstream takes under another name. */
  rename: Readonly<Record<string, string>>;
  /** When set, any other field is rejected, because the upstream rejects unknown fields itself. */
  allowed?: ReadonlySet<string>;
  /** Whether a stream may ask for usage with `stream_options.include_usage`. */
  acceptsStreamOptions: boolean;
}

const fieldRules: Record<OpenAiCompatibleProvider, FieldRules> = {
  OPENAI: { strip: [], reject: {}, rename: {}, acceptsStreamOptions: true },
  // Mistral rejects unknown fields with 422 extra_forbidden and sends usage in the last chunk.
  MISTRAL: {
    strip: ['stream_options', 'user', 'metadata', 'store', 'service_tier', 'safety_identifier', 'prompt_cache_key'],
    reject: {
      logit_bias: 'Mistral does not support logit_bias.',
      logprobs: 'Mistral does not return log probabilities.',
      top_logprobs: 'Mistral does not return log probabilities.',
      audio: 'Mistral chat completions do not produce audio.',
      modalities: 'Mistral chat completions produce text only.',
      web_search_options: 'Mistral chat completions have no web search option.',
      functions: 'Mistral does not take the deprecated functions field; use tools.',
      function_call: 'Mistral does not take the deprecated function_call field; use tool_choice.',
      verbosity: 'Mistral does not support verbosity.',
    },
    rename: { seed: 'random_seed', max_completion_tokens: 'max_tokens' },
    allowed: new Set([
      'model', 'messages', 'temperature', 'top_p', 'max_tokens', 'stream', 'stop', 'random_seed', 'response_format',
      'tools', 'tool_choice', 'presence_penalty', 'frequency_penalty', 'n', 'prediction', 'parallel_tool_calls',
      'safe_prompt', 'prompt_mode', 'reasoning_effort',
    ]),
    acceptsStreamOptions: false,
  },
  // NOTE: unverified: DeepSeek is documented as OpenAI-compatible; acceptance of stream_options.include_usage is inferred.
  DEEPSEEK: { strip: [], reject: {}, rename: {}, acceptsStreamOptions: true },
  // NOTE: unverified: xAI's acceptance of stream_options.include_usage is inferred from its OpenAI compatibility.
  XAI: { strip: [], reject: {}, rename: {}, acceptsStreamOptions: true },
  // NOTE: unverified: zAI is assumed to send usage in its last chunk, so stream_options is not sent.
  ZAI: {
    strip: ['user', 'stream_options'],
    reject: {
      frequency_penalty: 'zAI does not support frequency_penalty.',
      presence_penalty: 'zAI does not support presence_penalty.',
      seed: 'zAI does not support seed.',
    },
    rename: {},
    acceptsStreamOptions: false,
  },
};

/** OpenAI reasoning models reject max_tokens and take max_completion_tokens instead. */
const usesMaxCompletionTokens = /^(o\d|gpt-5)/;

/** Mistral requires tool call ids of exactly 9 letters or digits. */
const mistralToolCallId = /^[a-zA-Z0-9]{9}$/;
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export interface OpenAiResponseRewriter {
  /** Rewrites a complete response body in place. */
  rewriteBody(body: Json): void;
  /** Rewrites one stream chunk in place; returns false when the chunk must not reach the client. */
  rewriteChunk(chunk: Json): boolean;
  /** True when chunks need parsing at all; false lets the route pass bytes through untouched. */
  readonly active: boolean;
  /** True when `rewriteBody` can change a complete body; false lets it go out as received. */
  readonly rewritesBody: boolean;
}

export interface PreparedOpenAiRequest {
  body: Json;
  rewriter: OpenAiResponseRewriter;
  /** True when the client asked for a usage chunk; the gateway requests one regardless. */
  clientWantsUsage: boolean;
}

/**
 * Adapts an OpenAI chat completions body for an OpenAI-compatible upstream: sets the upstream's
 * model id, removes gateway-only fields, applies the provider's field table, requests usage in streams
 * where the upstream can give it, and rewrites tool call ids that the upstream would reject.
 * Throws RequestFieldError for a field that cannot be honoured.
 */
export function prepareOpenAiCompatibleRequest(
  provider: OpenAiCompatibleProvider,
  model: string,
  clientBody: Json,
): PreparedOpenAiRequest {
  const rules = fieldRules[provider];
  const body: Json = { ...clientBody, model };
  for (const field of gatewayOnlyFields) delete body[field];

  for (const [field, reason] of Object.entries(rules.reject)) {
    if (body[field] !== undefined && body[field] !== null) {
      throw new RequestFieldError(field, `${reason} Remove ${field} from the request or use another provider.`);
    }
  }
  for (const field of rules.strip) delete body[field];
  for (const [from, to] of Object.entries(rules.rename)) {
    if (body[from] === undefined) continue;
    if (body[to] === undefined) body[to] = body[from];
    delete body[from];
  }
  if (provider === 'OPENAI' && usesMaxCompletionTokens.test(model) && body.max_tokens !== undefined) {
    body.max_completion_tokens ??= body.max_tokens;
    delete body.max_tokens;
  }
  if (provider === 'ZAI') applyZaiToolChoice(body);
  if (rules.allowed) {
    const unknown = Object.keys(body).find((field) => !rules.allowed!.has(field));
    if (unknown) {
      throw new RequestFieldError(unknown, `${provider} rejects the field ${unknown}. Remove it from the request or use another provider.`);
    }
  }

  const streamOptions = clientBody.stream_options as { include_usage?: unknown } | undefined;
  const clientWantsUsage = streamOptions?.include_usage === true;
  const streaming = body.stream === true;
  if (streaming && rules.acceptsStreamOptions) {
    // On Node 20 a spread that adds a property its source lacks is much slower than a literal, so
    // a request without stream_options gets a literal.
    const clientOptions = body.stream_options as Json | null | undefined;
    body.stream_options =
      clientOptions === undefined || clientOptions === null ? { include_usage: true } : { ...clientOptions, include_usage: true };
  }

  const idMap = provider === 'MISTRAL' ? rewriteToolCallIds(body) : noRestoredIds;
  return {
    body,
    clientWantsUsage,
    rewriter: createRewriter(idMap, streaming && !clientWantsUsage),
  };
}

/** zAI takes tool_choice `auto` only; `none` is the same as sending no tools. */
function applyZaiToolChoice(body: Json): void {
  const choice = body.tool_choice;
  if (choice === undefined || choice === null || choice === 'auto') return;
  if (choice === 'none') {
    delete body.tool_choice;
    delete body.tools;
    return;
  }
  throw new RequestFieldError('tool_choice', 'zAI supports tool_choice "auto" only. Send "auto" or "none", or use another provider.');
}

/**
 * Replaces tool call ids that Mistral would reject with deterministic 9-character ids, in the
 * assistant's tool_calls and the matching tool messages alike. Returns new id → original id.
 */
function rewriteToolCallIds(body: Json): Map<string, string> {
  const messages = body.messages;
  const restore = new Map<string, string>();
  if (!Array.isArray(messages)) return restore;
  const forward = new Map<string, string>();
  const mapId = (id: unknown): unknown => {
    if (typeof id !== 'string' || mistralToolCallId.test(id)) return id;
    let mapped = forward.get(id);
    if (!mapped) {
      mapped = shortId(id, forward.size);
      forward.set(id, mapped);
      restore.set(mapped, id);
    }
    return mapped;
  };
  body.messages = messages.map((message: Json) => {
    if (message?.role === 'assistant' && Array.isArray(message.tool_calls)) {
      return { ...message, tool_calls: (message.tool_calls as Json[]).map((call) => ({ ...call, id: mapId(call.id) })) };
    }
    if (message?.role === 'tool' && message.tool_call_id !== undefined) {
      return { ...message, tool_call_id: mapId(message.tool_call_id) };
    }
    return message;
  });
  return restore;
}

function shortId(id: string, salt: number): string {
  const digest = createHash('sha256').update(`${salt}:${id}`).digest();
  let result = '';
  for (let index = 0; index < 9; index += 1) result += base62[digest[index]! % 62];
  return result;
}

const noRestoredIds: ReadonlyMap<string, string> = new Map();

/** The rewriter of a response that goes out as the upstream sent it, which is most of them. */
const unchangedResponse: OpenAiResponseRewriter = {
  active: false,
  rewritesBody: false,
  rewriteBody() {},
  rewriteChunk: () => true,
};

function createRewriter(restoreIds: ReadonlyMap<string, string>, hideUsage: boolean): OpenAiResponseRewriter {
  // Shared, so that the common request creates no closures.
  if (restoreIds.size === 0 && !hideUsage) return unchangedResponse;
  const restoreCalls = (calls: unknown) => {
    if (!Array.isArray(calls)) return;
    for (const call of calls as Json[]) {
      const original = typeof call.id === 'string' ? restoreIds.get(call.id) : undefined;
      if (original) call.id = original;
    }
  };
  return {
    active: restoreIds.size > 0 || hideUsage,
    rewritesBody: restoreIds.size > 0,
    rewriteBody(body) {
      if (restoreIds.size === 0) return;
      for (const choice of (body.choices as Json[] | undefined) ?? []) restoreCalls((choice.message as Json | undefined)?.tool_calls);
    },
    rewriteChunk(chunk) {
      const choices = chunk.choices as Json[] | undefined;
      if (hideUsage && chunk.usage !== undefined) {
        if (Array.isArray(choices) && choices.length === 0) return false;
        delete chunk.usage;
      }
      if (restoreIds.size > 0) for (const choice of choices ?? []) restoreCalls((choice.delta as Json | undefined)?.tool_calls);
      return true;
    },
  };
}
