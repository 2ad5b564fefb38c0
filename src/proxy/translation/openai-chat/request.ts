/**
 * OpenAI chat completions requests to and from the internal representation.
 *
 * The parser serves OpenAI-format clients whose model is on another format's upstream. The renderer
 * produces a plain OpenAI body for OpenAI-family upstreams, and prepareOpenAiCompatibleRequest
 * then applies each provider's field table, Mistral's tool call ids and `stream_options` to it. Errors name paths in OpenAI's format (`messages[1].content[0].image_url`).
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
import { checkBase64, parseDataUrl, parseImageUrl, toDataUrl } from '../media.js';
import { parseReasoningEffort, renderOpenAiReasoning, type OpenAiFamilyTarget } from '../reasoning.js';
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
} from '../wire-values.js';
import { checkOpenAiRequestFields } from './request-fields.js';

export type { OpenAiFamilyTarget };

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses an OpenAI chat completions body. `model` is the upstream's model id, already resolved by
 * the route. Throws RequestFieldError for an invalid value or a field that cannot be honoured.
 */
export function parseOpenAiChatRequest(body: Record<string, unknown>, model: string): ChatRequest {
  checkOpenAiRequestFields(body);

  const request: ChatRequest = {
    model,
    messages: readMessages(body.messages).map((message, index) => parseMessage(message, index)),
    stream: readOptionalBoolean(body.stream, 'stream') ?? false,
    streamUsage: readStreamUsage(body.stream_options),
  };

  const maxTokens =
    readOptionalCount(body.max_completion_tokens, 'max_completion_tokens') ??
    readOptionalCount(body.max_tokens, 'max_tokens');
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  const temperature = readOptionalNumber(body.temperature, 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = readOptionalNumber(body.top_p, 'top_p');
  if (topP !== undefined) request.topP = topP;
  // vLLM-style clients send -1 or 0 for "no top-k limit".
  const topK = body.top_k === -1 || body.top_k === 0 ? undefined : readOptionalCount(body.top_k, 'top_k');
  if (topK !== undefined) request.topK = topK;
  const stop = readStopSequences(body.stop, 'stop');
  if (stop !== undefined && stop.length > 0) request.stopSequences = stop;

  if (!isUnset(body.tools)) {
    const tools = readArray(body.tools, 'tools').map((tool, index) => parseTool(tool, `tools[${index}]`));
    if (tools.length > 0) request.tools = tools;
  }
  const toolChoice = parseToolChoice(body.tool_choice);
  if (toolChoice !== undefined) request.toolChoice = toolChoice;
  const parallel = readOptionalBoolean(body.parallel_tool_calls, 'parallel_tool_calls');
  if (parallel !== undefined) request.parallelToolCalls = parallel;

  const reasoning = parseReasoning(body);
  if (reasoning !== undefined) request.reasoning = reasoning;
  const user = readOptionalString(body.user, 'user') ?? readOptionalString(body.safety_identifier, 'safety_identifier');
  if (user !== undefined) request.user = user;
  return request;
}

function readStreamUsage(value: unknown): boolean {
  if (isUnset(value)) return false;
  const options = readObject(value, 'stream_options');
  return readOptionalBoolean(options.include_usage, 'stream_options.include_usage') ?? false;
}

/** `reasoning_effort`, or LiteLLM's `thinking: {type, budget_tokens}` for clients that set a budget. */
function parseReasoning(body: Json): ReasoningRequest | undefined {
  const fromEffort = parseReasoningEffort(body.reasoning_effort, 'reasoning_effort');
  if (isUnset(body.thinking)) return fromEffort;

  const thinking = readObject(body.thinking, 'thinking');
  if (thinking.type === 'disabled') return { enabled: false };
  if (thinking.type !== 'enabled') throw invalid('thinking.type', '"enabled" or "disabled"');
  const budgetTokens = readOptionalCount(thinking.budget_tokens, 'thinking.budget_tokens');
  const reasoning: ReasoningRequest = { enabled: true };
  if (fromEffort?.effort !== undefined) reasoning.effort = fromEffort.effort;
  if (budgetTokens !== undefined) reasoning.budgetTokens = budgetTokens;
  return reasoning;
}

function parseMessage(raw: unknown, index: number): Message {
  const path = `messages[${index}]`;
  const message = readObject(raw, path);
  const role = message.role;
  let parsed: Message;

  switch (role) {
    case 'system':
    case 'developer':
      parsed = { role, content: parseTextContent(message.content, `${path}.content`) };
      break;
    case 'user':
      parsed = { role, content: parseUserContent(message.content, `${path}.content`) };
      break;
    case 'assistant':
      parsed = { role, content: parseAssistantContent(message, path) };
      break;
    case 'tool':
      parsed = { role: 'user', content: [parseToolMessage(message, path)] };
      break;
    case 'function':
      throw new RequestFieldError(`${path}.role`, `The deprecated function role at ${path} is not translated: send tool messages instead.`);
    default:
      throw invalid(`${path}.role`, '"system", "developer", "user", "assistant" or "tool"');
  }

  const name = readOptionalString(message.name, `${path}.name`);
  if (name !== undefined && role !== 'tool') parsed.name = name;
  return parsed;
}

/** System, developer and tool message content: a string or an array of text parts. */
function parseTextContent(value: unknown, path: string): TextPart[] {
  if (typeof value === 'string') return [{ type: 'text', text: value }];
  return readArray(value, path).map((raw, index) => {
    const partPath = `${path}[${index}]`;
    const part = readObject(raw, partPath);
    if (part.type !== 'text') throw invalid(`${partPath}.type`, '"text"');
    return parseTextPart(part, partPath);
  });
}

function parseTextPart(part: Json, path: string): TextPart {
  return withCache<TextPart>({ type: 'text', text: readString(part.text, `${path}.text`) }, part, path);
}

function parseUserContent(value: unknown, path: string): ContentPart[] {
  if (typeof value === 'string') return [{ type: 'text', text: value }];
  return readArray(value, path).map((raw, index) => {
    const partPath = `${path}[${index}]`;
    const part = readObject(raw, partPath);
    switch (part.type) {
      case 'text':
        return parseTextPart(part, partPath);
      case 'image_url':
        return parseImagePart(part, partPath);
      case 'file':
        return parseFilePart(part, partPath);
      case 'input_audio':
        throw new RequestFieldError(partPath, `Audio input at ${partPath} is not available for this model: send text, images or files.`);
      default:
        throw invalid(`${partPath}.type`, '"text", "image_url" or "file"');
    }
  });
}

function parseImagePart(part: Json, path: string): ImagePart {
  const imagePath = `${path}.image_url`;
  // Some clients send the URL as a bare string instead of `{url}`.
  const image = typeof part.image_url === 'string' ? { url: part.image_url } : readObject(part.image_url, imagePath);
  const url = readString(image.url, `${imagePath}.url`);
  const parsed: ImagePart = { type: 'image', source: parseImageUrl(url, imagePath) };
  const detail = readOptionalString(image.detail, `${imagePath}.detail`);
  if (detail !== undefined) parsed.detail = detail;
  parsed.sourcePath = path;
  return withCache(parsed, part, path);
}

/**
 * OpenAI `file` parts carry a base64 data URL. PDFs become base64 documents and plain text a text
 * document; uploaded file ids exist only in the client's OpenAI account, so they are rejected.
 */
function parseFilePart(part: Json, path: string): DocumentPart {
  const filePath = `${path}.file`;
  const file = readObject(part.file, filePath);
  if (!isUnset(file.file_id)) {
    throw new RequestFieldError(`${filePath}.file_id`, `Uploaded OpenAI files cannot be read by this model: send the content as ${filePath}.file_data.`);
  }
  const { mediaType, data } = parseDataUrl(readString(file.file_data, `${filePath}.file_data`), `${filePath}.file_data`);

  let document: DocumentPart;
  if (mediaType === 'application/pdf') {
    document = { type: 'document', source: { kind: 'base64', mediaType, data } };
  } else if (mediaType === 'text/plain') {
    document = { type: 'document', source: { kind: 'text', mediaType, text: Buffer.from(data, 'base64').toString('utf8') } };
  } else {
    throw new RequestFieldError(
      `${filePath}.file_data`,
      `Unsupported file type ${JSON.stringify(mediaType)} at ${filePath}.file_data: send application/pdf or text/plain.`,
    );
  }
  const filename = readOptionalString(file.filename, `${filePath}.filename`);
  if (filename !== undefined) document.filename = filename;
  document.sourcePath = path;
  return withCache(document, part, path);
}

/**
 * Reads an assistant turn as parts in Anthropic's order: thinking first, then text, then tool calls.
 * `thinking_blocks` (LiteLLM's convention, which the response renderer emits) carry Anthropic's
 * signatures and win over `reasoning_content`, which has none.
 */
function parseAssistantContent(message: Json, path: string): ContentPart[] {
  const parts: ContentPart[] = [];

  if (!isUnset(message.thinking_blocks)) {
    readArray(message.thinking_blocks, `${path}.thinking_blocks`).forEach((raw, index) => {
      parts.push(parseThinkingBlock(raw, `${path}.thinking_blocks[${index}]`));
    });
  } else {
    const reasoning = readOptionalString(message.reasoning_content, `${path}.reasoning_content`);
    if (reasoning !== undefined && reasoning.length > 0) parts.push({ type: 'thinking', text: reasoning });
  }

  if (typeof message.content === 'string') {
    if (message.content.length > 0) parts.push({ type: 'text', text: message.content });
  } else if (!isUnset(message.content)) {
    readArray(message.content, `${path}.content`).forEach((raw, index) => {
      const partPath = `${path}.content[${index}]`;
      const part = readObject(raw, partPath);
      if (part.type === 'text') parts.push(parseTextPart(part, partPath));
      // A refusal from an earlier turn goes back as the model's text.
      else if (part.type === 'refusal') parts.push({ type: 'text', text: readString(part.refusal, `${partPath}.refusal`) });
      else throw invalid(`${partPath}.type`, '"text" or "refusal"');
    });
  }
  const refusal = readOptionalString(message.refusal, `${path}.refusal`);
  if (refusal !== undefined && refusal.length > 0) parts.push({ type: 'text', text: refusal });

  if (!isUnset(message.function_call)) {
    throw new RequestFieldError(`${path}.function_call`, `The deprecated function_call at ${path} is not translated: send tool_calls instead.`);
  }
  if (!isUnset(message.tool_calls)) {
    readArray(message.tool_calls, `${path}.tool_calls`).forEach((raw, index) => {
      parts.push(parseToolCall(raw, `${path}.tool_calls[${index}]`));
    });
  }
  return parts;
}

function parseThinkingBlock(raw: unknown, path: string): ContentPart {
  const block = readObject(raw, path);
  if (block.type === 'redacted_thinking') return { type: 'redacted_thinking', data: readString(block.data, `${path}.data`) };
  if (block.type !== 'thinking') throw invalid(`${path}.type`, '"thinking" or "redacted_thinking"');

  const text = readString(block.thinking, `${path}.thinking`);
  const signature = readOptionalString(block.signature, `${path}.signature`);
  return signature === undefined ? { type: 'thinking', text } : { type: 'thinking', text, signature };
}

/**
 * Reads a tool call. Every upstream other than OpenAI takes tool arguments as a JSON object, so
 * text that is not one is rejected here, where the client's path is known.
 */
function parseToolCall(raw: unknown, path: string): ToolCallPart {
  const call = readObject(raw, path);
  if (!isUnset(call.type) && call.type !== 'function') throw invalid(`${path}.type`, '"function"');
  const fn = readObject(call.function, `${path}.function`);
  const argumentsText = readOptionalString(fn.arguments, `${path}.function.arguments`) ?? '';
  if (argumentsText.trim().length > 0 && !isObject(parseJson(argumentsText))) {
    throw new RequestFieldError(
      `${path}.function.arguments`,
      `Invalid ${path}.function.arguments: expected a JSON object as text, such as "{}". Send back the arguments exactly as the model returned them.`,
    );
  }

  const id = readString(call.id, `${path}.id`);
  if (id.length === 0) throw invalid(`${path}.id`, 'a non-empty tool call id');
  return withCache<ToolCallPart>({ type: 'tool_call', id, name: readString(fn.name, `${path}.function.name`), arguments: argumentsText }, call, path);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseToolMessage(message: Json, path: string): ToolResultPart {
  const toolCallId = readString(message.tool_call_id, `${path}.tool_call_id`);
  if (toolCallId.length === 0) throw invalid(`${path}.tool_call_id`, 'a non-empty tool call id');
  return { type: 'tool_result', toolCallId, content: parseTextContent(message.content, `${path}.content`) };
}

function parseTool(raw: unknown, path: string): ToolDefinition {
  const tool = readObject(raw, path);
  if (tool.type !== 'function') {
    throw new RequestFieldError(`${path}.type`, `Unsupported tool type ${JSON.stringify(tool.type)} at ${path}.type: only function tools can be translated.`);
  }
  const fn = readObject(tool.function, `${path}.function`);
  const definition: ToolDefinition = {
    name: readString(fn.name, `${path}.function.name`),
    parameters: isUnset(fn.parameters) ? { type: 'object', properties: {} } : readObject(fn.parameters, `${path}.function.parameters`),
  };
  const description = readOptionalString(fn.description, `${path}.function.description`);
  if (description !== undefined) definition.description = description;
  const strict = readOptionalBoolean(fn.strict, `${path}.function.strict`);
  if (strict !== undefined) definition.strict = strict;
  return withCache(definition, tool, path);
}

function parseToolChoice(value: unknown): ToolChoice | undefined {
  if (isUnset(value)) return undefined;
  if (value === 'auto' || value === 'none' || value === 'required') return { type: value };
  if (isObject(value) && value.type === 'function') {
    const fn = readObject(value.function, 'tool_choice.function');
    return { type: 'tool', name: readString(fn.name, 'tool_choice.function.name') };
  }
  throw invalid('tool_choice', '"auto", "none", "required" or {"type": "function", "function": {"name": ...}}');
}

function withCache<T extends { cache?: CacheHint }>(part: T, raw: Json, path: string): T {
  const cache = readCacheControl(raw.cache_control, `${path}.cache_control`);
  if (cache !== undefined) part.cache = cache;
  return part;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * Renders the internal representation as an OpenAI chat completions body for an OpenAI-family
 * upstream. Cache hints are dropped, since these upstreams cache prompts on their own. Throws
 * RequestFieldError for what the target cannot take: `top_k`, and documents other than PDFs on
 * OpenAI. Top-level field names in those errors are shared with Anthropic's format, the format of
 * the clients this renderer serves.
 */
export function renderOpenAiChatRequest(request: ChatRequest, target: { provider: OpenAiFamilyTarget }): Record<string, unknown> {
  const body: Json = { model: request.model, messages: renderMessages(request.messages, target.provider) };

  // The adapter moves this to `max_completion_tokens` for the OpenAI models that need it.
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) {
    throw new RequestFieldError('top_k', 'top_k is not available for this model: remove top_k from the request and use top_p or temperature.');
  }
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) body.stop = [...request.stopSequences];

  const hasTools = request.tools !== undefined && request.tools.length > 0;
  if (hasTools) body.tools = request.tools!.map(renderTool);
  if (request.toolChoice !== undefined) body.tool_choice = renderToolChoice(request.toolChoice);
  // OpenAI rejects parallel_tool_calls in a request without tools.
  if (hasTools && request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;

  Object.assign(body, renderOpenAiReasoning(request.reasoning, target.provider));
  if (request.user !== undefined) body.user = request.user;
  if (request.stream) body.stream = true;
  return body;
}

function renderMessages(messages: Message[], provider: OpenAiFamilyTarget): Json[] {
  const rendered: Json[] = [];
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
        rendered.push(renderSystemMessage(message, provider));
        break;
      case 'user':
        rendered.push(...renderUserMessage(message, provider));
        break;
      case 'assistant':
        rendered.push(renderAssistantMessage(message, provider));
        break;
    }
  }
  return rendered;
}

