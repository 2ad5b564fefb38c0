/**
 * A minimal AWS Bedrock runtime for bench/bedrock.bench.ts: InvokeModelWithResponseStream and
 * ConverseStream, as a process of its own, responding at once without any artificial delay. It
 * verifies every request's SigV4 signature with the verifier of the test fake
 * (test/support/fake-upstreams/sigv4-verifier.ts), for the one access key it is given and the region
 * of the Host header, and rejects a bad one with Bedrock's 403 InvalidSignatureException or
 * UnrecognizedClientException. The test fake itself records every request and builds each response
 * from scratch, which costs more than the gateway work being measured.
 *
 * A stream sends its first frame with the response headers, then one content delta of `deltaText`
 * per maximum output token of the request, which is `max_tokens` of an Invoke body or
 * `inferenceConfig.maxTokens` of a Converse body (8 when unset). The frames that end the message
 * follow: for Invoke `message_delta` and `message_stop` with the invocation metrics, for Converse
 * `messageStop` and `metadata` with the usage. The frames of each delta count are encoded once, with
 * random padding as Bedrock adds it, and reused.
 *
 * Run it as a child process with FAKE_BEDROCK_ACCESS_KEY_ID and FAKE_BEDROCK_SECRET_ACCESS_KEY set.
 * It listens on 127.0.0.1 on a free port, prints `{"port":N}` on stdout and serves
 * `GET /bench/stats` (FakeBedrockStats). It exits on SIGTERM, on SIGINT and when its stdin closes,
 * which happens when the benchmark process dies.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { verifySigV4 } from '../../test/support/fake-upstreams/sigv4-verifier.js';
import { drained, serveUntilStdinCloses } from '../proxy-bench/fake-process.js';

/** The text of every streamed delta. */
export const deltaText = 'word ';

/** Counters since start. */
export interface FakeBedrockStats {
  requests: number;
  /** Requests rejected for their signature, key id, region or Host. */
  rejectedSignatures: number;
  invokeStreams: number;
  converseStreams: number;
  /** Streams whose client left before the last frame. */
  streamsAborted: number;
}

const defaultDeltaCount = 8;
const maxDeltaCount = 100_000;
const maxBodyBytes = 1_048_576;
const hostPattern = /^bedrock-runtime\.([a-z0-9-]+)\.amazonaws\.com$/;
const pathPattern = /^\/model\/([^/]+)\/(invoke-with-response-stream|converse-stream)$/;

type Json = Record<string, unknown>;

const codec = new EventStreamCodec(
  (bytes: Uint8Array) => new TextDecoder().decode(bytes),
  (text: string) => new TextEncoder().encode(text),
);

/** Encodes one event frame. Bedrock pads each payload with a random `p` field, so that sizes reveal nothing. */
function eventFrame(eventType: string, payload: Json): Buffer {
  const headers: MessageHeaders = {
    ':message-type': { type: 'string', value: 'event' },
    ':event-type': { type: 'string', value: eventType },
    ':content-type': { type: 'string', value: 'application/json' },
  };
  const body = new TextEncoder().encode(JSON.stringify({ ...payload, p: randomBytes(6).toString('hex') }));
  return Buffer.from(codec.encode({ headers, body }));
}

/** Encodes an InvokeModelWithResponseStream `chunk` frame, which carries one Anthropic event as base64 JSON. */
function chunkFrame(event: Json): Buffer {
  return eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(event), 'utf8').toString('base64') });
}

function invokeFrames(deltaCount: number): Buffer[] {
  const message = {
    id: 'msg_bdrk_bench',
    type: 'message',
    role: 'assistant',
    model: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 1 },
  };
  const delta = chunkFrame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: deltaText } });
  const metrics = { inputTokenCount: 10, outputTokenCount: deltaCount, invocationLatency: 1, firstByteLatency: 1 };
  return [
    chunkFrame({ type: 'message_start', message }),
    chunkFrame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ...Array.from({ length: deltaCount }, () => delta),
    chunkFrame({ type: 'content_block_stop', index: 0 }),
    chunkFrame({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: deltaCount } }),
    chunkFrame({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': metrics }),
  ];
}

