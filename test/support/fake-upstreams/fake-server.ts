import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UpstreamOverride } from '../../../src/config/upstream.config.js';

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path and query string. */
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  /**
   * Why the fake rejected the request instead of responding like the API: the wrong Host, a client
   * auth header that must not reach an upstream, or a missing or wrong credential.
   */
  rejection?: string;
  /** The client's port, which stays the same while a keep-alive connection is reused. */
  remotePort: number | undefined;
  /** True when a write to the client returned false, so the fake waited for 'drain'. */
  sawBackpressure: boolean;
  /** Resolves when the response closes; `aborted` is true when the client left before the end. */
  closed: Promise<{ aborted: boolean }>;
}

export interface FakeToolCall {
  /** Defaults to an id in the provider's format. */
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface FakeReply {
  /** Defaults to a greeting naming the fake provider, unless toolCalls are given. */
  text?: string;
  toolCalls?: FakeToolCall[];
  /** Characters per streamed text delta; by default the text streams word by word. */
  deltaSize?: number;
  /**
   * Reasoning text sent before the reply text: `reasoning_content` from the OpenAI-compatible fakes
   * (thinking chunks from Mistral's), a thinking block signed by the fake from the Anthropic fakes.
   */
  reasoning?: string;
  /**
   * Whether an OpenAI-compatible stream sends the first fragment of every tool call before the rest
   * of any, then the remaining fragments in turns, so that parallel calls interleave.
   */
  interleaveToolCalls?: boolean;
  /**
   * Whether an Anthropic stream reports 0 input tokens in `message_start` and the real count in
   * `message_delta`, a case that a gateway reading usage only from `message_start` gets wrong.
   */
  inputTokensAtEnd?: boolean;
}

export interface FakeError {
  status: number;
  /** Put into the provider-shaped body; a default per status otherwise. */
  message?: string;
  /** The provider's error code in its usual place (zAI business code, OpenAI code). */
  code?: string;
  /** Replaces the provider-shaped body entirely; a string is sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Appends the credential that the request carried to the message, as a careless upstream would. */
  echoCredential?: boolean;
}

/**
 * What the fake does with one request that passed its checks. Behaviours queue up with
 * `enqueue` and apply to requests in arrival order. With an empty queue the fake responds normally.
 */
export interface FakeBehaviour {
  reply?: FakeReply;
  /** Responds with this HTTP error instead. */
  error?: FakeError;
  /** Waits this long before sending the response headers. */
  headersDelayMs?: number;
  /** Never sends response headers; the request stays open until the client leaves. */
  silent?: boolean;
  /** Pause between two stream events. */
  eventIntervalMs?: number;
  /** Sends this many `: keep-alive` comment lines before the first event, as DeepSeek does while queued. */
  keepAliveComments?: number;
  /**
   * Breaks a stream after this many deltas (text, reasoning and tool argument fragments): `error`
   * sends the provider's in-stream error event and ends, `destroy` destroys the socket, `silence`
   * stops writing and keeps the connection open.
   */
  interrupt?: { afterDeltas: number; action: 'error' | 'destroy' | 'silence' };
}

export interface FakeUpstream {
  /** The provider id the fake imitates, such as `OPENAI`. */
  readonly provider: string;
  /** The real origin that the fake replaces, such as `https://api.openai.com`. */
  readonly origin: string;
  /** Where the fake listens: `http://127.0.0.1:PORT`. */
  readonly address: string;
  /** The connection-level override that routes `origin` to this fake. */
  readonly override: UpstreamOverride;
  readonly requests: RecordedRequest[];
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Resolves with the request numbered `count` (1-based) once it has arrived. */
  waitForRequest(count?: number, timeoutMs?: number): Promise<RecordedRequest>;
  /** Resolves when the client left before the response ended; rejects after `timeoutMs` (default 1 s). */
  waitForAbort(request: RecordedRequest, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A request after the shared checks, handed to the provider-specific router. */
export interface FakeExchange {
  request: RecordedRequest;
  response: ServerResponse;
  /** The credential the request carried, for echoing in scripted errors. */
  credential: string | undefined;
  /** The next queued behaviour, or an empty one. Each request that passes the checks takes one. */
  behaviour: FakeBehaviour;
}

/** The credential checks, error format and router of one API that a fake serves. */
export interface FakeApi {
  /** Headers whose presence means a client credential leaked upstream. */
  forbiddenHeaders: readonly string[];
  /** Returns the credential the request carries, or undefined. */
  readCredential(headers: IncomingHttpHeaders): string | undefined;
  expectedKey: string;
  /** Sends the provider's own response to a wrong or missing credential. */
  rejectCredential(response: ServerResponse, credential: string | undefined): void;
  /** Sends the provider-shaped error for a failed check or a scripted error. */
  sendError(response: ServerResponse, error: FakeError, credential?: string): void;
  route(exchange: FakeExchange): Promise<void>;
}

export interface FakeServerDefinition extends FakeApi {
  provider: string;
  origin: string;
  /** The Host header the request must carry; null skips the check (clients pointed at the fake directly). */
  expectedHost: string | null;
  /**
   * Further APIs on the same origin, each chosen by the prefix of the request path, with credential
   * checks and errors of their own. DeepSeek and zAI serve an Anthropic-compatible API beside their
   * chat completions, and one override can route an origin to one fake only.
   */
  pathApis?: readonly { pathPrefix: string; api: FakeApi }[];
}

const maxBodyBytes = 64 * 1024 * 1024;

export function randomId(prefix: string, length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return `${prefix}${id}`;
}

export function sendJsonBody(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}

/** Rough token count, stable for a given input: one token per four characters. */
export function countTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

/** Splits text into the deltas a stream sends: words with their trailing space, or fixed-size pieces. */
export function splitText(text: string, deltaSize?: number): string[] {
  if (text === '') return [];
  if (deltaSize !== undefined) {
    const pieces: string[] = [];
    for (let index = 0; index < text.length; index += deltaSize) pieces.push(text.slice(index, index + deltaSize));
    return pieces;
  }
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

/** Splits a JSON argument string into fragments, as providers stream tool arguments. */
export function splitArguments(json: string, size = 8): string[] {
  const fragments: string[] = [];
  for (let index = 0; index < json.length; index += size) fragments.push(json.slice(index, index + size));
  return fragments;
}

/**
 * Writes a stream event by event, honouring the behaviour's interval and interrupt, and the
 * client's backpressure. Returns false when the stream was interrupted or the client left, in
 * which case the caller writes nothing more.
 */
export class FakeStreamWriter {
  #deltas = 0;

  constructor(
    private readonly exchange: FakeExchange,
    private readonly sendInterruptError: () => string,
  ) {}

  get open(): boolean {
    return !this.exchange.response.destroyed && !this.exchange.response.writableEnded;
  }

  async start(): Promise<boolean> {
    this.exchange.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    this.exchange.response.flushHeaders();
    for (let count = 0; count < (this.exchange.behaviour.keepAliveComments ?? 0); count += 1) {
      if (!(await this.#write(': keep-alive\n\n'))) return false;
      await sleep(this.exchange.behaviour.eventIntervalMs ?? 5);
    }
    return this.open;
  }

  /** Writes an event that is not a delta (a role chunk, message_start, a stop event). */
  async event(text: string): Promise<boolean> {
    return this.#write(text);
  }

  /** Writes a delta event, first applying the interrupt if its count is reached. */
  async delta(text: string): Promise<boolean> {
    const interrupt = this.exchange.behaviour.interrupt;
    if (interrupt && this.#deltas >= interrupt.afterDeltas) {
      this.#interrupt(interrupt.action);
      return false;
    }
    this.#deltas += 1;
    return this.#write(text);
  }

  /** Applies an interrupt that is due after the last delta (afterDeltas equal to the total). */
  async finishDeltas(): Promise<boolean> {
    const interrupt = this.exchange.behaviour.interrupt;
    if (interrupt && this.#deltas >= interrupt.afterDeltas) {
      this.#interrupt(interrupt.action);
      return false;
    }
    return this.open;
  }

  end(text: string): void {
    if (this.open) this.exchange.response.end(text);
  }

  #interrupt(action: 'error' | 'destroy' | 'silence'): void {
    const { response } = this.exchange;
    if (action === 'error') {
      response.end(this.sendInterruptError());
    } else if (action === 'destroy') {
      response.socket?.destroy();
    }
    // 'silence' leaves the response open; the client or close() ends it.
  }

  async #write(text: string): Promise<boolean> {
    const { response, behaviour, request } = this.exchange;
    if (!this.open) return false;
    if (!response.write(text)) {
      request.sawBackpressure = true;
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.on('drain', done);
        response.on('close', done);
      });
    }
    if (behaviour.eventIntervalMs) await sleep(behaviour.eventIntervalMs);
    return this.open;
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new Error(`fake upstream: request body over ${maxBodyBytes} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Starts an HTTP server on 127.0.0.1, port 0, that records every request, applies the shared
 * checks (Host, leaked client credentials, the provider credential) and hands the rest to the
 * definition's router.
 */
export async function startFakeServer(definition: FakeServerDefinition): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const queue: FakeBehaviour[] = [];
  const arrivalWaiters: (() => void)[] = [];

  async function handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    let resolveClosed!: (value: { aborted: boolean }) => void;
    const closed = new Promise<{ aborted: boolean }>((resolve) => (resolveClosed = resolve));
    response.on('close', () => resolveClosed({ aborted: !response.writableFinished }));

    const rawBody = await readBody(incoming);
    const request: RecordedRequest = {
      method: incoming.method ?? 'GET',
      path: incoming.url ?? '/',
      headers: incoming.headers,
      rawBody,
      body: parseJson(rawBody),
      remotePort: incoming.socket.remotePort,
      sawBackpressure: false,
      closed,
    };
    requests.push(request);
    for (const wake of arrivalWaiters.splice(0)) wake();

    const api = definition.pathApis?.find((candidate) => request.path.startsWith(candidate.pathPrefix))?.api ?? definition;
    const credential = api.readCredential(incoming.headers);
    if (definition.expectedHost !== null && incoming.headers.host !== definition.expectedHost) {
      request.rejection = `Host was ${JSON.stringify(incoming.headers.host)}, expected ${definition.expectedHost}`;
      api.sendError(response, { status: 421, message: `fake upstream: ${request.rejection}` });
      return;
    }
    const leaked = api.forbiddenHeaders.find((name) => incoming.headers[name] !== undefined);
    if (leaked) {
      request.rejection = `the client header ${leaked} reached the upstream`;
      api.sendError(response, { status: 400, message: `fake upstream: ${request.rejection}` });
      return;
    }
    if (credential !== api.expectedKey) {
      request.rejection = credential === undefined ? 'no credential' : 'wrong credential';
      api.rejectCredential(response, credential);
      return;
    }

    const behaviour = queue.shift() ?? {};
    if (behaviour.silent) return;
    if (behaviour.headersDelayMs) await sleep(behaviour.headersDelayMs);
    if (response.destroyed) return;
    if (behaviour.error) {
      api.sendError(response, behaviour.error, credential);
      return;
    }
    await api.route({ request, response, credential, behaviour });
  }

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch((error: unknown) => {
      if (!response.headersSent) sendJsonBody(response, 500, { error: { message: `fake upstream failed: ${String(error)}` } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const address = `http://127.0.0.1:${port}`;

  return {
    provider: definition.provider,
    origin: definition.origin,
    address,
    override: { origin: definition.origin, address },
    requests,
    enqueue(...behaviours) {
      queue.push(...behaviours);
    },
    async waitForRequest(count = requests.length + 1, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`fake ${definition.provider}: request ${count} did not arrive within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((resolve) => arrivalWaiters.push(resolve)), sleep(remaining)]);
      }
      return requests[count - 1]!;
    },
    async waitForAbort(request, timeoutMs = 1_000) {
      const outcome = await Promise.race([request.closed, sleep(timeoutMs).then(() => 'timeout' as const)]);
      if (outcome === 'timeout') throw new Error(`fake ${definition.provider}: the request was still open after ${timeoutMs} ms`);
      if (!outcome.aborted) throw new Error(`fake ${definition.provider}: the response ended normally instead of being aborted`);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