/** Developer messages stay developer messages only on OpenAI; the others know `system` only. */
function renderSystemMessage(message: Message, provider: OpenAiFamilyTarget): Json {
  const role = message.role === 'developer' && provider === 'OPENAI' ? 'developer' : 'system';
  const texts = message.content.filter((part): part is TextPart => part.type === 'text');
  const rendered: Json = { role, content: texts.length === 1 ? texts[0]!.text : texts.map((part) => ({ type: 'text', text: part.text })) };
  if (message.name !== undefined) rendered.name = message.name;
  return rendered;
}

/**
 * Renders one user turn. Each tool result becomes its own `tool` message, placed before the rest of
 * the turn. OpenAI's tool messages take text only, so images and documents from tool results follow in
 * the user message after them, before the turn's own content.
 */
function renderUserMessage(message: Message, provider: OpenAiFamilyTarget): Json[] {
  const toolMessages: Json[] = [];
  const userParts: Json[] = [];

  for (const part of message.content) {
    if (part.type === 'tool_result') {
      toolMessages.push(renderToolResult(part));
      for (const attachment of part.content) {
        if (attachment.type !== 'text') userParts.push(renderUserPart(attachment, provider));
      }
    }
  }
  for (const part of message.content) {
    if (part.type === 'text' || part.type === 'image' || part.type === 'document') userParts.push(renderUserPart(part, provider));
  }

  if (userParts.length === 0) return toolMessages;
  const only = userParts[0]!;
  const content = userParts.length === 1 && only.type === 'text' ? only.text : userParts;
  const user: Json = { role: 'user', content };
  if (message.name !== undefined) user.name = message.name;
  return [...toolMessages, user];
}

