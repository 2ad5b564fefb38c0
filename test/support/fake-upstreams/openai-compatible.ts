import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { anthropicMessagesApi } from './anthropic.js';
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
  type FakeToolCall,
  type FakeUpstream,
} from './fake-server.js';

export type OpenAiCompatibleProvider = 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI';

export interface FakeOpenAiCompatibleOptions {
  provider: OpenAiCompatibleProvider;
  /** The API key the fake accepts as `Authorization: Bearer <key>`. */
  expectedKey: string;
  /** The Host header it requires; defaults to the origin's host, null skips the check. */
  expectedHost?: string | null;
  /**
   * The real origin that the fake replaces. Defaults to the provider's own. zAI's China platform
   * uses https://open.bigmodel.cn with the same paths.
   */
  origin?: string;
  /** Model ids listed by `GET …/models`. */
  models?: string[];
}

interface ProviderProfile {
  label: string;
  origin: string;
  /** Path prefixes in front of `/chat/completions` and `/models`. */
  basePaths: string[];
  models: string[];
  /** Whether a stream sends usage only when `stream_options.include_usage` is set (else in the last chunk). */
  usageOnRequest: boolean;
  /** The path prefix of the provider's Anthropic-compatible Messages API on the same origin, if it has one. */
  anthropicBasePath?: string;
}

const profiles: Record<OpenAiCompatibleProvider, ProviderProfile> = {
  OPENAI: { label: 'OpenAI', origin: 'https://api.openai.com', basePaths: ['/v1'], models: ['gpt-4o', 'gpt-4o-mini', 'o3'], usageOnRequest: true },
  MISTRAL: { label: 'Mistral', origin: 'https://api.mistral.ai', basePaths: ['/v1'], models: ['mistral-large-latest', 'mistral-small-latest'], usageOnRequest: false },
  DEEPSEEK: {
    label: 'DeepSeek',
    origin: 'https://api.deepseek.com',
    basePaths: ['', '/v1'],
    models: ['deepseek-chat', 'deepseek-reasoner'],
    usageOnRequest: true,
    anthropicBasePath: '/anthropic',
  },
  XAI: { label: 'xAI', origin: 'https://api.x.ai', basePaths: ['/v1'], models: ['grok-4', 'grok-3-mini'], usageOnRequest: true },
  ZAI: {
    label: 'zAI',
    origin: 'https://api.z.ai',
    basePaths: ['/api/paas/v4', '/api/coding/paas/v4'],
    models: ['glm-4.6', 'glm-4.5-air'],
    usageOnRequest: false,
    anthropicBasePath: '/api/anthropic',
  },
};

/** Request fields that Mistral accepts. It rejects any other field with 422 `extra_forbidden`. */
const mistralFields = new Set([
  'model', 'messages', 'temperature', 'top_p', 'max_tokens', 'stream', 'stop', 'random_seed', 'response_format', 'tools',
  'tool_choice', 'presence_penalty', 'frequency_penalty', 'n', 'prediction', 'parallel_tool_calls', 'safe_prompt',
  'prompt_mode', 'reasoning_effort',
]);
const mistralToolCallId = /^[a-zA-Z0-9]{9}$/;

const defaultMessages: Record<number, string> = {
  400: 'Invalid request.',
  404: 'The model does not exist or you do not have access to it.',
  422: 'Invalid parameters.',
  429: 'Rate limit reached for requests.',
  500: 'The server had an error while processing your request.',
  503: 'The server is overloaded.',
};

function openAiType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function maskKey(key: string | undefined): string {
  if (!key) return '';
  return key.length <= 8 ? '****' : `${key.slice(0, 3)}${'*'.repeat(8)}${key.slice(-4)}`;
}

/** Builds the provider's error body for a status and message, in the shape each provider uses. */
function errorBody(provider: OpenAiCompatibleProvider, error: FakeError, credential?: string): unknown {
  if (error.body !== undefined) return error.body;
  let message = error.message ?? defaultMessages[error.status] ?? `HTTP ${error.status}`;
  if (error.echoCredential) message += ` Incorrect API key provided: ${credential ?? ''}.`;
  const code = error.code ?? null;
  switch (provider) {
    case 'XAI':
      return { code: 'Client specified an invalid argument', error: message };
    case 'ZAI':
      return { error: { code: code ?? (error.status === 429 ? '1302' : '1214'), message } };
    case 'MISTRAL':
      return { object: 'error', message, type: 'invalid_request_error', param: null, code };
    default:
      return { error: { message, type: openAiType(error.status), param: null, code } };
  }
}

