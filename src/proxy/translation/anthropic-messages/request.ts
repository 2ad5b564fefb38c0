/**
 * Anthropic Messages requests to and from the internal representation.
 *
 * The parser serves Anthropic-format clients whose model is on an OpenAI-family upstream. The
 * renderer produces a native Messages body for Claude (Anthropic, Bedrock, Vertex). Errors name
 * paths in Anthropic's format (`messages[2].content[1].source.media_type`).
 */
import type {
  CacheHint,
  ChatRequest,
  ContentPart,
  DocumentPart,
  ImagePart,
  Message,
  ReasoningRequest,
  TextPart,
  ToolCallPart,
  ToolChoice,
  ToolDefinition,
  ToolResultPart,
} from '../ir.js';
import { RequestFieldError } from '../../upstream/request-field-error.js';
import { checkBase64, checkImageType, isHttpUrl } from '../media.js';
import { fitThinkingBudget } from '../reasoning.js';
import { createAnthropicToolIdMap, type ToolIdMap } from '../tool-ids.js';
import {
  invalid,
  isObject,
  isUnset,
  type Json,
  readArray,
  readCacheControl,
  readMessages,
  readObject,
  readOptionalBoolean,
  readOptionalCount,
  readOptionalNumber,
  readOptionalString,
  readStopSequences,
  readString,
  withCacheControl,
} from '../wire-values.js';
import { checkAnthropicRequestFields } from './request-fields.js';

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses an Anthropic Messages body. `model` is the upstream's model id, already resolved by the
 * route. Throws RequestFieldError for an invalid value or a field that cannot be honoured.
 */
