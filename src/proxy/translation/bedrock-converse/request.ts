/**
 * Renders the internal representation as a Bedrock Converse (and ConverseStream) request body.
 *
 * Converse takes the system prompt only at the top, content as typed blocks (`text`, `image`,
 * `document`, `toolUse`, `toolResult`, `reasoningContent`), cache breakpoints as separate
 * `cachePoint` blocks after the content they close, sampling settings in `inferenceConfig` and tools
 * in `toolConfig`. Field shapes follow the request types of `@aws-sdk/client-bedrock-runtime`
 * 3.1178 (models_0.d.ts). The model id goes in the URL and streaming is chosen by the path, so
 * neither is in the body. Errors name paths in the internal representation
 * (`messages[2].content[1]`), which follows the client's order of messages.
 */
import type {
  CacheHint,
  ChatRequest,
  ContentPart,
  DocumentPart,
  ImagePart,
  Message,
  ToolDefinition,
  ToolResultPart,
} from '../ir.js';
import { canonicalMediaType, isHttpUrl, parseDataUrl } from '../media.js';
import { fitThinkingBudget } from '../reasoning.js';
import { ToolIdMap } from '../tool-ids.js';
import { isObject, type Json } from '../wire-values.js';
import { RequestFieldError } from '../../upstream/request-field-error.js';

/**
 * Converse's pattern and length for `toolUseId`, from the API reference
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html). Newer
 * revisions also allow `.` and `:`, but the narrower form is kept because every revision accepts it.
 */
const converseToolIdPattern = /^[a-zA-Z0-9_-]{1,64}$/;

const imageFormats: Readonly<Record<string, string>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** Converse's `DocumentFormat` values by media type. */
const documentFormats: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

export interface ConverseRenderOptions {
  /**
   * True when the model is an Anthropic model, which takes extended thinking through
   * `additionalModelRequestFields.thinking`. Other models have no model-independent reasoning switch.
   */
  anthropicModel: boolean;
  /** Used for the thinking budget when the request sets no maximum output tokens. */
  defaultMaxTokens?: number;
}

/** Creates the map that rewrites tool call ids Converse would reject, and restores them in responses. */
export function createConverseToolIdMap(): ToolIdMap {
  return new ToolIdMap((id) => converseToolIdPattern.test(id), 'tooluse_kr');
}

/**
 * Renders a Converse body, and returns the tool id map used for it, to restore the client's ids in
 * the response.
 *
 * Throws RequestFieldError for what Converse cannot carry:
 * - an image or document given by http(s) URL, because Converse takes bytes only and the gateway
 *   has no fetcher;
 * - an image or document type that Converse does not list;
 * - `top_k`, whose name and place differ per model family, so no model-independent field exists;
 * - reasoning on a non-Anthropic model.
 */
// NOTE: URL images are rejected because the gateway has no fetcher yet. One would download public
// https images within size, time and redirect limits.
export function renderConverseRequest(request: ChatRequest, options: ConverseRenderOptions): { body: Json; toolIds: ToolIdMap } {
  const toolIds = createConverseToolIdMap();
  const body: Json = {};

  const system = renderSystem(request.messages);
  if (system.length > 0) body.system = system;
  body.messages = renderMessages(request.messages, toolIds);

  const thinking = renderThinking(request, options);
  const inferenceConfig: Json = {};
  const maxTokens = request.maxTokens ?? thinking?.maxTokens;
  if (maxTokens !== undefined) inferenceConfig.maxTokens = maxTokens;
  if (request.temperature !== undefined) inferenceConfig.temperature = request.temperature;
  if (request.topP !== undefined) inferenceConfig.topP = request.topP;
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) inferenceConfig.stopSequences = [...request.stopSequences];
  if (Object.keys(inferenceConfig).length > 0) body.inferenceConfig = inferenceConfig;

  if (request.topK !== undefined) {
    throw new RequestFieldError(
      'top_k',
      'Bedrock Converse has no model-independent top_k. Remove top_k from the request, or call an Anthropic model, whose requests keep it.',
    );
  }

  const toolConfig = renderToolConfig(request);
  if (toolConfig !== undefined) body.toolConfig = toolConfig;

  if (thinking !== undefined) body.additionalModelRequestFields = { thinking: thinking.field };
  return { body, toolIds };
}

function cachePoint(hint: CacheHint): Json {
  // Converse takes the TTL values 5m and 1h, the same as Anthropic's cache_control.
  return { cachePoint: hint.ttl === '5m' || hint.ttl === '1h' ? { type: 'default', ttl: hint.ttl } : { type: 'default' } };
}

/** Appends a block and, when the part carries a cache hint, the cache point that follows it. */
function pushWithCache(blocks: Json[], block: Json, hint: CacheHint | undefined): void {
  blocks.push(block);
  if (hint !== undefined) blocks.push(cachePoint(hint));
}

/** Moves every system and developer message, wherever it is, into the top-level `system`, in order. */
function renderSystem(messages: Message[]): Json[] {
  const blocks: Json[] = [];
  for (const message of messages) {
    if (message.role !== 'system' && message.role !== 'developer') continue;
    for (const part of message.content) {
      if (part.type === 'text' && part.text.length > 0) pushWithCache(blocks, { text: part.text }, part.cache);
    }
  }
  return blocks;
}