function sendError(provider: OpenAiCompatibleProvider, response: ServerResponse, error: FakeError, credential?: string): void {
  sendJsonBody(response, error.status, errorBody(provider, error, credential), {
    'x-request-id': randomId('req_'),
    ...error.headers,
  });
}

/** Sends each provider's response to a wrong or missing key. */
function rejectCredential(provider: OpenAiCompatibleProvider, response: ServerResponse, credential: string | undefined): void {
  switch (provider) {
    case 'OPENAI':
      sendJsonBody(response, 401, {
        error: {
          message: `Incorrect API key provided: ${maskKey(credential)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      return;
    case 'MISTRAL':
      sendJsonBody(response, 401, { message: 'Unauthorized', request_id: randomId('', 32) });
      return;
    case 'DEEPSEEK':
      sendJsonBody(response, 401, {
        error: { message: `Authentication Fails, Your api key: ${maskKey(credential)} is invalid`, type: 'authentication_error', param: null, code: 'invalid_request_error' },
      });
      return;
    case 'XAI':
      // xAI responds to a wrong key with 400, not 401.
      sendJsonBody(response, 400, {
        code: 'Client specified an invalid argument',
        error: `Incorrect API key provided: ${maskKey(credential)}. You can obtain an API key from https://console.x.ai.`,
      });
      return;
    case 'ZAI':
      sendJsonBody(response, 401, { error: { code: '1000', message: 'Authentication failed.' } });
      return;
  }
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The provider's checks of a chat completions body; returns the error to send, if any. */
function validateChatBody(provider: OpenAiCompatibleProvider, body: unknown): FakeError | undefined {
  if (!isRecord(body)) return { status: 400, message: 'The request body is not valid JSON.' };
  if (typeof body.model !== 'string' || body.model === '') return { status: 400, message: 'you must provide a model parameter' };
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { status: 400, message: "'messages' must contain at least one message." };

  if (provider === 'OPENAI' && body.stream_options !== undefined && body.stream !== true) {
    return { status: 400, message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", code: 'invalid_value' };
  }
  if (provider === 'MISTRAL') {
    const extra = Object.keys(body).filter((field) => !mistralFields.has(field));
    if (extra.length > 0) {
      return {
        status: 422,
        body: {
          object: 'error',
          message: {
            detail: extra.map((field) => ({ type: 'extra_forbidden', loc: ['body', field], msg: 'Extra inputs are not permitted', input: body[field] })),
          },
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      };
    }
    for (const message of body.messages as unknown[]) {
      if (!isRecord(message)) continue;
      const ids = [
        ...(Array.isArray(message.tool_calls) ? message.tool_calls.filter(isRecord).map((call) => call.id) : []),
        ...(message.tool_call_id !== undefined ? [message.tool_call_id] : []),
      ];
      const invalid = ids.find((id) => typeof id !== 'string' || !mistralToolCallId.test(id));
      if (invalid !== undefined) {
        return { status: 400, message: `Tool call id was ${String(invalid)} but must be a-z, A-Z, 0-9, with a length of 9.`, code: '3280' };
      }
    }
  }
  if (provider === 'ZAI' && body.tool_choice !== undefined && body.tool_choice !== 'auto') {
    // NOTE: the business code 1214 for an invalid parameter is an assumption; zAI's reference lists codes by meaning only in part.
    return { status: 400, message: 'tool_choice only supports auto.', code: '1214' };
  }
  return undefined;
}

function toolCallId(provider: OpenAiCompatibleProvider, call: FakeToolCall): string {
  if (call.id) return call.id;
  return provider === 'MISTRAL' ? randomId('', 9) : randomId('call_');
}

/**
 * Starts a fake of an OpenAI-compatible chat completions API (OpenAI, Mistral, DeepSeek, xAI or
 * zAI) on 127.0.0.1. It checks `Authorization: Bearer`, the real Host and the absence of client
 * auth headers, applies the provider's own request checks, and serves plain and streamed
 * completions and the model list as the provider does.
 *
 * DeepSeek's and zAI's fakes also serve their Anthropic-compatible Messages API, under
 * `/anthropic/v1/messages` and `/api/anthropic/v1/messages`, with the Anthropic fake's checks and
 * responses: the same key, but in `x-api-key`, and a reply naming `<label> Anthropic API`.
 */
export async function startFakeOpenAiCompatible(options: FakeOpenAiCompatibleOptions): Promise<FakeUpstream> {
  const { provider } = options;
  const profile = profiles[provider];
  const models = options.models ?? profile.models;
  const origin = options.origin ?? profile.origin;
  const anthropicBasePath = profile.anthropicBasePath;

  return startFakeServer({
    provider,
    origin,
    expectedHost: options.expectedHost === undefined ? new URL(origin).host : options.expectedHost,
    ...(anthropicBasePath !== undefined && {
      pathApis: [
        {
          pathPrefix: `${anthropicBasePath}/`,
          api: anthropicMessagesApi({
            expectedKey: options.expectedKey,
            basePath: anthropicBasePath,
            label: `${profile.label} Anthropic API`,
            messagesOnly: true,
          }),
        },
      ],
    }),
    forbiddenHeaders: ['x-keyroute-api-key', 'x-edgee-api-key', 'x-api-key'],
    expectedKey: options.expectedKey,
    readCredential(headers: IncomingHttpHeaders) {
      const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
      return match?.[1];
    },
    rejectCredential: (response, credential) => rejectCredential(provider, response, credential),
    sendError: (response, error, credential) => sendError(provider, response, error, credential),
    async route(exchange) {
      const path = exchange.request.path.split('?', 1)[0]!;
      const base = profile.basePaths.find((prefix) => path === `${prefix}/chat/completions` || path === `${prefix}/models`);
      if (base === undefined) {
        sendError(provider, exchange.response, { status: 404, message: `Unknown request URL: ${exchange.request.method} ${path}.` });
        return;
      }
      if (path.endsWith('/models') && exchange.request.method === 'GET') {
        sendJsonBody(exchange.response, 200, {
          object: 'list',
          data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: profile.label.toLowerCase() })),
        });
        return;
      }
      if (path.endsWith('/chat/completions') && exchange.request.method === 'POST') {
        await respondToChat(provider, profile, exchange);
        return;
      }
      sendError(provider, exchange.response, { status: 405, message: `Method ${exchange.request.method} is not allowed on ${path}.` });
    },
  });
}

/**
 * Builds the usage object of a reply. DeepSeek and zAI count reasoning inside `completion_tokens`,
 * while xAI reports it beside them, so that only its `total_tokens` includes it.
 * NOTE: unverified for zAI, which is assumed to count reasoning as OpenAI does.
 */
function usageOf(provider: OpenAiCompatibleProvider, promptTokens: number, answerTokens: number, reasoningTokens: number): Json {
  if (reasoningTokens === 0) return { prompt_tokens: promptTokens, completion_tokens: answerTokens, total_tokens: promptTokens + answerTokens };
  const completionTokens = provider === 'XAI' ? answerTokens : answerTokens + reasoningTokens;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + answerTokens + reasoningTokens,
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
}

/** Mistral's reasoning models send thinking as a content chunk holding text chunks. */
function mistralThinkingChunk(text: string): Json {
  return { type: 'thinking', thinking: [{ type: 'text', text }] };
}

async function respondToChat(provider: OpenAiCompatibleProvider, profile: ProviderProfile, exchange: FakeExchange): Promise<void> {
  const invalid = validateChatBody(provider, exchange.request.body);
  if (invalid) {
    sendError(provider, exchange.response, invalid);
    return;
  }
  const body = exchange.request.body as Json;
  const reply = exchange.behaviour.reply ?? {};
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({ ...call, id: toolCallId(provider, call), json: JSON.stringify(call.arguments) }));
  const text = reply.text ?? (toolCalls.length > 0 ? '' : `Hello from the fake ${profile.label}.`);
  // OpenAI's chat completions return no reasoning text, so this fake leaves it out.
  const reasoning = provider === 'OPENAI' ? undefined : reply.reasoning;
  const finishReason = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  const promptTokens = countTokens(body.messages);
  const answerTokens = countTokens(text) + toolCalls.reduce((sum, call) => sum + countTokens(call.json), 0);
  const usage = usageOf(provider, promptTokens, answerTokens, reasoning === undefined ? 0 : countTokens(reasoning));
  const id = randomId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const model = body.model as string;
  const headers = { 'x-request-id': randomId('req_'), 'x-ratelimit-remaining-requests': '9999' };

  if (body.stream !== true) {
    const message: Json = { role: 'assistant', content: text === '' ? null : text };
    if (reasoning !== undefined && provider === 'MISTRAL') {
      message.content = [mistralThinkingChunk(reasoning), ...(text === '' ? [] : [{ type: 'text', text }])];
    } else if (reasoning !== undefined) {
      message.reasoning_content = reasoning;
    }
    if (toolCalls.length > 0) {
      message.tool_calls = toolCalls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.json } }));
    }
    sendJsonBody(
      exchange.response,
      200,
      { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }], usage },
      headers,
    );
    return;
  }

  for (const [name, value] of Object.entries(headers)) exchange.response.setHeader(name, value);
  const includeUsage = profile.usageOnRequest
    ? isRecord(body.stream_options) && body.stream_options.include_usage === true
    : false;
  const chunk = (choices: unknown[], extra: Json = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...(includeUsage && { usage: null }), ...extra })}\n\n`;
  const choice = (delta: Json, finish: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
  const writer = new FakeStreamWriter(exchange, () =>
    `data: ${JSON.stringify(errorBody(provider, { status: 500, message: 'The server had an error while processing your request.' }))}\n\n`,
  );

  if (!(await writer.start())) return;
  if (!(await writer.event(chunk([choice({ role: 'assistant', content: '' })])))) return;
  for (const piece of splitText(reasoning ?? '', reply.deltaSize)) {
    const delta = provider === 'MISTRAL' ? { content: [mistralThinkingChunk(piece)] } : { reasoning_content: piece };
    if (!(await writer.delta(chunk([choice(delta)])))) return;
  }
  for (const piece of splitText(text, reply.deltaSize)) {
    if (!(await writer.delta(chunk([choice({ content: piece })])))) return;
  }
  if (provider === 'MISTRAL') {
    // Mistral sends each tool call whole, in one delta.
    for (const [index, call] of toolCalls.entries()) {
      const delta = { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: call.json } }] };
      if (!(await writer.delta(chunk([choice(delta)])))) return;
    }
  } else {
    const opening = (index: number) => {
      const call = toolCalls[index]!;
      return chunk([choice({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] })]);
    };
    const fragment = (index: number, json: string) => chunk([choice({ tool_calls: [{ index, function: { arguments: json } }] })]);
    const fragments = toolCalls.map((call) => splitArguments(call.json));
    if (reply.interleaveToolCalls) {
      for (const index of toolCalls.keys()) if (!(await writer.event(opening(index)))) return;
      for (let round = 0; fragments.some((pieces) => round < pieces.length); round += 1) {
        for (const [index, pieces] of fragments.entries()) {
          if (round < pieces.length && !(await writer.delta(fragment(index, pieces[round]!)))) return;
        }
      }
    } else {
      for (const [index, pieces] of fragments.entries()) {
        if (!(await writer.event(opening(index)))) return;
        for (const piece of pieces) if (!(await writer.delta(fragment(index, piece)))) return;
      }
    }
  }
  if (!(await writer.finishDeltas())) return;

  if (profile.usageOnRequest) {
    if (!(await writer.event(chunk([choice({}, finishReason)])))) return;
    if (includeUsage && !(await writer.event(chunk([], { usage })))) return;
  } else {
    // Mistral and zAI put the usage into the chunk that carries finish_reason.
    if (!(await writer.event(chunk([choice({}, finishReason)], { usage })))) return;
  }
  writer.end('data: [DONE]\n\n');
}