export function parseAnthropicRequest(body: Record<string, unknown>, model: string): ChatRequest {
  checkAnthropicRequestFields(body);

  const request: ChatRequest = {
    model,
    messages: [
      ...parseSystem(body.system),
      ...readMessages(body.messages).map((message, index) => parseMessage(message, `messages[${index}]`)),
    ],
    stream: readOptionalBoolean(body.stream, 'stream') ?? false,
    // Anthropic streams always carry usage; this flag is for OpenAI-format clients.
    streamUsage: false,
  };

  const maxTokens = readOptionalCount(body.max_tokens, 'max_tokens');
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  const temperature = readOptionalNumber(body.temperature, 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = readOptionalNumber(body.top_p, 'top_p');
  if (topP !== undefined) request.topP = topP;
  const topK = readOptionalCount(body.top_k, 'top_k');
  if (topK !== undefined) request.topK = topK;
  if (!isUnset(body.stop_sequences)) {
    const stop = readStopSequences(readArray(body.stop_sequences, 'stop_sequences'), 'stop_sequences');
    if (stop !== undefined && stop.length > 0) request.stopSequences = stop;
  }

  if (!isUnset(body.tools)) {
    const tools = readArray(body.tools, 'tools').map((tool, index) => parseTool(tool, `tools[${index}]`));
    if (tools.length > 0) request.tools = tools;
  }
  if (!isUnset(body.tool_choice)) {
    const choice = readObject(body.tool_choice, 'tool_choice');
    request.toolChoice = parseToolChoice(choice);
    const disableParallel = readOptionalBoolean(choice.disable_parallel_tool_use, 'tool_choice.disable_parallel_tool_use');
    if (disableParallel !== undefined) request.parallelToolCalls = !disableParallel;
  }

  const reasoning = parseThinking(body.thinking);
  if (reasoning !== undefined) request.reasoning = reasoning;
  if (!isUnset(body.metadata)) {
    const user = readOptionalString(readObject(body.metadata, 'metadata').user_id, 'metadata.user_id');
    if (user !== undefined) request.user = user;
  }
  return request;
}

/** Reads the top-level system prompt as leading system messages, one per text block. */
function parseSystem(value: unknown): Message[] {
  if (isUnset(value)) return [];
  if (typeof value === 'string') return value.length === 0 ? [] : [{ role: 'system', content: [{ type: 'text', text: value }] }];

  return readArray(value, 'system').map((raw, index) => {
    const path = `system[${index}]`;
    const block = readObject(raw, path);
    if (block.type !== 'text') throw invalid(`${path}.type`, '"text"');
    return { role: 'system', content: [parseTextBlock(block, path)] };
  });
}

function parseMessage(raw: unknown, path: string): Message {
  const message = readObject(raw, path);
  const role = message.role;
  if (role !== 'user' && role !== 'assistant') {
    // The native endpoint rejects system entries here too; they belong in the top-level system.
    throw invalid(`${path}.role`, '"user" or "assistant" (put system prompts in the top-level system field)');
  }
  const contentPath = `${path}.content`;
  if (typeof message.content === 'string') return { role, content: [{ type: 'text', text: message.content }] };
  const content = readArray(message.content, contentPath).map((block, index) => parseBlock(block, `${contentPath}[${index}]`));
  return { role, content };
}

/** Block types that only Anthropic's own servers produce or read. */
const serverBlockTypes = new Set([
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'mcp_tool_use',
  'mcp_tool_result',
  'container_upload',
  'search_result',
]);

function parseBlock(raw: unknown, path: string): ContentPart {
  const block = readObject(raw, path);
  switch (block.type) {
    case 'text':
      return parseTextBlock(block, path);
    case 'image':
      return parseImageBlock(block, path);
    case 'document':
      return parseDocumentBlock(block, path);
    case 'tool_use':
      return withCache<ToolCallPart>(
        {
          type: 'tool_call',
          id: readString(block.id, `${path}.id`),
          name: readString(block.name, `${path}.name`),
          arguments: JSON.stringify(isUnset(block.input) ? {} : readObject(block.input, `${path}.input`)),
        },
        block,
        path,
      );
    case 'tool_result':
      return parseToolResult(block, path);
    case 'thinking': {
      const text = readString(block.thinking, `${path}.thinking`);
      const signature = readOptionalString(block.signature, `${path}.signature`);
      return signature === undefined ? { type: 'thinking', text } : { type: 'thinking', text, signature };
    }
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: readString(block.data, `${path}.data`) };
    default:
      if (typeof block.type === 'string' && serverBlockTypes.has(block.type)) {
        throw new RequestFieldError(path, `The ${block.type} block at ${path} comes from an Anthropic server tool and cannot be sent to this model.`);
      }
      throw invalid(`${path}.type`, '"text", "image", "document", "tool_use", "tool_result", "thinking" or "redacted_thinking"');
  }
}

// Citations on text blocks are dropped, because they point into documents of an earlier Anthropic response.
function parseTextBlock(block: Json, path: string): TextPart {
  return withCache<TextPart>({ type: 'text', text: readString(block.text, `${path}.text`) }, block, path);
}

function parseImageBlock(block: Json, path: string): ImagePart {
  const sourcePath = `${path}.source`;
  const source = readObject(block.source, sourcePath);
  let image: ImagePart;
  if (source.type === 'base64') {
    const mediaType = checkImageType(readString(source.media_type, `${sourcePath}.media_type`), `${sourcePath}.media_type`);
    const data = checkBase64(readString(source.data, `${sourcePath}.data`), `${sourcePath}.data`);
    image = { type: 'image', source: { kind: 'base64', mediaType, data } };
  } else if (source.type === 'url') {
    image = { type: 'image', source: { kind: 'url', url: readHttpUrl(source.url, `${sourcePath}.url`) } };
  } else {
    throw invalid(`${sourcePath}.type`, '"base64" or "url" (uploaded files exist only on Anthropic)');
  }
  image.sourcePath = path;
  return withCache(image, block, path);
}