/**
 * User and assistant turns. Converse rejects two turns of one role in a row, so consecutive turns
 * of one role are merged (a system entry removed from between two user turns leaves them adjacent).
 */
function renderMessages(messages: Message[], toolIds: ToolIdMap): Json[] {
  const turns: { role: 'user' | 'assistant'; blocks: Json[] }[] = [];
  messages.forEach((message, messageIndex) => {
    if (message.role === 'system' || message.role === 'developer') return;
    const blocks: Json[] = [];
    message.content.forEach((part, partIndex) => renderPart(blocks, part, `messages[${messageIndex}].content[${partIndex}]`, toolIds));
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === message.role) last.blocks.push(...blocks);
    else turns.push({ role: message.role, blocks });
  });
  return turns.map((turn) => ({ role: turn.role, content: turn.blocks }));
}

/**
 * Renders one part as zero or more Converse blocks. Empty text is left out because Converse rejects blank
 * text. Thinking without a signature (another model's reasoning) is left out because Claude
 * rejects reasoning it cannot verify, and other models ignore earlier reasoning.
 */
function renderPart(blocks: Json[], part: ContentPart, path: string, toolIds: ToolIdMap): void {
  switch (part.type) {
    case 'text':
      if (part.text.length > 0) pushWithCache(blocks, { text: part.text }, part.cache);
      return;
    case 'image':
      pushWithCache(blocks, { image: renderImage(part, path) }, part.cache);
      return;
    case 'document':
      pushWithCache(blocks, { document: renderDocument(part, path) }, part.cache);
      return;
    case 'tool_call':
      pushWithCache(blocks, { toolUse: { toolUseId: toolIds.rewrite(part.id), name: part.name, input: toolInput(part.arguments, path) } }, part.cache);
      return;
    case 'tool_result':
      pushWithCache(blocks, { toolResult: renderToolResult(part, path, toolIds) }, part.cache);
      return;
    case 'thinking':
      if (part.signature !== undefined && part.signature.length > 0) {
        blocks.push({ reasoningContent: { reasoningText: { text: part.text, signature: part.signature } } });
      }
      return;
    case 'redacted_thinking':
      // Kept as the base64 text Converse returned it in, so it goes back byte for byte.
      blocks.push({ reasoningContent: { redactedContent: part.data } });
      return;
  }
}

/** Returns the media type and base64 data of a part's source, reading data URLs; throws for http(s) URLs. */
function bytesOf(source: ImagePart['source'] | DocumentPart['source'], path: string, what: string): { mediaType: string; data: string } {
  if (source.kind === 'base64') return { mediaType: canonicalMediaType(source.mediaType), data: source.data };
  if (source.kind === 'text') return { mediaType: 'text/plain', data: Buffer.from(source.text, 'utf8').toString('base64') };
  if (source.url.startsWith('data:')) return parseDataUrl(source.url, path);
  const form = isHttpUrl(source.url) ? 'an http(s) URL' : 'a URL';
  throw new RequestFieldError(
    path,
    `The ${what} at ${path} is given by ${form}, but Bedrock Converse takes ${what} bytes only. Send it as base64 data (a data: URL or a base64 source).`,
  );
}

function renderImage(part: ImagePart, path: string): Json {
  const { mediaType, data } = bytesOf(part.source, path, 'image');
  const format = imageFormats[mediaType];
  if (format === undefined) {
    throw new RequestFieldError(path, `Unsupported image type ${JSON.stringify(mediaType)} at ${path}: Bedrock Converse takes image/png, image/jpeg, image/gif or image/webp.`);
  }
  return { format, source: { bytes: data } };
}

/**
 * Converse requires a document name of letters, digits, single spaces, hyphens, parentheses and
 * square brackets (DocumentBlock.name in the SDK's request types), so other characters become
 * hyphens. The name is shown to the model, so a neutral fallback is used when none is given.
 */
function documentName(part: DocumentPart, fallback: string): string {
  const given = part.title ?? part.filename;
  const cleaned = (given ?? '').replace(/[^A-Za-z0-9\s()[\]-]/g, '-').replace(/\s+/g, ' ').trim().slice(0, 200);
  return cleaned.length > 0 ? cleaned : fallback;
}

function renderDocument(part: DocumentPart, path: string): Json {
  const { mediaType, data } = bytesOf(part.source, path, 'document');
  const format = documentFormats[mediaType];
  if (format === undefined) {
    throw new RequestFieldError(
      path,
      `Unsupported document type ${JSON.stringify(mediaType)} at ${path}: Bedrock Converse takes ${Object.keys(documentFormats).join(', ')}.`,
    );
  }
  // The fallback is unique within the request because it is made from the part's path.
  const fallback = `document ${path.replace(/[^0-9]+/g, ' ').trim().replace(/ /g, '-')}`;
  return { format, name: documentName(part, fallback), source: { bytes: data } };
}