// NOTE: OpenAI's tool messages have no error flag, so `isError` is lost unless the result text states the failure.
function renderToolResult(part: ToolResultPart): Json {
  const text = part.content
    .filter((item): item is TextPart => item.type === 'text')
    .map((item) => item.text)
    .join('\n');
  return { role: 'tool', tool_call_id: part.toolCallId, content: text };
}

function renderUserPart(part: TextPart | ImagePart | DocumentPart, provider: OpenAiFamilyTarget): Json {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image': {
      const url = part.source.kind === 'base64' ? toDataUrl(part.source.mediaType, part.source.data) : part.source.url;
      const image: Json = { url };
      if (part.detail !== undefined) image.detail = part.detail;
      return { type: 'image_url', image_url: image };
    }
    case 'document':
      return renderDocument(part, provider);
  }
}

/**
 * Plain-text documents become text, which every target reads. OpenAI takes base64 PDFs as `file`
 * parts; other targets and document URLs are a RequestFieldError naming the document.
 */
function renderDocument(part: DocumentPart, provider: OpenAiFamilyTarget): Json {
  if (part.source.kind === 'text') return { type: 'text', text: part.source.text };

  const path = part.sourcePath ?? 'document';
  if (provider !== 'OPENAI') {
    throw new RequestFieldError(path, `The document at ${path} cannot be sent to this model: send its text as a text block, or use a model that reads PDFs.`);
  }
  if (part.source.kind === 'url') {
    throw new RequestFieldError(path, `The document URL at ${path} cannot be sent to this model: send the PDF as base64 data.`);
  }
  checkBase64(part.source.data, path);
  const file: Json = { file_data: toDataUrl(part.source.mediaType, part.source.data) };
  file.filename = part.filename ?? part.title ?? 'document.pdf';
  return { type: 'file', file };
}

