/**
 * The internal representation that cross-format requests go through: one wire-format adapter
 * parses a client's request into it and another renders it for the upstream, and the response or
 * stream comes back the same way. It is richer than either wire format so that a round trip through
 * it loses nothing that both formats can express (thinking signatures, cache hints, system entries
 * in the middle of a conversation).
 *
 * Everything here is plain data: no HTTP, no provider, no I/O. Same-format requests never come
 * through here; they are forwarded with only the adapter's field table applied.
 */
import type { CanonicalUsage } from '../usage.js';

export type { CanonicalUsage };

/** A prompt-cache breakpoint on a content part, tool or system entry (Anthropic's `cache_control`). */
export interface CacheHint {
  type: 'ephemeral';
  /** Anthropic accepts `5m` (the default) and `1h`. */
  ttl?: string;
}

export type ImageSource =
  | { kind: 'base64'; mediaType: string; data: string }
  | { kind: 'url'; url: string };

export type DocumentSource =
  | { kind: 'base64'; mediaType: string; data: string }
  | { kind: 'url'; url: string }
  | { kind: 'text'; mediaType: 'text/plain'; text: string };

export interface TextPart {
  type: 'text';
  text: string;
  cache?: CacheHint;
}

export interface ImagePart {
  type: 'image';
  source: ImageSource;
  /** OpenAI's `detail` (`low`, `high`, `auto`); other formats ignore it. */
  detail?: string;
  cache?: CacheHint;
  /** The part's path in the client's request, for a renderer's 400 (see DocumentPart). */
  sourcePath?: string;
}

export interface DocumentPart {
  type: 'document';
  source: DocumentSource;
  title?: string;
  /** A file name, as OpenAI's `file` parts carry it. */
  filename?: string;
  cache?: CacheHint;
  /**
   * The part's path in the client's request (`messages[1].content[0]`). The parsers set it so that
   * a renderer whose upstream cannot take the document can name it in its 400.
   */
  sourcePath?: string;
}

/** A tool call made by the assistant. */
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  /** The arguments as JSON text, exactly as received (OpenAI sends text, Anthropic an object). */
  arguments: string;
  cache?: CacheHint;
}

/** The result of a tool call, sent back by the client. */
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  content: Array<TextPart | ImagePart | DocumentPart>;
  isError?: boolean;
  cache?: CacheHint;
}

/**
 * Visible reasoning. `signature` is Anthropic's opaque proof that the text is unmodified. It must
 * come back unchanged in the next request, or Claude rejects a tool turn that follows thinking.
 */
export interface ThinkingPart {
  type: 'thinking';
  text: string;
  signature?: string;
}

/** Reasoning the upstream returned encrypted; it only ever goes back to the same upstream. */
export interface RedactedThinkingPart {
  type: 'redacted_thinking';
  data: string;
}

export type ContentPart =
  | TextPart
  | ImagePart
  | DocumentPart
  | ToolCallPart
  | ToolResultPart
  | ThinkingPart
  | RedactedThinkingPart;

/**
 * One conversation entry. System and developer entries stay where the client put them, and a
 * renderer for a format that takes the system prompt only at the top moves them there in order.
 * Tool results are parts of a `user` message, as in Anthropic's format; the OpenAI renderer turns
 * each into its own `tool` message.
 */
export interface Message {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: ContentPart[];
  /** OpenAI's optional participant name. */
  name?: string;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  /** OpenAI's strict schema adherence; no Anthropic equivalent. */
  strict?: boolean;
  cache?: CacheHint;
}

export type ToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  /** OpenAI `required`, Anthropic `any`. */
  | { type: 'required' }
  | { type: 'tool'; name: string };

/** The reasoning effort a model may spend before its reply. */
export type ReasoningEffort = 'minimal' | 'low' | 'medium' | 'high';

export interface ReasoningRequest {
  /** False when the client turned reasoning off explicitly. */
  enabled: boolean;
  /** OpenAI's `reasoning_effort`. */
  effort?: ReasoningEffort;
  /** Anthropic's `thinking.budget_tokens`. */
  budgetTokens?: number;
}

export interface ChatRequest {
  /** The upstream's model id, without the gateway's provider prefix. */
  model: string;
  messages: Message[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stopSequences?: string[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** False forbids several tool calls in one turn (Anthropic's `disable_parallel_tool_use`). */
  parallelToolCalls?: boolean;
  reasoning?: ReasoningRequest;
  /** An end-user identifier (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
  stream: boolean;
  /**
   * True when the client asked for usage in its stream (OpenAI `stream_options.include_usage`).
   * Anthropic clients always get usage.
   */
  streamUsage: boolean;
}

/**
 * Why the model stopped, in Anthropic's vocabulary with two additions, since it is the richer one.
 * `unknown` carries a value missing from both tables, which is logged and passed through as received.
 */
export type StopReason =
  | { type: 'end_turn' }
  | { type: 'max_tokens' }
  | { type: 'context_window' }
  | { type: 'tool_use' }
  | { type: 'stop_sequence'; sequence?: string }
  | { type: 'pause_turn' }
  | { type: 'refusal' }
  | { type: 'content_filter' }
  | { type: 'error' }
  | { type: 'unknown'; value: string };

export interface ChatResponse {
  id: string;
  /** The model id the upstream reported. */
  model: string;
  /** Unix seconds, when the upstream reports it. */
  created?: number;
  /** Text, thinking, redacted thinking and tool call parts, in the upstream's order. */
  content: Array<TextPart | ThinkingPart | RedactedThinkingPart | ToolCallPart>;
  stopReason: StopReason | null;
  usage?: CanonicalUsage;
}

/** The kinds of content block a stream opens. */
export type StreamBlock =
  | { type: 'text' }
  | { type: 'thinking' }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_call'; id: string; name: string };

/**
 * One event of a response stream. Blocks are numbered in the order they open, from 0, and one
 * block is open at a time: a parser for a format that interleaves (OpenAI's parallel tool calls)
 * closes the open block before it opens the next. Usage events carry cumulative totals so far.
 */
export type StreamEvent =
  | { type: 'message_start'; id: string; model: string; created?: number; usage?: CanonicalUsage }
  | { type: 'block_start'; index: number; block: StreamBlock }
  | { type: 'text_delta'; index: number; text: string }
  | { type: 'thinking_delta'; index: number; text: string }
  | { type: 'signature_delta'; index: number; signature: string }
  | { type: 'tool_arguments_delta'; index: number; json: string }
  | { type: 'block_stop'; index: number }
  | { type: 'stop'; reason: StopReason }
  | { type: 'usage'; usage: CanonicalUsage }
  /** The upstream finished the message (`message_stop`, `[DONE]`). */
  | { type: 'message_stop' }
  /** An error reported inside the stream by the upstream. */
  | { type: 'error'; errorType: string; message: string }
  | { type: 'ping' };
