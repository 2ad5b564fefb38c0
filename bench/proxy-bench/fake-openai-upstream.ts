/**
 * A minimal OpenAI chat completions upstream for bench/proxy.bench.ts and bench/translation.bench.ts,
 * with Anthropic's Messages API beside it. It runs as a process of its own, so that its work does not
 * share an event loop with the load generator, and responds at once, without any artificial delay.
 * The test fakes in test/support/fake-upstreams/ record every request and build each response from
 * scratch, which costs more than the gateway work being measured.
 *
 * `POST /v1/chat/completions` requires `Authorization: Bearer <FAKE_UPSTREAM_API_KEY>`; any other
 * credential gets OpenAI's 401 `invalid_api_key` response, so a gateway that forwards the wrong key
 * fails. A stream sends its first event (the role chunk) with the response headers, then
 * `max_tokens` content deltas (8 when unset), a finish chunk, a usage chunk when
 * `stream_options.include_usage` is true, and `[DONE]`.
 *
 * `POST /v1/messages` is served only when FAKE_UPSTREAM_ANTHROPIC_API_KEY is set, and requires that
 * key in `x-api-key` (else Anthropic's 401 `authentication_error`). A stream sends `message_start`
 * with the response headers, then a text block of `max_tokens` deltas, `message_delta` and
 * `message_stop`, as Anthropic does.
 *
 * Streams write no faster than the reader takes the bytes.
 *
 * Run as a child process: it listens on 127.0.0.1 on a free port, prints `{"port":N}` on stdout,
 * serves `GET /bench/stats` (FakeUpstreamStats) for the benchmark, and exits on SIGTERM, on SIGINT
 * and when its stdin closes, which happens when the benchmark process dies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { drained, serveUntilStdinCloses } from './fake-process.js';

/** The assistant message of every complete (non-streamed) response. */
export const completionText = 'Hello from the benchmark upstream.';
/** The content of every streamed delta. */
export const deltaText = 'word ';

/** Counters since start. */
export interface FakeUpstreamStats {
  /** Requests of both APIs. */
  requests: number;
  /** Requests rejected with 401 because their credential was missing or wrong. */
  rejectedCredentials: number;
  completions: number;
  streams: number;
  /** Streams whose client left before `[DONE]`. */
  streamsAborted: number;
  /** Bytes of all stream bodies written. */
  streamBytes: number;
  /** Writes that returned false, after which the stream waited for 'drain'. */
  backpressureWaits: number;
}

const defaultDeltaCount = 8;
const maxDeltaCount = 1_000_000;
const maxBodyBytes = 1_048_576;