function parseDocumentBlock(block: Json, path: string): DocumentPart {
  const sourcePath = `${path}.source`;
  const source = readObject(block.source, sourcePath);
  let document: DocumentPart;
  if (source.type === 'base64') {
    const mediaType = readString(source.media_type, `${sourcePath}.media_type`);
    if (mediaType !== 'application/pdf') throw invalid(`${sourcePath}.media_type`, '"application/pdf"');
    document = { type: 'document', source: { kind: 'base64', mediaType, data: checkBase64(readString(source.data, `${sourcePath}.data`), `${sourcePath}.data`) } };
  } else if (source.type === 'text') {
    document = { type: 'document', source: { kind: 'text', mediaType: 'text/plain', text: readString(source.data, `${sourcePath}.data`) } };
  } else if (source.type === 'url') {
    document = { type: 'document', source: { kind: 'url', url: readHttpUrl(source.url, `${sourcePath}.url`) } };
  } else {
    throw invalid(`${sourcePath}.type`, '"base64", "text" or "url" (content and file sources cannot be translated)');
  }
  const title = readOptionalString(block.title, `${path}.title`);
  if (title !== undefined) document.title = title;
  document.sourcePath = path;
  return withCache(document, block, path);
}

function readHttpUrl(value: unknown, path: string): string {
  const url = readString(value, path);
  if (!isHttpUrl(url)) throw invalid(path, 'an http or https URL');
  return url;
}

function parseToolResult(block: Json, path: string): ToolResultPart {
  const result: ToolResultPart = {
    type: 'tool_result',
    toolCallId: readString(block.tool_use_id, `${path}.tool_use_id`),
    content: [],
  };
  const contentPath = `${path}.content`;
  if (typeof block.content === 'string') {
    result.content = [{ type: 'text', text: block.content }];
  } else if (!isUnset(block.content)) {
    result.content = readArray(block.content, contentPath).map((raw, index) => {
      const itemPath = `${contentPath}[${index}]`;
      const item = readObject(raw, itemPath);
      if (item.type === 'text') return parseTextBlock(item, itemPath);
      if (item.type === 'image') return parseImageBlock(item, itemPath);
      if (item.type === 'document') return parseDocumentBlock(item, itemPath);
      throw invalid(`${itemPath}.type`, '"text", "image" or "document"');
    });
  }
  const isError = readOptionalBoolean(block.is_error, `${path}.is_error`);
  if (isError !== undefined) result.isError = isError;
  return withCache(result, block, path);
}

/**
 * Custom tools only. A tool with another `type` (web_search_20250305, bash_20250124 and the like) is
 * run by Anthropic's servers or defined by Anthropic's schema, so it cannot be offered to another
 * model.
 */
function parseTool(raw: unknown, path: string): ToolDefinition {
  const tool = readObject(raw, path);
  if (!isUnset(tool.type) && tool.type !== 'custom') {
    throw new RequestFieldError(
      path,
      `The Anthropic tool ${JSON.stringify(tool.type)} at ${path} runs only on Anthropic and cannot be used with this model: remove it or define a custom tool with an input_schema.`,
    );
  }
  const definition: ToolDefinition = {
    name: readString(tool.name, `${path}.name`),
    parameters: readObject(tool.input_schema, `${path}.input_schema`),
  };
  const description = readOptionalString(tool.description, `${path}.description`);
  if (description !== undefined) definition.description = description;
  return withCache(definition, tool, path);
}

function parseToolChoice(choice: Json): ToolChoice {
  switch (choice.type) {
    case 'auto':
    case 'none':
      return { type: choice.type };
    case 'any':
      return { type: 'required' };
    case 'tool':
      return { type: 'tool', name: readString(choice.name, 'tool_choice.name') };
    default:
      throw invalid('tool_choice.type', '"auto", "any", "tool" or "none"');
  }
}

/**
 * `enabled` with a budget, `disabled`, or `adaptive` (newer models choose their own budget; an
 * `output_config.effort` beside it is not read).
 */
