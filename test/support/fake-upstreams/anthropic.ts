import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  countTokens,
  FakeStreamWriter,
  randomId,
  sendJsonBody,
  splitArguments,
  splitText,
  startFakeServer,
  type FakeApi,
  type FakeError,
  type FakeExchange,
  type FakeUpstream,
} from './fake-server.js';

export interface FakeAnthropicOptions {
  /** The API key the fake accepts in `x-api-key`. */
  expectedKey: string;
  /** The Host header it requires; defaults to the origin's host, null skips the check. */
  expectedHost?: string | null;
  /**
   * The real origin that the fake replaces. Defaults to https://api.anthropic.com. DeepSeek's and
   * zAI's Anthropic endpoints use their own origin with `basePath`.
   */
  origin?: string;
  /** Path prefix in front of `/v1/…`, such as `/anthropic` for DeepSeek or `/api/anthropic` for zAI. */
  basePath?: string;
  /** Model ids listed by `GET /v1/models`. */
  models?: string[];
}

const defaultModels = ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001', 'claude-opus-4-1-20250805'];

function errorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function errorBody(error: FakeError, credential?: string): unknown {
  if (error.body !== undefined) return error.body;
  let message = error.message ?? (error.status === 529 ? 'Overloaded' : `HTTP ${error.status}`);
  if (error.echoCredential) message += ` Invalid x-api-key: ${credential ?? ''}.`;
  return {
    type: 'error',
    error: { type: errorType(error.status), message, ...(error.code !== undefined && { details: { error_code: error.code } }) },
    request_id: randomId('req_'),
  };
}