function converseFrames(deltaCount: number): Buffer[] {
  const delta = eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: deltaText } });
  return [
    eventFrame('messageStart', { role: 'assistant' }),
    ...Array.from({ length: deltaCount }, () => delta),
    eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
    eventFrame('messageStop', { stopReason: 'end_turn' }),
    eventFrame('metadata', { usage: { inputTokens: 10, outputTokens: deltaCount, totalTokens: 10 + deltaCount }, metrics: { latencyMs: 1 } }),
  ];
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  response.end(payload);
}

function sendException(response: ServerResponse, status: number, exception: string, message: string): void {
  sendJson(response, status, { message }, { 'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': randomUUID() });
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function deltaCountOf(requested: unknown): number {
  const count = typeof requested === 'number' ? requested : defaultDeltaCount;
  return Math.max(0, Math.min(maxDeltaCount, Math.floor(count)));
}

function startServer(credential: { accessKeyId: string; secretAccessKey: string }) {
  const stats: FakeBedrockStats = { requests: 0, rejectedSignatures: 0, invokeStreams: 0, converseStreams: 0, streamsAborted: 0 };
  const encoded = new Map<string, Buffer[]>();

  function framesFor(operation: string, deltaCount: number): Buffer[] {
    const key = `${operation}:${deltaCount}`;
    let frames = encoded.get(key);
    if (!frames) {
      frames = operation === 'invoke-with-response-stream' ? invokeFrames(deltaCount) : converseFrames(deltaCount);
      encoded.set(key, frames);
    }
    return frames;
  }

  async function writeStream(response: ServerResponse, frames: Buffer[]): Promise<void> {
    response.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() });
    // Node sends the headers together with this first write, so the first frame leaves at once.
    for (const [index, frame] of frames.entries()) {
      if (response.destroyed) break;
      if (index === frames.length - 1) {
        response.end(frame);
        return;
      }
      if (!response.write(frame) && !(await drained(response))) break;
    }
    stats.streamsAborted += 1;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const [path = '/'] = (request.url ?? '/').split('?', 1);
    if (request.method === 'GET' && path === '/bench/stats') {
      sendJson(response, 200, stats);
      return;
    }
    stats.requests += 1;
    const body = await readBody(request);
    const host = hostPattern.exec(request.headers.host ?? '');
    const route = pathPattern.exec(path);
    if (body === undefined || request.method !== 'POST' || !route || !host) {
      sendException(response, 404, 'UnknownOperationException', `No operation ${request.method} ${path} on ${request.headers.host}.`);
      return;
    }
    const verdict = verifySigV4(
      { method: request.method, rawTarget: request.url ?? '/', headers: request.headers, body },
      { credentials: [credential], region: host[1]!, service: 'bedrock' },
    );
    if (!verdict.ok) {
      stats.rejectedSignatures += 1;
      sendException(response, verdict.status, verdict.exception, verdict.message);
      return;
    }

    let parsed: Json;
    try {
      parsed = JSON.parse(body.toString('utf8')) as Json;
    } catch {
      sendException(response, 400, 'ValidationException', 'The request body is not JSON.');
      return;
    }
    const operation = route[2]!;
    if (operation === 'invoke-with-response-stream') {
      stats.invokeStreams += 1;
      await writeStream(response, framesFor(operation, deltaCountOf(parsed.max_tokens)));
    } else {
      stats.converseStreams += 1;
      const inferenceConfig = (parsed.inferenceConfig ?? {}) as Json;
      await writeStream(response, framesFor(operation, deltaCountOf(inferenceConfig.maxTokens)));
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(`fake-bedrock-upstream: request failed: ${String(error)}\n`);
      if (!response.headersSent) sendException(response, 500, 'InternalServerException', 'The fake Bedrock failed.');
      else response.destroy();
    });
  });
  // Longer than any pause of the benchmark, so that kept-alive connections stay open between rounds.
  server.keepAliveTimeout = 120_000;
  return server;
}

async function main(): Promise<void> {
  const accessKeyId = process.env.FAKE_BEDROCK_ACCESS_KEY_ID;
  const secretAccessKey = process.env.FAKE_BEDROCK_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    process.stderr.write('fake-bedrock-upstream: set FAKE_BEDROCK_ACCESS_KEY_ID and FAKE_BEDROCK_SECRET_ACCESS_KEY to the access key the fake accepts\n');
    process.exit(2);
  }
  const server = startServer({ accessKeyId, secretAccessKey });
  await serveUntilStdinCloses(server);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
