/**
 * Load generation of bench/proxy.bench.ts: chat completion requests over kept-alive undici pools,
 * with every response checked, and slow-reading streaming clients. Times are milliseconds from
 * performance.now(), except the start times of TimedSamples.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { Pool } from 'undici';
import { completionText, deltaText } from './fake-openai-upstream.js';

/**
 * The destination of chat completions: the fake upstream itself, the bare proxy
 * (bench/proxy-bench/bare-proxy.ts) in front of it, or the gateway in front of it.
 */
export interface ChatTarget {
  label: 'direct' | 'bare' | 'gateway';
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** The credential for this target (the provider key, none for the bare proxy, or the gateway key) and the content type. */
  headers: Record<string, string>;
  /** `gpt-4o` for the fake, `openai/gpt-4o` for the bare proxy and the gateway. */
  model: string;
}

const chatPath = '/v1/chat/completions';
const messages = [{ role: 'user', content: 'Hello' }];

export function completionBody(target: ChatTarget): string {
  return JSON.stringify({ model: target.model, messages });
}

export function streamBody(target: ChatTarget, deltaCount: number): string {
  return JSON.stringify({ model: target.model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: deltaCount });
}

/** Nearest-rank percentile of ascending `sorted` values; `fraction` is 0.5 for the median, 0.99 for p99. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) throw new Error('percentile of an empty sample');
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Milliseconds that a request may wait for the response headers, and for each body chunk, before it fails. */
const requestTimeoutMs = 30_000;

/** Opens a pool of `connections` kept-alive HTTP/1.1 connections to `origin` without pipelining. */
export function openKeptAlivePool(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
}

/** Opens a pool of `connections` kept-alive HTTP/1.1 connections to the target without pipelining. */
export function openPool(target: ChatTarget, connections: number): Pool {
  return openKeptAlivePool(target.origin, connections);
}

function unexpectedResponse(target: ChatTarget, requestKind: string, status: number, text: string): Error {
  return new Error(`${target.label} ${requestKind}: expected status 200 with the fake's content, got ${status}: ${text.slice(0, 300)}`);
}

/** Sends one non-streamed chat completion and returns its time until the whole body arrived. */
export async function sendCompletion(pool: Pool, target: ChatTarget, body: string): Promise<number> {
  const started = performance.now();
  const response = await pool.request({ path: chatPath, method: 'POST', headers: target.headers, body });
  const text = await response.body.text();
  const elapsed = performance.now() - started;
  if (response.statusCode !== 200 || !text.includes(completionText)) {
    throw unexpectedResponse(target, 'chat completion', response.statusCode, text);
  }
  return elapsed;
}

/**
 * Sends one streamed chat completion, reads it to the end and returns the time until the first
 * body byte, which carries the first event.
 */
export async function sendStream(pool: Pool, target: ChatTarget, body: string): Promise<number> {
  const started = performance.now();
  const response = await pool.request({ path: chatPath, method: 'POST', headers: target.headers, body });
  let firstByteAt: number | undefined;
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    firstByteAt ??= performance.now();
    text += chunk.toString('utf8');
  }
  if (response.statusCode !== 200 || firstByteAt === undefined || !text.includes(deltaText) || !text.endsWith('data: [DONE]\n\n')) {
    throw unexpectedResponse(target, 'stream', response.statusCode, text);
  }
  return firstByteAt - started;
}

/** Requests of a series in the order sent, in milliseconds. */
export interface TimedSamples {
  /**
   * performance.timeOrigin + performance.now() just before each request: milliseconds since the
   * Unix epoch, on a clock that other processes on this machine share.
   */
  startTimes: number[];
  /** The time that `send` returned for each request. */
  durations: number[];
}

/**
 * Sends `count` requests one after another and returns when each started and how long it took.
 * Throws when they take longer than `maxDurationMs` in total.
 */
export async function sequentialTimedSamples(count: number, maxDurationMs: number, send: () => Promise<number>): Promise<TimedSamples> {
  const startTimes: number[] = [];
  const durations: number[] = [];
  const deadline = performance.now() + maxDurationMs;
  for (let index = 0; index < count; index += 1) {
    // The deadline check's clock reading doubles as the start time, so timing adds no clock read.
    const startedAt = performance.now();
    if (startedAt > deadline) {
      throw new Error(`${count} sequential requests did not complete within ${maxDurationMs} ms (${index} did); the target may be stalled`);
    }
    startTimes.push(performance.timeOrigin + startedAt);
    durations.push(await send());
  }
  return { startTimes, durations };
}

/**
 * Sends `count` requests one after another and returns their times in ascending order. Throws
 * when they take longer than `maxDurationMs` in total.
 */
export async function sequentialSamples(count: number, maxDurationMs: number, send: () => Promise<number>): Promise<number[]> {
  const { durations } = await sequentialTimedSamples(count, maxDurationMs, send);
  return durations.sort((a, b) => a - b);
}

/**
 * Keeps `concurrency` requests in flight until `durationMs` has passed or `maxRequests` have
 * started, and returns the completed requests and the elapsed time.
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  maxRequests: number,
  send: () => Promise<number>,
): Promise<{ requests: number; elapsedMs: number }> {
  let started = 0;
  let completed = 0;
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && started < maxRequests) {
        started += 1;
        await send();
        completed += 1;
      }
    }),
  );
  return { requests: completed, elapsedMs: performance.now() - startedAt };
}

export interface SlowReaderOptions {
  clients: number;
  /** Content deltas per stream, as `max_tokens` of the request. */
  deltaCount: number;
  /** Each client takes whatever its response stream has buffered once per interval. */
  readIntervalMs: number;
  durationMs: number;
  sampleIntervalMs: number;
  /** Called every `sampleIntervalMs` while the clients read. */
  onSample(): Promise<void>;
}

export interface SlowReaderResult {
  /** Clients that received response headers with status 200. */
  streaming: number;
  bytesRead: number;
  errors: string[];
}

/**
 * Opens `clients` streams, each on its own connection, reads them slowly for `durationMs`, then
 * closes every connection before the streams end.
 */
export async function runSlowReaders(target: ChatTarget, options: SlowReaderOptions): Promise<SlowReaderResult> {
  const url = new URL(chatPath, target.origin);
  const body = streamBody(target, options.deltaCount);
  const result: SlowReaderResult = { streaming: 0, bytesRead: 0, errors: [] };
  const requests: ClientRequest[] = [];
  const readTimers: NodeJS.Timeout[] = [];
  let closing = false;

  for (let index = 0; index < options.clients; index += 1) {
    const request = httpRequest(url, {
      method: 'POST',
      headers: { ...target.headers, 'content-length': String(Buffer.byteLength(body)) },
      agent: false,
    });
    request.on('response', (response) => {
      if (response.statusCode === 200) result.streaming += 1;
      else result.errors.push(`status ${response.statusCode}`);
      response.on('error', () => undefined);
      response.pause();
      readTimers.push(
        setInterval(() => {
          const chunk = response.read() as Buffer | null;
          if (chunk) result.bytesRead += chunk.length;
        }, options.readIntervalMs),
      );
    });
    request.on('error', (error) => {
      if (!closing) result.errors.push(String(error));
    });
    request.end(body);
    requests.push(request);
  }

  const deadline = performance.now() + options.durationMs;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, options.sampleIntervalMs));
    await options.onSample();
  }

  closing = true;
  for (const timer of readTimers) clearInterval(timer);
  for (const request of requests) request.destroy();
  return result;
}