type Json = Record<string, unknown>;

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  response.end(payload);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseObject(text: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes stream events and counts them; resolves false once the client has gone. */
type StreamWrite = (text: string) => Promise<boolean>;

function startServer(expectedAuthorization: string, anthropicApiKey: string | undefined) {
  const stats: FakeUpstreamStats = {
    requests: 0,
    rejectedCredentials: 0,
    completions: 0,
    streams: 0,
    streamsAborted: 0,
    streamBytes: 0,
    backpressureWaits: 0,
  };
  let sequence = 0;

  function streamWriter(response: ServerResponse): StreamWrite {
    return async (text) => {
      if (response.destroyed) return false;
      stats.streamBytes += text.length;
      if (response.write(text)) return true;
      stats.backpressureWaits += 1;
      return drained(response);
    };
  }

  async function writeStream(response: ServerResponse, model: string, deltaCount: number, includeUsage: boolean): Promise<void> {
    stats.streams += 1;
    const id = `chatcmpl-bench${(sequence += 1)}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: Json, finishReason: string | null = null) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage && { usage: null }),
      })}\n\n`;
    const write = streamWriter(response);

    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': id });
    // Node sends the headers together with this first write, so the first event leaves at once.
    let open = await write(chunk({ role: 'assistant', content: '' }));
    const deltaEvent = chunk({ content: deltaText });
    for (let index = 0; open && index < deltaCount; index += 1) open = await write(deltaEvent);
    if (open) open = await write(chunk({}, 'stop'));
    if (open && includeUsage) {
      const usage = { prompt_tokens: 10, completion_tokens: deltaCount, total_tokens: 10 + deltaCount };
      open = await write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
    }
    if (!open) {
      stats.streamsAborted += 1;
      return;
    }
    response.end('data: [DONE]\n\n');
  }

  function sendCompletion(response: ServerResponse, model: string): void {
    stats.completions += 1;
    const id = `chatcmpl-bench${(sequence += 1)}`;
    sendJson(
      response,
      200,
      {
        id,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: completionText }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 },
      },
      { 'x-request-id': id },
    );
  }

  async function writeAnthropicStream(response: ServerResponse, model: string, deltaCount: number): Promise<void> {
    stats.streams += 1;
    const id = `msg_bench${(sequence += 1)}`;
    const event = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const write = streamWriter(response);

    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': id });
    const usage = { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 };
    const message = { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage };
    // Node sends the headers together with this first write, so the first event leaves at once.
    let open = await write(event('message_start', { message }));
    if (open) open = await write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    if (open) open = await write(event('ping', {}));
    const deltaEvent = event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: deltaText } });
    for (let index = 0; open && index < deltaCount; index += 1) open = await write(deltaEvent);
    if (open) open = await write(event('content_block_stop', { index: 0 }));
    if (open) {
      open = await write(event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: deltaCount } }));
    }
    if (!open) {
      stats.streamsAborted += 1;
      return;
    }
    response.end(event('message_stop', {}));
  }

  function sendAnthropicMessage(response: ServerResponse, model: string): void {
    stats.completions += 1;
    const id = `msg_bench${(sequence += 1)}`;
    sendJson(
      response,
      200,
      {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: completionText }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 7 },
      },
      { 'request-id': id },
    );
  }

  async function handleMessages(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (anthropicApiKey === undefined) {
      request.resume();
      sendJson(response, 404, { type: 'error', error: { type: 'not_found_error', message: 'Set FAKE_UPSTREAM_ANTHROPIC_API_KEY to serve /v1/messages.' } });
      return;
    }
    if (request.headers['x-api-key'] !== anthropicApiKey) {
      stats.rejectedCredentials += 1;
      request.resume();
      sendJson(response, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      return;
    }
    const text = await readBody(request);
    const body = text === undefined ? undefined : parseObject(text);
    if (!body || typeof body.model !== 'string' || typeof body.max_tokens !== 'number' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendJson(response, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'Invalid request body.' } });
      return;
    }
    if (body.stream !== true) {
      sendAnthropicMessage(response, body.model);
      return;
    }
    await writeAnthropicStream(response, body.model, Math.max(0, Math.min(maxDeltaCount, Math.floor(body.max_tokens))));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method === 'GET' && path === '/bench/stats') {
      sendJson(response, 200, stats);
      return;
    }
    stats.requests += 1;
    if (request.method === 'POST' && path === '/v1/messages') {
      await handleMessages(request, response);
      return;
    }
    if (request.headers.authorization !== expectedAuthorization) {
      stats.rejectedCredentials += 1;
      request.resume();
      sendJson(response, 401, {
        error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      });
      return;
    }
    if (request.method !== 'POST' || path !== '/v1/chat/completions') {
      request.resume();
      sendJson(response, 404, { error: { message: `Unknown request URL: ${request.method} ${path}.`, type: 'invalid_request_error', param: null, code: null } });
      return;
    }

    const text = await readBody(request);
    const body = text === undefined ? undefined : parseObject(text);
    if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendJson(response, 400, { error: { message: 'Invalid request body.', type: 'invalid_request_error', param: null, code: null } });
      return;
    }
    if (body.stream !== true) {
      sendCompletion(response, body.model);
      return;
    }
    const requested = typeof body.max_tokens === 'number' ? body.max_tokens : defaultDeltaCount;
    const deltaCount = Math.max(0, Math.min(maxDeltaCount, Math.floor(requested)));
    const streamOptions = body.stream_options as Json | undefined;
    await writeStream(response, body.model, deltaCount, streamOptions?.include_usage === true);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(`fake-openai-upstream: request failed: ${String(error)}\n`);
      if (!response.headersSent) sendJson(response, 500, { error: { message: 'fake upstream failed', type: 'server_error', param: null, code: null } });
      else response.destroy();
    });
  });
  // Longer than any pause of the benchmark, so that kept-alive connections stay open between rounds.
  server.keepAliveTimeout = 120_000;
  return server;
}

async function main(): Promise<void> {
  const apiKey = process.env.FAKE_UPSTREAM_API_KEY;
  if (!apiKey) {
    process.stderr.write('fake-openai-upstream: FAKE_UPSTREAM_API_KEY is not set; set it to the API key the fake accepts\n');
    process.exit(2);
  }
  const server = startServer(`Bearer ${apiKey}`, process.env.FAKE_UPSTREAM_ANTHROPIC_API_KEY || undefined);
  await serveUntilStdinCloses(server);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
