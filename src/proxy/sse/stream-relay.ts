import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { StreamConfig } from '../../config/upstream.config.js';
import { formatStreamError, sendProxyError, type ClientDialect, type ProxyError } from '../errors.js';
import { sseHeartbeat } from './sse-format.js';

/** The abort reason of a relay's signal: the client closed its connection before the response ended. */
export class ClientDisconnectedError extends Error {
  readonly code = 'client_disconnected';

  constructor() {
    super('The client closed the connection before the response was complete.');
    this.name = 'ClientDisconnectedError';
  }
}

/** Headers that describe the body framing or encoding, which the relay sets itself. */
const framingHeaders = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'cache-control', 'connection']);

/**
 * Owns the client's response for one streaming call, from before the upstream responds to the end.
 *
 * - A silence timer commits the SSE headers (status 200) after `commitSilenceMs` if the caller has
 *   not committed or failed by then, so that heartbeats can keep the client waiting.
 * - Once committed, a comment heartbeat goes out every `heartbeatIntervalMs` while nothing else is
 *   written: before the first event and between events.
 * - `write` resolves after the chunk is accepted, waiting for 'drain' when the client reads
 *   slowly, so a caller that awaits it reads the upstream no faster than the client.
 * - `signal` aborts with ClientDisconnectedError when the client leaves before the response ends,
 *   in any phase. Pass it to the upstream request so the upstream stops generating (and billing).
 *
 * Early commit has a consequence: once the 200 is sent, an upstream error can no longer change the
 * status, so `fail` sends it as an error event inside the stream (see formatStreamError).
 */
export class StreamRelay {
  readonly #response: ServerResponse;
  readonly #options: StreamConfig;
  readonly #abortController = new AbortController();
  #committed = false;
  #pendingHeaders: OutgoingHttpHeaders = {};
  #finished = false;
  #silenceTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(response: ServerResponse, options: StreamConfig) {
    this.#response = response;
    this.#options = options;
    response.on('close', () => {
      this.#stopTimers();
      // 'close' without writableFinished means the connection went away before end() completed.
      if (!response.writableFinished) this.#abortController.abort(new ClientDisconnectedError());
    });
    this.#silenceTimer = setTimeout(() => {
      this.#silenceTimer = undefined;
      if (this.commitHeaders()) this.#sendHeartbeat();
    }, options.commitSilenceMs);
  }

  /** Aborted with ClientDisconnectedError when the client leaves before the response ends. */
  get signal(): AbortSignal {
    return this.#abortController.signal;
  }

  /** True once the SSE headers are sent. From then on, errors go inside the stream. */
  get committed(): boolean {
    return this.#committed;
  }

  get clientGone(): boolean {
    return this.#abortController.signal.aborted;
  }

  /** Sets the extra headers that a later commit sends, by `write` or by the silence timer. */
  setPendingHeaders(headers: OutgoingHttpHeaders): void {
    this.#pendingHeaders = headers;
  }

  /**
   * Sends status 200 with the SSE headers plus `headers` (by default those of setPendingHeaders), such as the upstream's request id and
   * rate-limit headers, and starts the heartbeat. Framing headers among `headers` are ignored.
   * Returns false and sends nothing when the relay has finished, the client has left or the
   * headers were already committed. In the last case the extra headers are lost.
   */
  commitHeaders(headers: OutgoingHttpHeaders = this.#pendingHeaders): boolean {
    if (this.#committed || this.#finished || this.clientGone) return false;
    this.#committed = true;
    this.#clearSilenceTimer();

    const head: OutgoingHttpHeaders = {};
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined && !framingHeaders.has(name.toLowerCase())) head[name] = value;
    }
    // NOTE: nothing in this server compresses responses. A compression layer added later must skip
    // text/event-stream, or events would wait in its buffer.
    head['content-type'] = 'text/event-stream; charset=utf-8';
    head['cache-control'] = 'no-cache';
    head['x-accel-buffering'] = 'no';
    this.#response.writeHead(200, head);
    this.#response.flushHeaders();
    this.#scheduleHeartbeat();
    return true;
  }

  /**
   * Writes a chunk of the SSE body, committing the headers first if needed. Resolves once the
   * response can take more, after 'drain' when its buffer was full. Returns false when the client
   * has left or the relay has finished, in which case nothing was written.
   */
  async write(chunk: string | Uint8Array): Promise<boolean> {
    if (this.#finished || this.clientGone) return false;
    this.commitHeaders();
    this.#scheduleHeartbeat();
    if (!this.#response.write(chunk)) await this.#drainOrClose();
    return !this.clientGone;
  }

  /** Writes an optional last chunk, ends the response and stops the timers. */
  async end(chunk?: string | Uint8Array): Promise<void> {
    if (this.#finished || this.clientGone) return;
    if (chunk !== undefined && !(await this.write(chunk))) return;
    this.commitHeaders();
    this.#finish();
    // 'finish' never comes when the connection closes first, so 'close' resolves too.
    await new Promise<void>((resolve) => {
      this.#response.once('close', resolve);
      this.#response.end(resolve);
    });
  }

  /**
   * Reports an error to the client: a JSON error response with the error's status when nothing is
   * committed yet, else an error event in the stream, after which the stream ends (for OpenAI
   * clients without `[DONE]`). Does nothing when the client has left or the relay has finished.
   */
  fail(error: ProxyError, dialect: ClientDialect): void {
    if (this.#finished || this.clientGone) return;
    this.#finish();
    if (!this.#committed) {
      sendProxyError(this.#response, error, dialect);
      return;
    }
    this.#response.end(formatStreamError(error, dialect));
  }

  #finish(): void {
    this.#finished = true;
    this.#stopTimers();
  }

  #drainOrClose(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#response.off('drain', done);
        this.#response.off('close', done);
        resolve();
      };
      this.#response.on('drain', done);
      this.#response.on('close', done);
    });
  }

  #scheduleHeartbeat(): void {
    if (this.#heartbeatTimer) {
      this.#heartbeatTimer.refresh();
      return;
    }
    this.#heartbeatTimer = setInterval(() => this.#sendHeartbeat(), this.#options.heartbeatIntervalMs);
  }

  #sendHeartbeat(): void {
    // A client that is not reading gains nothing from more bytes in its buffer.
    if (this.#finished || this.clientGone || this.#response.writableNeedDrain) return;
    this.#response.write(sseHeartbeat());
  }

  #clearSilenceTimer(): void {
    if (this.#silenceTimer) clearTimeout(this.#silenceTimer);
    this.#silenceTimer = undefined;
  }

  #stopTimers(): void {
    this.#clearSilenceTimer();
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }
}