function parseThinking(value: unknown): ReasoningRequest | undefined {
  if (isUnset(value)) return undefined;
  const thinking = readObject(value, 'thinking');
  switch (thinking.type) {
    case 'disabled':
      return { enabled: false };
    case 'adaptive':
      return { enabled: true };
    case 'enabled': {
      const budgetTokens = readOptionalCount(thinking.budget_tokens, 'thinking.budget_tokens');
      if (budgetTokens === undefined) throw invalid('thinking.budget_tokens', 'a whole number of 1024 or more');
      return { enabled: true, budgetTokens };
    }
    default:
      throw invalid('thinking.type', '"enabled", "disabled" or "adaptive"');
  }
}

function withCache<T extends { cache?: CacheHint }>(part: T, raw: Json, path: string): T {
  const cache = readCacheControl(raw.cache_control, `${path}.cache_control`);
  if (cache !== undefined) part.cache = cache;
  return part;
}

// ---------------------------------------------------------------------------------------------
// Rendering

export interface AnthropicRenderOptions {
  /** The model's maximum output tokens, sent when the request sets no maximum, since Anthropic requires one. */
  defaultMaxTokens: number;
  /**
   * False for an upstream that takes images and documents as base64 data only. URL sources are
   * then a RequestFieldError naming the part.
   * @default true
   */
  acceptsUrlSources?: boolean;
}

/**
 * Renders the internal representation as a native Messages body, and returns the tool id map
 * used for it, to restore the client's ids in the response.
 *
 * Throws RequestFieldError for what Claude rejects and the gateway will not change silently. One is
 * a temperature above 1: OpenAI's scale ends at 2, and rescaling would change the sampling the
 * client chose. With thinking, the others are a temperature other than 1, `top_k`, a `top_p` below
 * 0.95 and a forced tool choice. They are errors rather than dropped, the way OpenAI's own reasoning
 * models reject a temperature other than 1.
 */
export function renderAnthropicRequest(
  request: ChatRequest,
  options: AnthropicRenderOptions,
): { body: Record<string, unknown>; toolIds: ToolIdMap } {
  const toolIds = createAnthropicToolIdMap();
  const maxTokens = request.maxTokens ?? options.defaultMaxTokens;
  const body: Json = { model: request.model, max_tokens: maxTokens };

  const system = renderSystem(request.messages);
  if (system.length > 0) body.system = system;
  body.messages = renderMessages(request.messages, { toolIds, acceptsUrlSources: options.acceptsUrlSources ?? true });

  if (request.temperature !== undefined) {
    if (request.temperature < 0 || request.temperature > 1) {
      throw new RequestFieldError(
        'temperature',
        `Invalid temperature ${request.temperature}: this model takes 0 to 1. Send a temperature between 0 and 1.`,
      );
    }
    body.temperature = request.temperature;
  }
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) body.top_k = request.topK;
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) body.stop_sequences = [...request.stopSequences];

  const hasTools = request.tools !== undefined && request.tools.length > 0;
  if (hasTools) body.tools = request.tools!.map(renderTool);
  const toolChoice = renderToolChoice(request, hasTools);
  if (toolChoice !== undefined) body.tool_choice = toolChoice;

  if (request.reasoning !== undefined) {
    if (request.reasoning.enabled) {
      checkThinkingCompatible(request);
      body.thinking = { type: 'enabled', budget_tokens: fitThinkingBudget(request.reasoning, maxTokens) };
    } else {
      body.thinking = { type: 'disabled' };
    }
  }
  if (request.user !== undefined) body.metadata = { user_id: request.user };
  if (request.stream) body.stream = true;
  return { body, toolIds };
}

