/**
 * The smallest honest Node.js proxy for an OpenAI chat completion, run beside the gateway by
 * bench/proxy.bench.ts. It is a floor for what Node's HTTP server plus undici cost on this machine
 * in the same run, not a competitor: it checks no credential and writes no log, metric or request
 * log, and it has no database.
 *
 * `POST /v1/chat/completions` reads the whole body, parses it, strips the `openai/` prefix from
 * `model`, serializes it again and sends it to BARE_PROXY_UPSTREAM_ORIGIN with
 * `Authorization: Bearer <BARE_PROXY_API_KEY>`, over one undici Pool with undici's default
 * keep-alive (the gateway's Agent uses the same). A non-streamed response is read whole and sent on
 * with the upstream status and content type. A request with `stream: true` that the upstream
 * accepts with 200 is piped through as `text/event-stream` as its bytes arrive. Any other path
 * gets 404.
 *
 * Run as a child process: it listens on 127.0.0.1 on a free port, prints `{"port":N}` on stdout,
 * and exits on SIGTERM, on SIGINT and when its stdin closes, which happens when the benchmark
 * process dies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { serveUntilStdinCloses } from './fake-process.js';
import { isLoopbackHost } from './system.js';

const chatPath = '/v1/chat/completions';

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(response: ServerResponse, status: number, message: string): void {
  const payload = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } });
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  response.end(payload);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function startServer(upstream: Pool, authorization: string) {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== chatPath) {
      request.resume();
      sendError(response, 404, `Unknown request URL: ${request.method} ${request.url}.`);
      return;
    }

    const body = parseObject(await readText(request));
    if (!body) {
      sendError(response, 400, 'The request body is not a JSON object.');
      return;
    }
    if (typeof body.model === 'string' && body.model.startsWith('openai/')) body.model = body.model.slice('openai/'.length);

    const upstreamResponse = await upstream.request({
      path: chatPath,
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

    if (body.stream === true && upstreamResponse.statusCode === 200) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // pipeline destroys the upstream body when the client leaves, which aborts the upstream request.
      await pipeline(upstreamResponse.body, response);
      return;
    }
    const payload = Buffer.from(await upstreamResponse.body.arrayBuffer());
    const contentType = upstreamResponse.headers['content-type'] ?? 'application/json';
    response.writeHead(upstreamResponse.statusCode, { 'content-type': contentType, 'content-length': payload.length });
    response.end(payload);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // The benchmark's client checks every status and prints the body of a failed response, so
      // the error goes there instead of to a log. Neither the message nor the code of an undici
      // or stream error contains the provider key.
      const code = (error as NodeJS.ErrnoException).code ?? 'no code';
      if (!response.headersSent) sendError(response, 502, `The upstream request failed (${code}): ${(error as Error).message}`);
      else response.destroy();
    });
  });
  // Longer than any pause of the benchmark, so that kept-alive connections stay open between rounds.
  server.keepAliveTimeout = 120_000;
  return server;
}

async function main(): Promise<void> {
  const upstreamOrigin = process.env.BARE_PROXY_UPSTREAM_ORIGIN;
  const apiKey = process.env.BARE_PROXY_API_KEY;
  if (!upstreamOrigin || !apiKey) {
    process.stderr.write('bare-proxy: set BARE_PROXY_UPSTREAM_ORIGIN (http://127.0.0.1:PORT) and BARE_PROXY_API_KEY (the provider key to send)\n');
    process.exit(2);
  }
  // The bare proxy only ever forwards to a fake upstream on this machine.
  if (!isLoopbackHost(new URL(upstreamOrigin).hostname)) {
    process.stderr.write(`bare-proxy: BARE_PROXY_UPSTREAM_ORIGIN must be on 127.0.0.1 or localhost, got ${upstreamOrigin}\n`);
    process.exit(2);
  }
  const server = startServer(new Pool(upstreamOrigin), `Bearer ${apiKey}`);
  await serveUntilStdinCloses(server);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
