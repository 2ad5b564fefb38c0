import type { ProviderId } from '../providers/providers.js';
import type { ResponseHandling } from './forward.js';
import type { ProxyCall } from './proxy-call.js';
import { scrubSecrets } from './secret-scrubbing.js';
import type { SseEvent } from './sse/sse-parser.js';
import type { OpenAiResponseRewriter } from './upstream/openai-compatible-adapter.js';
import { fromAnthropicUsage, fromDeepSeekUsage, fromOpenAiUsage, fromXaiUsage, type CanonicalUsage } from './usage.js';

type Json = Record<string, unknown>;

/**
 * Removes the request's credentials from an upstream stream event, because a careless upstream can
 * quote the key in an in-stream error as it does in an HTTP error body. Every event loses the exact
 * credential values. Error events also lose anything shaped like a credential (see scrubSecrets).
 * Returns the event itself, bytes untouched, when there is nothing to remove.
 */
export function scrubEvent(event: SseEvent, secrets: readonly string[], isError: boolean): SseEvent {
  const quotesSecret = secrets.some(
    (secret) => secret.length > 0 && (event.data.includes(secret) || event.data.includes(JSON.stringify(secret).slice(1, -1))),
  );
  if (!quotesSecret && !isError) return event;
  const data = scrubSecrets(event.data, secrets);
  return data === event.data ? event : { ...event, data };
}

/** A `usage` object in a chunk's JSON, compact or with the spaces that Python's json.dumps writes. */
const usageObject = /"usage"\s*:\s*\{/;

/** OpenAI-style `{"error":…}` events, and Mistral's `{"object":"error",…}`. */
const openAiErrorEvent = /^\s*\{\s*"error"\s*:|"object"\s*:\s*"error"/;

/** Returns the usage converter for an OpenAI-format upstream's usage object. */
export function openAiUsageReader(provider: ProviderId): (raw: unknown) => CanonicalUsage {
  if (provider === 'DEEPSEEK') return fromDeepSeekUsage;
  if (provider === 'XAI') return fromXaiUsage;
  return readOpenAiUsage;
}

/** fromOpenAiUsage with its default second argument, created once rather than per request. */
const readOpenAiUsage = (raw: unknown): CanonicalUsage => fromOpenAiUsage(raw);

/**
 * Same-format handling of OpenAI chat completion responses: usage read from the body or from the
 * chunk that carries it, the adapter's rewrites, and the request's credentials removed from the
 * events. Chunks are parsed only when a rewrite is active or the text contains a usage object, so most
 * chunks keep their bytes untouched.
 */
export function openAiHandling(provider: ProviderId, rewriter: OpenAiResponseRewriter, secrets: readonly string[]): ResponseHandling {
  return new OpenAiHandling(openAiUsageReader(provider), rewriter, secrets);
}

/** openAiHandling's handler: a class, so that a request creates one object and no closures. */
class OpenAiHandling implements ResponseHandling {
  readonly replacesBody: boolean;
  readonly #readUsage: (raw: unknown) => CanonicalUsage;
  readonly #rewriter: OpenAiResponseRewriter;
  readonly #secrets: readonly string[];

  constructor(readUsage: (raw: unknown) => CanonicalUsage, rewriter: OpenAiResponseRewriter, secrets: readonly string[]) {
    this.replacesBody = rewriter.rewritesBody;
    this.#readUsage = readUsage;
    this.#rewriter = rewriter;
    this.#secrets = secrets;
  }

  handleBody(body: Json, call: ProxyCall): Json | undefined {
    this.#capture(body.usage, call);
    if (!this.#rewriter.rewritesBody) return undefined;
    this.#rewriter.rewriteBody(body);
    return body;
  }

  handleEvent(received: SseEvent, call: ProxyCall): SseEvent | undefined {
    if (received.data === '[DONE]') return received;
    const event = scrubEvent(received, this.#secrets, openAiErrorEvent.test(received.data));
    const mentionsUsage = usageObject.test(event.data);
    if (!this.#rewriter.active && !mentionsUsage) return event;
    let chunk: Json;
    try {
      chunk = JSON.parse(event.data) as Json;
    } catch {
      return event;
    }
    if (mentionsUsage) this.#capture(chunk.usage, call);
    if (!this.#rewriter.active) return event;
    return this.#rewriter.rewriteChunk(chunk) ? { ...event, data: JSON.stringify(chunk) } : undefined;
  }

  #capture(usage: unknown, call: ProxyCall): void {
    if (usage && typeof usage === 'object') {
      call.usage = this.#readUsage(usage);
      call.rawUsage = usage as Json;
    }
  }
}

/**
 * Same-format handling of Anthropic Messages responses. Usage arrives in `message_start` (input and
 * cache counts) and in `message_delta` (cumulative output, sometimes input too). The request's
 * credentials are removed from the events.
 */
export function anthropicHandling(secrets: readonly string[]): ResponseHandling {
  return {
    replacesBody: false,
    handleBody(body, call) {
      if (body.usage && typeof body.usage === 'object') {
        call.usage = fromAnthropicUsage(body.usage);
        call.rawUsage = body.usage as Json;
      }
      return undefined;
    },
    handleEvent(received, call) {
      const event = scrubEvent(received, secrets, received.event === 'error');
      if (event.event !== 'message_start' && event.event !== 'message_delta') return event;
      try {
        const parsed = JSON.parse(event.data) as Json;
        const usage = event.event === 'message_start' ? (parsed.message as Json | undefined)?.usage : parsed.usage;
        if (usage && typeof usage === 'object') {
          call.usage = fromAnthropicUsage(usage, call.usage);
          call.rawUsage = { ...call.rawUsage, ...(usage as Json) };
        }
      } catch {
        // An unparsable event still goes to the client; only its usage is lost.
      }
      return event;
    },
  };
}
