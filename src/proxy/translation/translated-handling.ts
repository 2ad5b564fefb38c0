/**
 * Response handling for cross-format calls. The upstream's complete body or stream goes through the
 * internal representation into the client's format. Usage is captured from the representation, so
 * the response, the stream and the request log report the same canonical counts.
 */
import type { ResponseHandling } from '../forward.js';
import type { ProxyCall } from '../proxy-call.js';
import { scrubEvent } from '../response-handling.js';
import type { SseEvent } from '../sse/sse-parser.js';
import type { CanonicalUsage } from '../usage.js';
import { AnthropicStreamParser, AnthropicStreamRenderer } from './anthropic-messages/stream.js';
import { parseAnthropicResponse, renderAnthropicResponse } from './anthropic-messages/response.js';
import type { ChatResponse, StopReason, StreamEvent } from './ir.js';
import { parseOpenAiChatResponse, renderOpenAiChatResponse } from './openai-chat/response.js';
import { OpenAiChatStreamParser, OpenAiChatStreamRenderer } from './openai-chat/stream.js';
import { isUnknownStopReason } from './stop-reasons.js';
import type { ToolIdMap } from './tool-ids.js';

type Json = Record<string, unknown>;

/** Parses one upstream format into IR events. */
export interface StreamParser {
  push(event: SseEvent): StreamEvent[];
  end(): StreamEvent[];
  readonly rawUsage: Readonly<Json> | undefined;
}

/** Renders IR events in one client format. */
export interface StreamRenderer {
  render(event: StreamEvent): SseEvent[];
}

export interface TranslationHooks {
  /** Credential values to remove from anything the upstream echoes. */
  secrets: readonly string[];
  /** Called once per response with a stop reason missing from both tables, which is passed through. */
  onUnknownStopReason: (value: string) => void;
}

/**
 * Builds the handling from the four pieces of a translation: the body parser and renderer, and the
 * stream parser and renderer. One instance serves one call.
 */
export function translatedHandling(options: {
  hooks: TranslationHooks;
  /** Whether an upstream stream event is an error, which loses anything shaped like a credential. */
  isErrorEvent: (event: SseEvent) => boolean;
  parseBody: (body: Json, call: ProxyCall) => ChatResponse;
  renderBody: (response: ChatResponse) => Json;
  parser: StreamParser;
  renderer: StreamRenderer;
}): ResponseHandling {
  const { hooks, parser, renderer } = options;
  let unknownReported = false;
  const reportStop = (reason: StopReason | null) => {
    if (!unknownReported && isUnknownStopReason(reason)) {
      unknownReported = true;
      hooks.onUnknownStopReason(reason.value);
    }
  };
  const recordUsage = (call: ProxyCall, usage: CanonicalUsage, raw: Readonly<Json> | undefined) => {
    call.usage = usage;
    if (raw) call.rawUsage = { ...raw };
  };
  const renderEvents = (events: StreamEvent[], call: ProxyCall): SseEvent[] => {
    const out: SseEvent[] = [];
    for (const event of events) {
      if (event.type === 'usage' || (event.type === 'message_start' && event.usage)) {
        recordUsage(call, event.usage!, parser.rawUsage);
      } else if (event.type === 'stop') {
        reportStop(event.reason);
      } else if (event.type === 'error') {
        call.errorCode ??= event.errorType;
      }
      for (const rendered of renderer.render(event)) out.push(rendered);
    }
    return out;
  };

  return {
    replacesBody: true,
    handleBody(body, call) {
      const response = options.parseBody(body, call);
      if (response.usage) recordUsage(call, response.usage, body.usage && typeof body.usage === 'object' ? (body.usage as Json) : undefined);
      reportStop(response.stopReason);
      return options.renderBody(response);
    },
    handleEvent(received, call) {
      const event = scrubEvent(received, hooks.secrets, options.isErrorEvent(received));
      return renderEvents(parser.push(event), call);
    },
    endStream(call) {
      return renderEvents(parser.end(), call);
    },
  };
}

/** OpenAI-format `{"error":…}` chunks, and Mistral's `{"object":"error",…}`. */
const openAiErrorEvent = /^\s*\{\s*"error"\s*:|"object"\s*:\s*"error"/;

/** Builds the handling of an Anthropic upstream response for an OpenAI-format client. */
export function anthropicToOpenAiHandling(options: {
  hooks: TranslationHooks;
  /** The model id the client asked for, repeated in the response. */
  model: string;
  includeUsage: boolean;
  toolIds: ToolIdMap;
}): ResponseHandling {
  const { toolIds } = options;
  return translatedHandling({
    hooks: options.hooks,
    isErrorEvent: (event) => event.event === 'error',
    parseBody: parseAnthropicResponse,
    renderBody: (response) => renderOpenAiChatResponse(response, { model: options.model, created: Math.floor(Date.now() / 1000), toolIds }),
    parser: new AnthropicStreamParser(),
    renderer: new OpenAiChatStreamRenderer({
      model: options.model,
      includeUsage: options.includeUsage,
      restoreToolCallId: toolIds.size > 0 ? (id) => toolIds.restore(id) : undefined,
    }),
  });
}

/** Builds the handling of an OpenAI-format upstream response for an Anthropic-format client. */
export function openAiToAnthropicHandling(options: {
  hooks: TranslationHooks;
  /** The model id the client asked for, repeated in the response. */
  model: string;
  readUsage: (raw: unknown) => CanonicalUsage;
  /** Same-format rewrites that come first, such as restoring the tool call ids Mistral needed rewritten. */
  rewriteBody?: (body: Json) => void;
  rewriteChunk?: (chunk: Json) => boolean;
}): ResponseHandling {
  const parser = new OpenAiChatStreamParser(options.readUsage);
  const { rewriteChunk } = options;
  // The same-format rewrite works on parsed chunks, so it runs inside the parser's input here.
  const rewritingParser: StreamParser = rewriteChunk
    ? {
        push(event) {
          if (event.data === '[DONE]') return parser.push(event);
          let chunk: Json;
          try {
            chunk = JSON.parse(event.data) as Json;
          } catch {
            return parser.push(event);
          }
          return rewriteChunk(chunk) ? parser.push({ ...event, data: JSON.stringify(chunk) }) : [];
        },
        end: () => parser.end(),
        get rawUsage() {
          return parser.rawUsage;
        },
      }
    : parser;
  return translatedHandling({
    hooks: options.hooks,
    isErrorEvent: (event) => openAiErrorEvent.test(event.data),
    parseBody: (body) => {
      options.rewriteBody?.(body);
      return parseOpenAiChatResponse(body, options.readUsage);
    },
    renderBody: (response) => renderAnthropicResponse(response, { model: options.model }),
    parser: rewritingParser,
    renderer: new AnthropicStreamRenderer({ model: options.model }),
  });
}