function sendError(response: ServerResponse, error: FakeError, credential?: string): void {
  sendJsonBody(response, error.status, errorBody(error, credential), { 'request-id': randomId('req_'), ...error.headers });
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const imageMediaTypes = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const toolIdPattern = /^[a-zA-Z0-9_-]+$/;

/**
 * Signs thinking blocks in place of Claude's opaque `signature`, so that the fake can tell whether
 * a block sent back is one it produced, with the same text.
 */
class ThinkingSigner {
  readonly #key = randomBytes(32);

  sign(text: string): string {
    return createHmac('sha256', this.#key).update(text).digest('base64');
  }

  verify(text: string, signature: unknown): boolean {
    if (typeof signature !== 'string') return false;
    const expected = Buffer.from(this.sign(text));
    const received = Buffer.from(signature);
    return expected.length === received.length && timingSafeEqual(expected, received);
  }
}

function isThinkingEnabled(body: Json): boolean {
  return isRecord(body.thinking) && (body.thinking.type === 'enabled' || body.thinking.type === 'adaptive');
}

/** Checks one content block of a message, and returns the 400 message when Claude would reject it. */
function checkBlock(block: unknown, path: string, signer: ThinkingSigner): string | undefined {
  if (!isRecord(block)) return `${path}: Input should be a valid dictionary`;
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' && block.text !== '' ? undefined : `${path}: text content blocks must be non-empty`;
    case 'image': {
      const source = isRecord(block.source) ? block.source : {};
      if (source.type === 'base64' && !imageMediaTypes.has(source.media_type as string)) {
        return `${path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
      }
      return source.type === 'base64' || source.type === 'url' ? undefined : `${path}.source: Input tag '${String(source.type)}' does not match any of the expected tags`;
    }
    case 'tool_use':
      if (typeof block.id !== 'string' || !toolIdPattern.test(block.id)) return `${path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
      return isRecord(block.input) ? undefined : `${path}.input: Input should be a valid dictionary`;
    case 'tool_result':
      return typeof block.tool_use_id === 'string' && toolIdPattern.test(block.tool_use_id)
        ? undefined
        : `${path}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
    case 'thinking':
      return signer.verify(String(block.thinking), block.signature) ? undefined : `${path}: Invalid \`signature\` in \`thinking\` block`;
    case 'redacted_thinking':
    case 'document':
      return undefined;
    default:
      return `${path}.type: Input tag '${String(block.type)}' does not match any of the expected tags`;
  }
}

function blocksOf(message: Json): Json[] {
  return Array.isArray(message.content) ? message.content.filter(isRecord) : [];
}

/**
 * Checks that every `tool_use` has a `tool_result` in the next message and that every
 * `tool_result` refers to a `tool_use` of the previous one, as Claude requires.
 */
function checkToolPairs(messages: Json[]): string | undefined {
  for (const [index, message] of messages.entries()) {
    const previous = messages[index - 1];
    const calledBefore = new Set(previous?.role === 'assistant' ? blocksOf(previous).filter((block) => block.type === 'tool_use').map((block) => block.id) : []);
    for (const [blockIndex, block] of blocksOf(message).entries()) {
      if (block.type === 'tool_result' && !calledBefore.has(block.tool_use_id)) {
        return `messages.${index}.content.${blockIndex}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
    }
    if (message.role !== 'assistant') continue;
    const results = new Set(blocksOf(messages[index + 1] ?? {}).filter((block) => block.type === 'tool_result').map((block) => block.tool_use_id));
    const withoutResult = blocksOf(message).filter((block) => block.type === 'tool_use' && !results.has(block.id));
    // An assistant message at the end has no next message, so its tool calls need no results yet.
    if (withoutResult.length > 0 && index < messages.length - 1) {
      return `messages.${index + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${withoutResult.map((block) => String(block.id)).join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
  }
  return undefined;
}

/**
 * With thinking on, the last assistant turn that called tools must start with its thinking block,
 * because Claude continues that turn's reasoning after the tool results.
 */
function checkThinkingBeforeTools(messages: Json[]): string | undefined {
  const index = messages.findLastIndex((message) => message.role === 'assistant');
  if (index === -1) return undefined;
  const blocks = blocksOf(messages[index]!);
  if (!blocks.some((block) => block.type === 'tool_use')) return undefined;
  const first = blocks[0]?.type;
  if (first === 'thinking' || first === 'redacted_thinking') return undefined;
  return (
    `messages.${index}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first)}\`. ` +
    'When `thinking` is enabled, a final `assistant` message must start with a thinking block.'
  );
}

/**
 * Applies the Messages API checks that translation bugs tend to hit, and returns the error to send.
 * The thinking errors repeat Claude's 400 messages as quoted in
 * https://github.com/anthropics/claude-code/issues/10627 and
 * https://github.com/lbjlaq/Antigravity-Manager/issues/139.
 * NOTE: the wording of the other messages is close to Claude's but unverified.
 */
function validateMessagesBody(body: unknown, countOnly: boolean, signer: ThinkingSigner): FakeError | undefined {
  const invalid = (message: string): FakeError => ({ status: 400, message });
  if (!isRecord(body)) return invalid('The request body is not valid JSON.');
  if (typeof body.model !== 'string' || body.model === '') return invalid('model: Field required');
  if (!countOnly && typeof body.max_tokens !== 'number') return invalid('max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) return invalid('messages: at least one message is required');
  if (typeof body.temperature === 'number' && (body.temperature < 0 || body.temperature > 1)) {
    return invalid('temperature: Input should be less than or equal to 1');
  }
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (!Array.isArray(body.system) || !body.system.every((block) => isRecord(block) && block.type === 'text' && typeof block.text === 'string' && block.text !== '')) {
      return invalid('system: Input should be a valid string or a list of non-empty text blocks');
    }
  }
  if (isThinkingEnabled(body) && isRecord(body.thinking) && body.thinking.type === 'enabled') {
    const budget = body.thinking.budget_tokens;
    if (typeof budget !== 'number' || budget < 1024) return invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
    if (!countOnly && budget >= (body.max_tokens as number)) return invalid('`max_tokens` must be greater than `thinking.budget_tokens`.');
  }

  const messages: Json[] = [];
  for (const [index, message] of body.messages.entries()) {
    const role = isRecord(message) ? message.role : undefined;
    if (role !== 'user' && role !== 'assistant') {
      return invalid(`messages.${index}.role: Input should be 'user' or 'assistant'`);
    }
    const content = (message as Json).content;
    if (Array.isArray(content)) {
      for (const [blockIndex, block] of content.entries()) {
        const problem = checkBlock(block, `messages.${index}.content.${blockIndex}`, signer);
        if (problem) return invalid(problem);
      }
    } else if (typeof content !== 'string') {
      return invalid(`messages.${index}.content: Input should be a valid string or a list of content blocks`);
    }
    messages.push(message as Json);
  }
  const problem = checkToolPairs(messages) ?? (isThinkingEnabled(body) ? checkThinkingBeforeTools(messages) : undefined);
  return problem ? invalid(problem) : undefined;
}

export interface AnthropicApiOptions {
  /** The API key the fake accepts in `x-api-key`. */
  expectedKey: string;
  /** Path prefix in front of `/v1/…`, such as `/anthropic` for DeepSeek or `/api/anthropic` for zAI. */
  basePath?: string;
  /** The fake's name in the default reply (`Hello from the fake <label>.`), `Anthropic` unless set. */
  label?: string;
  /** Model ids listed by `GET /v1/models`. */
  models?: string[];
  /**
   * Whether only `POST /v1/messages` is served, for the Anthropic-compatible endpoints of other
   * providers, to which the gateway sends nothing else. It also drops the `anthropic-version`
   * requirement, since DeepSeek ignores the header (https://api-docs.deepseek.com/zh-cn/guides/anthropic_api).
   */
  messagesOnly?: boolean;
}

/**
 * Builds the checks and router of an Anthropic Messages API: `x-api-key` as the credential,
 * Anthropic's error bodies, messages (plain, and streamed with named events, a ping and no
 * `[DONE]`), count_tokens and the model list.
 */
export function anthropicMessagesApi(options: AnthropicApiOptions): FakeApi {
  const basePath = options.basePath ?? '';
  const models = options.models ?? defaultModels;
  const label = options.label ?? 'Anthropic';
  const messagesOnly = options.messagesOnly ?? false;
  const signer = new ThinkingSigner();

  return {
    // The gateway sends x-api-key; an Authorization header would be the client's own credential.
    forbiddenHeaders: ['x-keyroute-api-key', 'x-edgee-api-key', 'authorization'],
    expectedKey: options.expectedKey,
    readCredential: (headers) => (typeof headers['x-api-key'] === 'string' ? headers['x-api-key'] : undefined),
    rejectCredential(response) {
      sendError(response, { status: 401, message: 'invalid x-api-key' });
    },
    sendError,
    async route(exchange) {
      const { request, response } = exchange;
      const path = request.path.split('?', 1)[0]!;
      if (!path.startsWith(`${basePath}/v1/`)) {
        sendError(response, { status: 404, message: `Not found: ${path}` });
        return;
      }
      const route = path.slice(basePath.length);
      if (!messagesOnly && typeof request.headers['anthropic-version'] !== 'string') {
        sendError(response, { status: 400, message: 'anthropic-version: header is required' });
        return;
      }

      if (request.method === 'POST' && route === '/v1/messages') {
        await respondToMessages(exchange, label, signer);
        return;
      }
      if (messagesOnly) {
        sendError(response, { status: 404, message: `Not found: ${request.method} ${path}` });
        return;
      }
      if (request.method === 'GET' && route === '/v1/models') {
        const data = models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z' }));
        sendJsonBody(response, 200, { data, first_id: models[0] ?? null, last_id: models.at(-1) ?? null, has_more: false });
        return;
      }
      if (request.method === 'GET' && route.startsWith('/v1/models/')) {
        const id = decodeURIComponent(route.slice('/v1/models/'.length));
        if (!models.includes(id)) {
          sendError(response, { status: 404, message: `model: ${id}` });
          return;
        }
        sendJsonBody(response, 200, { type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z' });
        return;
      }
      if (request.method === 'POST' && route === '/v1/messages/count_tokens') {
        const invalid = validateMessagesBody(request.body, true, signer);
        if (invalid) {
          sendError(response, invalid);
          return;
        }
        const body = request.body as Json;
        sendJsonBody(response, 200, { input_tokens: countTokens([body.system, body.messages, body.tools]) });
        return;
      }
      sendError(response, { status: 404, message: `Not found: ${request.method} ${path}` });
    },
  };
}

/**
 * Starts a fake of Anthropic's Messages API on 127.0.0.1 (see anthropicMessagesApi). It also
 * checks the real Host and the absence of client auth headers.
 */
export async function startFakeAnthropic(options: FakeAnthropicOptions): Promise<FakeUpstream> {
  const origin = options.origin ?? 'https://api.anthropic.com';
  const api: AnthropicApiOptions = { expectedKey: options.expectedKey };
  if (options.basePath !== undefined) api.basePath = options.basePath;
  if (options.models !== undefined) api.models = options.models;

  return startFakeServer({
    provider: 'ANTHROPIC',
    origin,
    expectedHost: options.expectedHost === undefined ? new URL(origin).host : options.expectedHost,
    ...anthropicMessagesApi(api),
  });
}

async function respondToMessages(exchange: FakeExchange, label: string, signer: ThinkingSigner): Promise<void> {
  const invalid = validateMessagesBody(exchange.request.body, false, signer);
  if (invalid) {
    sendError(exchange.response, invalid);
    return;
  }
  const body = exchange.request.body as Json;
  const reply = exchange.behaviour.reply ?? {};
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({ ...call, id: call.id ?? randomId('toolu_'), json: JSON.stringify(call.arguments) }));
  const text = reply.text ?? (toolCalls.length > 0 ? '' : `Hello from the fake ${label}.`);
  // Claude shows its reasoning only when the request turned thinking on.
  const reasoning = isThinkingEnabled(body) && reply.reasoning !== undefined ? { text: reply.reasoning, signature: signer.sign(reply.reasoning) } : undefined;
  const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const inputTokens = countTokens([body.system, body.messages, body.tools]);
  const outputTokens =
    countTokens(text) + toolCalls.reduce((sum, call) => sum + countTokens(call.json), 0) + (reasoning ? countTokens(reasoning.text) : 0);
  const id = randomId('msg_');
  const model = body.model as string;
  const requestId = randomId('req_');

  if (body.stream !== true) {
    const content = [
      ...(reasoning ? [{ type: 'thinking', thinking: reasoning.text, signature: reasoning.signature }] : []),
      ...(text !== '' ? [{ type: 'text', text }] : []),
      ...toolCalls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments })),
    ];
    sendJsonBody(
      exchange.response,
      200,
      {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens },
      },
      { 'request-id': requestId },
    );
    return;
  }

  exchange.response.setHeader('request-id', requestId);
  const event = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const writer = new FakeStreamWriter(exchange, () =>
    event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
  );

  if (!(await writer.start())) return;
  const startInputTokens = reply.inputTokensAtEnd ? 0 : inputTokens;
  const start = event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: startInputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  });
  if (!(await writer.event(start))) return;

  let index = 0;
  let pinged = false;
  // Anthropic sends a ping once the first block has started.
  const pingOnce = async () => {
    if (pinged) return true;
    pinged = true;
    return writer.event(event('ping', {}));
  };
  if (reasoning) {
    if (!(await writer.event(event('content_block_start', { index, content_block: { type: 'thinking', thinking: '' } })))) return;
    if (!(await pingOnce())) return;
    for (const piece of splitText(reasoning.text, reply.deltaSize)) {
      if (!(await writer.delta(event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } })))) return;
    }
    if (!(await writer.event(event('content_block_delta', { index, delta: { type: 'signature_delta', signature: reasoning.signature } })))) return;
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  if (text !== '') {
    if (!(await writer.event(event('content_block_start', { index, content_block: { type: 'text', text: '' } })))) return;
    if (!(await pingOnce())) return;
    for (const piece of splitText(text, reply.deltaSize)) {
      if (!(await writer.delta(event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } })))) return;
    }
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  for (const call of toolCalls) {
    const block = { type: 'tool_use', id: call.id, name: call.name, input: {} };
    if (!(await writer.event(event('content_block_start', { index, content_block: block })))) return;
    if (!(await pingOnce())) return;
    for (const fragment of splitArguments(call.json)) {
      const delta = { type: 'input_json_delta', partial_json: fragment };
      if (!(await writer.delta(event('content_block_delta', { index, delta })))) return;
    }
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  if (!(await writer.finishDeltas())) return;

  const usage = reply.inputTokensAtEnd ? { input_tokens: inputTokens, output_tokens: outputTokens } : { output_tokens: outputTokens };
  const delta = event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage });
  if (!(await writer.event(delta))) return;
  writer.end(event('message_stop', {}));
}
