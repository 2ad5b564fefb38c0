/**
 * A minimal OpenAI chat completions upstream for bench/proxy.bench.ts. It runs as a process of its
 * own, so that its work does not share an event loop with the load generator, and responds at once,
 * without any artificial delay. The test fakes in test/support/fake-upstreams/ record every request
 * and build each response from scratch, which costs more than the gateway work being measured.
 *
 * Every request must carry `Authorization: Bearer <FAKE_UPSTREAM_API_KEY>`. Any other credential
 * gets OpenAI's 401 `invalid_api_key` response, so a gateway that forwards the wrong key fails.
 *
 * A stream sends its first event (the role chunk) with the response headers, then `max_tokens`
 * content deltas (8 when unset), a finish chunk, a usage chunk when `stream_options.include_usage`
 * is true, and `[DONE]`. It writes no faster than the reader takes the bytes.
 *
 * Run as a child process: it listens on 127.0.0.1 on a free port, prints `{"port":N}` on stdout,
 * serves `GET /bench/stats` (FakeUpstreamStats) for the benchmark, and exits on SIGTERM, on SIGINT
 * and when its stdin closes, which happens when the benchmark process dies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The assistant message of every complete (non-streamed) response. */
export const completionText = 'Hello from the benchmark upstream.';
/** The content of every streamed delta. */
export const deltaText = 'word ';

/** Counters since start. */
export interface FakeUpstreamStats {
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

/** Resolves true on 'drain', false when the response closes first. Removes both listeners either way. */
function drained(response: ServerResponse): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(value);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    response.on('drain', onDrain);
    response.on('close', onClose);
  });
}

function startServer(expectedAuthorization: string) {
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
    const write = async (text: string): Promise<boolean> => {
      if (response.destroyed) return false;
      stats.streamBytes += text.length;
      if (response.write(text)) return true;
      stats.backpressureWaits += 1;
      return drained(response);
    };

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

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method === 'GET' && path === '/bench/stats') {
      sendJson(response, 200, stats);
      return;
    }
    stats.requests += 1;
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
  const server = startServer(`Bearer ${apiKey}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.once('close', stop);
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
