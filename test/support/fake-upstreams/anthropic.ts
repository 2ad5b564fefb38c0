import type { ServerResponse } from 'node:http';
import {
  countTokens,
  FakeStreamWriter,
  randomId,
  sendJsonBody,
  splitArguments,
  splitText,
  startFakeServer,
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

/** Applies the Messages API checks that translation bugs tend to hit, and returns the error to send. */
function validateMessagesBody(body: unknown, countOnly: boolean): FakeError | undefined {
  const invalid = (message: string): FakeError => ({ status: 400, message });
  if (!isRecord(body)) return invalid('The request body is not valid JSON.');
  if (typeof body.model !== 'string' || body.model === '') return invalid('model: Field required');
  if (!countOnly && typeof body.max_tokens !== 'number') return invalid('max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) return invalid('messages: at least one message is required');
  for (const [index, message] of body.messages.entries()) {
    const role = isRecord(message) ? message.role : undefined;
    if (role !== 'user' && role !== 'assistant') {
      return invalid(`messages.${index}.role: Input should be 'user' or 'assistant'`);
    }
  }
  return undefined;
}

/**
 * Starts a fake of Anthropic's Messages API on 127.0.0.1. It checks `x-api-key`,
 * `anthropic-version`, the real Host and the absence of client auth headers, and serves messages
 * (plain and streamed with named events, a ping and no `[DONE]`), count_tokens and the model list.
 */
export async function startFakeAnthropic(options: FakeAnthropicOptions): Promise<FakeUpstream> {
  const origin = options.origin ?? 'https://api.anthropic.com';
  const basePath = options.basePath ?? '';
  const models = options.models ?? defaultModels;

  return startFakeServer({
    provider: 'ANTHROPIC',
    origin,
    expectedHost: options.expectedHost === undefined ? new URL(origin).host : options.expectedHost,
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
      if (typeof request.headers['anthropic-version'] !== 'string') {
        sendError(response, { status: 400, message: 'anthropic-version: header is required' });
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
        const invalid = validateMessagesBody(request.body, true);
        if (invalid) {
          sendError(response, invalid);
          return;
        }
        const body = request.body as Json;
        sendJsonBody(response, 200, { input_tokens: countTokens([body.system, body.messages, body.tools]) });
        return;
      }
      if (request.method === 'POST' && route === '/v1/messages') {
        await respondToMessages(exchange);
        return;
      }
      sendError(response, { status: 404, message: `Not found: ${request.method} ${path}` });
    },
  });
}

async function respondToMessages(exchange: FakeExchange): Promise<void> {
  const invalid = validateMessagesBody(exchange.request.body, false);
  if (invalid) {
    sendError(exchange.response, invalid);
    return;
  }
  const body = exchange.request.body as Json;
  const reply = exchange.behaviour.reply ?? {};
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({ ...call, id: call.id ?? randomId('toolu_'), json: JSON.stringify(call.arguments) }));
  const text = reply.text ?? (toolCalls.length > 0 ? '' : 'Hello from the fake Anthropic.');
  const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const inputTokens = countTokens([body.system, body.messages, body.tools]);
  const outputTokens = countTokens(text) + toolCalls.reduce((sum, call) => sum + countTokens(call.json), 0);
  const id = randomId('msg_');
  const model = body.model as string;
  const requestId = randomId('req_');

  if (body.stream !== true) {
    const content = [
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
  const start = event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  });
  if (!(await writer.event(start))) return;

  let index = 0;
  if (text !== '') {
    if (!(await writer.event(event('content_block_start', { index, content_block: { type: 'text', text: '' } })))) return;
    // Anthropic sends a ping once the first block has started.
    if (!(await writer.event(event('ping', {})))) return;
    for (const piece of splitText(text, reply.deltaSize)) {
      if (!(await writer.delta(event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } })))) return;
    }
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  for (const call of toolCalls) {
    const block = { type: 'tool_use', id: call.id, name: call.name, input: {} };
    if (!(await writer.event(event('content_block_start', { index, content_block: block })))) return;
    for (const fragment of splitArguments(call.json)) {
      const delta = { type: 'input_json_delta', partial_json: fragment };
      if (!(await writer.delta(event('content_block_delta', { index, delta })))) return;
    }
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  if (!(await writer.finishDeltas())) return;

  const delta = event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  if (!(await writer.event(delta))) return;
  writer.end(event('message_stop', {}));
}