// Anthropic's extended thinking guide rules out temperature and top_k changes and forced tool use,
// as quoted in https://github.com/anthropics/claude-code/issues/19414.
// NOTE: unverified: the top_p range of 0.95 to 1 with thinking is taken from other clients.
function checkThinkingCompatible(request: ChatRequest): void {
  const field = request.reasoning?.budgetTokens === undefined ? 'reasoning_effort' : 'thinking';
  if (request.temperature !== undefined && request.temperature !== 1) {
    throw new RequestFieldError('temperature', `temperature cannot be combined with reasoning on this model: remove temperature (or send 1), or remove ${field}.`);
  }
  if (request.topK !== undefined) {
    throw new RequestFieldError('top_k', `top_k cannot be combined with reasoning on this model: remove top_k or remove ${field}.`);
  }
  if (request.topP !== undefined && request.topP < 0.95) {
    throw new RequestFieldError('top_p', `A top_p below 0.95 cannot be combined with reasoning on this model: remove top_p or remove ${field}.`);
  }
  const choice = request.toolChoice?.type;
  if (choice === 'required' || choice === 'tool') {
    throw new RequestFieldError('tool_choice', `A forced tool choice cannot be combined with reasoning on this model: use "auto" or remove ${field}.`);
  }
}

/**
 * Collects every system and developer message, wherever it is, as a block of the top-level system
 * prompt, in order and with its cache hints. An entry in the middle of the conversation moves there
 * too, because the native endpoint rejects a system role inside `messages`.
 */
function renderSystem(messages: Message[]): Json[] {
  const blocks: Json[] = [];
  for (const message of messages) {
    if (message.role !== 'system' && message.role !== 'developer') continue;
    for (const part of message.content) {
      if (part.type === 'text' && part.text.length > 0) blocks.push(withCacheControl({ type: 'text', text: part.text }, part.cache));
    }
  }
  return blocks;
}

/**
 * Renders user and assistant turns. Consecutive turns of one role are merged into one message,
 * since removing a system entry or a turn with nothing Claude can take leaves them adjacent. In a
 * user turn, tool results come first, as Anthropic requires, then the rest in order.
 */
function renderMessages(messages: Message[], context: BlockContext): Json[] {
  const turns: { role: 'user' | 'assistant'; blocks: Json[] }[] = [];
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'developer') continue;
    const blocks = message.content.flatMap((part) => renderBlock(part, context));
    if (blocks.length === 0) continue;

    const last = turns.at(-1);
    if (last?.role === message.role) last.blocks.push(...blocks);
    else turns.push({ role: message.role, blocks });
  }

  return turns.map(({ role, blocks }) => {
    const ordered =
      role === 'user'
        ? [...blocks.filter((block) => block.type === 'tool_result'), ...blocks.filter((block) => block.type !== 'tool_result')]
        : blocks;
    const only = ordered[0]!;
    const isPlainText = ordered.length === 1 && only.type === 'text' && only.cache_control === undefined;
    return { role, content: isPlainText ? only.text : ordered };
  });
}

interface BlockContext {
  toolIds: ToolIdMap;
  acceptsUrlSources: boolean;
}

/**
 * Renders one part as zero or one Anthropic blocks. Empty text is left out because Anthropic rejects empty
 * text blocks. Thinking without a signature (another model's reasoning, such as DeepSeek's) is left
 * out because Claude rejects thinking it cannot verify.
 */
function renderBlock(part: ContentPart, context: BlockContext): Json[] {
  switch (part.type) {
    case 'text':
      return part.text.length === 0 ? [] : [withCacheControl({ type: 'text', text: part.text }, part.cache)];
    case 'image':
      return [renderImage(part, context)];
    case 'document':
      return [renderDocument(part, context)];
    case 'tool_call':
      return [
        withCacheControl(
          { type: 'tool_use', id: context.toolIds.rewrite(part.id), name: part.name, input: toolInput(part.arguments, part.id) },
          part.cache,
        ),
      ];
    case 'tool_result':
      return [renderToolResult(part, context)];
    case 'thinking':
      return part.signature === undefined || part.signature.length === 0
        ? []
        : [{ type: 'thinking', thinking: part.text, signature: part.signature }];
    case 'redacted_thinking':
      return [{ type: 'redacted_thinking', data: part.data }];
  }
}