/**
 * The text sent for a tool result without content. Converse rejects a blank text block, and an
 * empty content list is not among the documented forms, so an empty result needs some text.
 */
const emptyToolResultText = '(empty)';

function renderToolResult(part: ToolResultPart, path: string, toolIds: ToolIdMap): Json {
  const content: Json[] = [];
  part.content.forEach((item, index) => {
    const itemPath = `${path}.content[${index}]`;
    if (item.type === 'text') {
      if (item.text.length > 0) content.push({ text: item.text });
    } else if (item.type === 'image') {
      content.push({ image: renderImage(item, itemPath) });
    } else {
      content.push({ document: renderDocument(item, itemPath) });
    }
  });
  if (content.length === 0) content.push({ text: emptyToolResultText });
  const block: Json = { toolUseId: toolIds.rewrite(part.toolCallId), content };
  if (part.isError === true) block.status = 'error';
  return block;
}

/** Tool arguments as the JSON object Converse takes. Empty text, which some clients send for no arguments, is `{}`. */
function toolInput(argumentsText: string, path: string): Json {
  if (argumentsText.trim().length === 0) return {};
  let input: unknown;
  try {
    input = JSON.parse(argumentsText);
  } catch {
    input = undefined;
  }
  if (!isObject(input)) {
    throw new RequestFieldError(path, `The arguments of the tool call at ${path} are not a JSON object: send them back exactly as the model returned them.`);
  }
  return input;
}

function renderTool(tool: ToolDefinition, blocks: Json[]): void {
  const spec: Json = { name: tool.name };
  // Converse rejects an empty description.
  if (tool.description !== undefined && tool.description.length > 0) spec.description = tool.description;
  spec.inputSchema = { json: tool.parameters };
  pushWithCache(blocks, { toolSpec: spec }, tool.cache);
}

/** Returns true when a turn carries tool calls or results, for which Converse requires `toolConfig`. */
function hasToolBlocks(request: ChatRequest): boolean {
  return request.messages.some((message) => message.content.some((part) => part.type === 'tool_call' || part.type === 'tool_result'));
}

/**
 * Declares the tools that earlier turns called, for a request that sends tool history without
 * tools. Converse rejects such history without `toolConfig`, and the schemas are unknown, so each
 * tool takes any object.
 */
function toolsOfHistory(request: ChatRequest): ToolDefinition[] {
  const names = new Set<string>();
  for (const message of request.messages) {
    for (const part of message.content) if (part.type === 'tool_call') names.add(part.name);
  }
  return [...names].map((name) => ({ name, parameters: { type: 'object' } }));
}

/**
 * `toolConfig` with the tools and the choice: `auto` → `{auto: {}}`, `required` → `{any: {}}`, a
 * named tool → `{tool: {name}}`. Converse has no `none`, so `none` drops the tools, unless earlier
 * turns contain tool calls, for which Converse requires the tools to be declared. The model may
 * then still call one. Tool history without any tools declares the tools it called.
 */
// NOTE: `parallelToolCalls: false` has no Converse field and is not sent, so a model may still call
// several tools in one turn.
function renderToolConfig(request: ChatRequest): Json | undefined {
  const choice = request.toolChoice;
  const history = hasToolBlocks(request);
  let tools = request.tools ?? [];
  if (tools.length === 0 && history) tools = toolsOfHistory(request);
  if (tools.length === 0) return undefined;
  if (choice?.type === 'none' && !history) return undefined;

  const rendered: Json[] = [];
  for (const tool of tools) renderTool(tool, rendered);
  const config: Json = { tools: rendered };
  if (choice?.type === 'auto') config.toolChoice = { auto: {} };
  else if (choice?.type === 'required') config.toolChoice = { any: {} };
  else if (choice?.type === 'tool') config.toolChoice = { tool: { name: choice.name } };
  return config;
}

/**
 * Anthropic's `thinking` object for `additionalModelRequestFields`, sent only to Anthropic models,
 * with the budget fitted below the maximum output tokens as for Anthropic's own API. `maxTokens` is
 * the maximum the budget was fitted to, which the body must then carry.
 */
function renderThinking(request: ChatRequest, options: ConverseRenderOptions): { field: Json; maxTokens?: number } | undefined {
  const reasoning = request.reasoning;
  if (reasoning === undefined) return undefined;
  if (!options.anthropicModel) {
    if (!reasoning.enabled) return undefined;
    const field = reasoning.budgetTokens === undefined ? 'reasoning_effort' : 'thinking';
    throw new RequestFieldError(
      field,
      `Bedrock Converse has no model-independent reasoning setting for this model. Remove ${field} from the request.`,
    );
  }
  if (!reasoning.enabled) return { field: { type: 'disabled' } };
  const maxTokens = request.maxTokens ?? options.defaultMaxTokens;
  if (maxTokens === undefined) {
    throw new RequestFieldError('max_tokens', 'Reasoning on Bedrock needs a maximum number of output tokens. Send max_tokens (or max_completion_tokens).');
  }
  return { field: { type: 'enabled', budget_tokens: fitThinkingBudget(reasoning, maxTokens) }, maxTokens };
}