/**
 * Renders an assistant turn. Thinking goes back only to DeepSeek, as `reasoning_content`, because in
 * thinking mode with tools it returns 400 when an earlier tool turn comes back without it. Other targets neither
 * need nor verify reasoning from another model, so it is dropped, with redacted thinking.
 */
function renderAssistantMessage(message: Message, provider: OpenAiFamilyTarget): Json {
  const text = message.content
    .filter((part): part is TextPart => part.type === 'text')
    .map((part) => part.text)
    .join('');
  const calls = message.content.filter((part): part is ToolCallPart => part.type === 'tool_call');

  const rendered: Json = { role: 'assistant', content: text.length === 0 && calls.length > 0 ? null : text };
  if (calls.length > 0) {
    rendered.tool_calls = calls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments.trim().length === 0 ? '{}' : call.arguments },
    }));
  }
  if (provider === 'DEEPSEEK') {
    const reasoning = message.content
      .flatMap((part) => (part.type === 'thinking' ? [part.text] : []))
      .join('');
    if (reasoning.length > 0) rendered.reasoning_content = reasoning;
  }
  if (message.name !== undefined) rendered.name = message.name;
  return rendered;
}

function renderTool(tool: ToolDefinition): Json {
  const fn: Json = { name: tool.name };
  if (tool.description !== undefined) fn.description = tool.description;
  fn.parameters = tool.parameters;
  if (tool.strict !== undefined) fn.strict = tool.strict;
  return { type: 'function', function: fn };
}

function renderToolChoice(choice: ToolChoice): unknown {
  if (choice.type === 'tool') return { type: 'function', function: { name: choice.name } };
  return choice.type;
}