function renderImage(part: ImagePart, context: BlockContext): Json {
  let source: Json;
  if (part.source.kind === 'base64') source = { type: 'base64', media_type: part.source.mediaType, data: part.source.data };
  else source = { type: 'url', url: checkUrlSource(part.source.url, part.sourcePath, context) };
  return withCacheControl({ type: 'image', source }, part.cache);
}

function renderDocument(part: DocumentPart, context: BlockContext): Json {
  let source: Json;
  if (part.source.kind === 'base64') source = { type: 'base64', media_type: part.source.mediaType, data: part.source.data };
  else if (part.source.kind === 'text') source = { type: 'text', media_type: 'text/plain', data: part.source.text };
  else source = { type: 'url', url: checkUrlSource(part.source.url, part.sourcePath, context) };

  const block: Json = { type: 'document', source };
  const title = part.title ?? part.filename;
  if (title !== undefined) block.title = title;
  return withCacheControl(block, part.cache);
}

/** Returns a URL source, or throws RequestFieldError naming the part where the upstream takes only bytes. */
function checkUrlSource(url: string, sourcePath: string | undefined, context: BlockContext): string {
  if (context.acceptsUrlSources) return url;
  const path = sourcePath ?? 'messages';
  throw new RequestFieldError(path, `The URL at ${path} cannot be sent to this model, which takes images and documents as data only: send the file as base64 data.`);
}

function renderToolResult(part: ToolResultPart, context: BlockContext): Json {
  const block: Json = { type: 'tool_result', tool_use_id: context.toolIds.rewrite(part.toolCallId) };
  const content = part.content.flatMap((item): Json[] => {
    if (item.type === 'text') return item.text.length === 0 ? [] : [withCacheControl({ type: 'text', text: item.text }, item.cache)];
    return item.type === 'image' ? [renderImage(item, context)] : [renderDocument(item, context)];
  });
  const only = content[0];
  if (content.length === 1 && only!.type === 'text' && only!.cache_control === undefined) block.content = only!.text;
  else if (content.length > 0) block.content = content;
  if (part.isError !== undefined) block.is_error = part.isError;
  return withCacheControl(block, part.cache);
}

/** Tool arguments as the object Anthropic takes. Empty text, which some clients send for no arguments, is `{}`. */
function toolInput(argumentsText: string, id: string): Json {
  if (argumentsText.trim().length === 0) return {};
  let input: unknown;
  try {
    input = JSON.parse(argumentsText);
  } catch {
    input = undefined;
  }
  if (!isObject(input)) {
    throw new RequestFieldError('messages', `The arguments of tool call ${id} are not a JSON object: send them back exactly as the model returned them.`);
  }
  return input;
}

function renderTool(tool: ToolDefinition): Json {
  const rendered: Json = { name: tool.name };
  if (tool.description !== undefined) rendered.description = tool.description;
  rendered.input_schema = tool.parameters;
  return withCacheControl(rendered, tool.cache);
}

/** `parallelToolCalls: false` becomes `disable_parallel_tool_use` on the choice, `auto` when none is set. */
function renderToolChoice(request: ChatRequest, hasTools: boolean): Json | undefined {
  const choice = request.toolChoice;
  let rendered: Json | undefined;
  if (choice?.type === 'required') rendered = { type: 'any' };
  else if (choice?.type === 'tool') rendered = { type: 'tool', name: choice.name };
  else if (choice !== undefined) rendered = { type: choice.type };

  if (hasTools && request.parallelToolCalls === false && choice?.type !== 'none') {
    rendered ??= { type: 'auto' };
    rendered.disable_parallel_tool_use = true;
  }
  return rendered;
}
