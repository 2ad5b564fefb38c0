/**
 * Counters that bench/proxy.bench.ts preloads into the gateway process with
 * `node --import tsx --import <this file> src/main.ts`. They count every SQL statement sent through
 * the `pg` client, by kind, and every call of the key backends. The gateway needs an IPC channel
 * (spawn with stdio 'ipc'): on a ReadCountersMessage this module sends back a GatewayCounters
 * snapshot with the process's memory usage, after a full garbage collection if the message requests
 * one, and with the recorded GC pauses and request-log writes if it requests those. When the channel
 * disconnects because the benchmark died, it sends SIGTERM to its own process, so that no gateway outlives the benchmark.
 *
 * The counting wraps `pg.Client.prototype.query` and the prototypes of KeyringKeyBackend and
 * KmsKeyBackend. Its cost is a string test per statement and a counter per call, which a proxied
 * request does not pay at steady state when it sends no statement. Each request-log write also
 * costs two clock reads and a promise handler, and each GC pause one entry in a preallocated list.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, createHistogram, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { KeyringKeyBackend } from '../../src/crypto/keyring-key-backend.js';
import { KmsKeyBackend } from '../../src/crypto/kms-key-backend.js';

/**
 * - request-log write: the request log writer's INSERT into request_logs, its upserts of the hourly
 *   usage rollups, and its `last_used_at` updates of gateway_keys and provider_keys;
 * - transaction control: BEGIN, COMMIT and ROLLBACK, which today come from the request log writer only;
 * - change-sequence check: the directory's periodic read of change_sequence (PROXY_CHANGE_CHECK_INTERVAL_MS);
 * - listen: the change listener's LISTEN;
 * - other: everything else, such as cache misses of the proxy directory.
 */
export type StatementKind = 'request-log write' | 'transaction control' | 'change-sequence check' | 'listen' | 'other';

export interface GatewayCounters {
  statements: Record<StatementKind, number>;
  /**
   * Statements of kind 'other' by their first 120 characters. `inRequest` counts those sent while
   * the async context of an HTTP request was active, `background` the rest.
   */
  otherStatements: Record<string, { inRequest: number; background: number }>;
  /** Key backend calls by `<backend kind>.<method>`, such as `keyring.unwrapDataKey`. */
  keyBackendCalls: Record<string, number>;
  /** process.memoryUsage() when the counters were read, in bytes. */
  memory: NodeJS.MemoryUsage;
  /** Garbage collection pauses since the start, or since the last read that reset them. */
  gcPauses: GcPauses;
  /**
   * Time inside the gateway from a request's parsed headers to its response's finish, for
   * /v1/ requests since the same reset, in milliseconds. It separates a delay inside the process
   * from one outside it (the network, the other processes).
   */
  serverTimeMs: { count: number; p50: number; p99: number; max: number };
  /** GC pauses and request-log writes since the same reset; present when the message sets `readIntervals`. */
  intervals?: GatewayIntervals;
}

/**
 * A span of time in milliseconds. `startedAt` is performance.timeOrigin + performance.now(), which
 * processes on the same machine share (milliseconds since the Unix epoch).
 */
export interface TimeInterval {
  startedAt: number;
  durationMs: number;
}

export interface GatewayIntervals {
  /** Garbage collection pauses, from the `gc` entries of a PerformanceObserver. */
  gcPauses: TimeInterval[];
  /**
   * Statements of kind 'request-log write' sent as promise-style queries, from the call of
   * `query()` to the settling of its promise. The time includes waiting for the client, the round
   * trip and the work of PostgreSQL.
   */
  requestLogWrites: TimeInterval[];
  /** Intervals not recorded because their list was full (maxIntervals). */
  dropped: number;
}

export interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
  /** Pauses of 1 ms or more, long enough to show in a latency percentile. */
  atLeast1Ms: number;
  /** Time in minor collections (scavenges of the young generation), the rest being major ones. */
  minorMs: number;
  minorCount: number;
}

export interface ReadCountersMessage {
  type: 'read-counters';
  /**
   * From this read on, separates statements sent while serving an HTTP request from background
   * ones (`otherStatements`), or stops separating them. Off by default, because it enables an
   * AsyncLocalStorage, whose hook on every promise would add to the CPU figures of the gateway.
   */
  trackRequests?: boolean;
  /** Runs a full garbage collection first, so that `memory.heapUsed` counts live objects only. */
  collectGarbage?: boolean;
  /**
   * Starts counting garbage collection pauses from zero after this read, and clears the recorded
   * intervals of GC pauses and request-log writes.
   */
  resetGcPauses?: boolean;
  /** Adds the recorded intervals of GC pauses and request-log writes to the reply (`intervals`). */
  readIntervals?: boolean;
}

// Makes gc() available without starting the gateway with --expose-gc.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/**
 * Capacity of each interval list. A list keeps the first intervals after a reset, so the latency
 * series that follows a reset is recorded in full unless it has more GC pauses or writes than this.
 */
const maxIntervals = 10_000;

/**
 * Time intervals in two preallocated typed arrays (160 KB per list, outside the JS heap), so that recording
 * one allocates nothing and the memory figures of the benchmark do not change with the count.
 * Keeps the first `maxIntervals` after a clear and counts the rest as dropped.
 */
class IntervalList {
  readonly #startedAt = new Float64Array(maxIntervals);
  readonly #durationsMs = new Float64Array(maxIntervals);
  #length = 0;
  dropped = 0;

  record(startedAt: number, durationMs: number): void {
    if (this.#length === maxIntervals) {
      this.dropped += 1;
      return;
    }
    this.#startedAt[this.#length] = startedAt;
    this.#durationsMs[this.#length] = durationMs;
    this.#length += 1;
  }

  read(): TimeInterval[] {
    return Array.from({ length: this.#length }, (_, index) => ({ startedAt: this.#startedAt[index]!, durationMs: this.#durationsMs[index]! }));
  }

  clear(): void {
    this.#length = 0;
    this.dropped = 0;
  }
}

const gcPauseIntervals = new IntervalList();
const requestLogWriteIntervals = new IntervalList();

const emptyGcPauses = (): GcPauses => ({ count: 0, totalMs: 0, maxMs: 0, atLeast1Ms: 0, minorMs: 0, minorCount: 0 });
let gcPauses = emptyGcPauses();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcPauseIntervals.record(performance.timeOrigin + entry.startTime, entry.duration);
    gcPauses.count += 1;
    gcPauses.totalMs += entry.duration;
    gcPauses.maxMs = Math.max(gcPauses.maxMs, entry.duration);
    if (entry.duration >= 1) gcPauses.atLeast1Ms += 1;
    if (((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gcPauses.minorCount += 1;
      gcPauses.minorMs += entry.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

// Whether the code running was started by an HTTP request. The gateway's proxy route runs outside
// any AsyncLocalStorage of its own, so the probe enters this one when Node publishes the start of
// a request. Node does that synchronously before the server's 'request' event, so the handler and
// every callback and promise it creates inherit it.
const inRequest = new AsyncLocalStorage<true>();
let trackingRequests = false;
function enterRequest(): void {
  inRequest.enterWith(true);
}

// Node 20 publishes these two channels for every request of an http.Server. Timing each request
// costs the gateway CPU, so it runs only with --server-times, which sets BENCH_PROBE_SERVER_TIMES.
const serverTimes = createHistogram();
const requestStarts = new WeakMap<IncomingMessage, bigint>();
if (process.env.BENCH_PROBE_SERVER_TIMES === 'true') {
  diagnosticsChannel.subscribe('http.server.request.start', (message) => {
    const { request } = message as { request: IncomingMessage };
    if (request.url?.startsWith('/v1/')) requestStarts.set(request, process.hrtime.bigint());
  });
  diagnosticsChannel.subscribe('http.server.response.finish', (message) => {
    const { request } = message as { request: IncomingMessage; response: ServerResponse };
    const started = requestStarts.get(request);
    if (started !== undefined) serverTimes.record(Math.max(1, Number(process.hrtime.bigint() - started)));
  });
}

function serverTimeSummary(): GatewayCounters['serverTimeMs'] {
  const toMs = (nanoseconds: number) => nanoseconds / 1e6;
  return {
    count: serverTimes.count,
    p50: serverTimes.count > 0 ? toMs(serverTimes.percentile(50)) : 0,
    p99: serverTimes.count > 0 ? toMs(serverTimes.percentile(99)) : 0,
    max: serverTimes.count > 0 ? toMs(serverTimes.max) : 0,
  };
}

const counters: Omit<GatewayCounters, 'memory' | 'gcPauses' | 'serverTimeMs'> = {
  statements: { 'request-log write': 0, 'transaction control': 0, 'change-sequence check': 0, listen: 0, other: 0 },
  otherStatements: {},
  keyBackendCalls: {},
};

function classify(text: string): StatementKind {
  const statement = text.trim().toLowerCase();
  if (/^(begin|commit|rollback)\b/.test(statement)) return 'transaction control';
  if (statement.startsWith('insert into "request_logs"')) return 'request-log write';
  // The hourly usage rollups are upserted in the same transaction as each request-log batch.
  if (/^insert into "usage_[a-z_]*hourly"/.test(statement)) return 'request-log write';
  if (/^update "(gateway_keys|provider_keys)" as target\s+set last_used_at = used\.used_at/.test(statement)) return 'request-log write';
  // The writer's batch statement: the INSERT, the rollup upserts and the last_used_at updates in one.
  if (statement.startsWith('with input as (')) return 'request-log write';
  if (statement.startsWith('select "value" from "change_sequence"')) return 'change-sequence check';
  if (statement.startsWith('listen ')) return 'listen';
  return 'other';
}

/** Counts a statement by kind and returns the kind. */
function recordStatement(text: string): StatementKind {
  const kind = classify(text);
  counters.statements[kind] += 1;
  if (kind !== 'other') return kind;
  const key = text.trim().replace(/\s+/g, ' ').slice(0, 120);
  const entry = (counters.otherStatements[key] ??= { inRequest: 0, background: 0 });
  if (inRequest.getStore()) entry.inRequest += 1;
  else entry.background += 1;
  return kind;
}

function statementText(config: unknown): string {
  if (typeof config === 'string') return config;
  if (config !== null && typeof config === 'object' && typeof (config as { text?: unknown }).text === 'string') {
    return (config as { text: string }).text;
  }
  return '';
}

type QueryFunction = (this: pg.Client, ...args: unknown[]) => unknown;
const originalQuery = pg.Client.prototype.query as unknown as QueryFunction;
(pg.Client.prototype as unknown as { query: QueryFunction }).query = function query(this: pg.Client, ...args: unknown[]) {
  const kind = recordStatement(statementText(args[0]));
  if (kind !== 'request-log write') return originalQuery.apply(this, args);

  const sentAt = performance.now();
  const result = originalQuery.apply(this, args);
  // A call with a callback returns undefined and a submittable returns itself, so only a promise is
  // timed. The handlers go on a branch of it and the caller gets the same promise, with the same
  // value or rejection. NOTE: the branch marks a rejection as handled, so one that the caller never
  // handles no longer raises 'unhandledRejection'. The request log writer awaits each query.
  if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
    const recordWrite = () => requestLogWriteIntervals.record(performance.timeOrigin + sentAt, performance.now() - sentAt);
    (result as PromiseLike<unknown>).then(recordWrite, recordWrite);
  }
  return result;
};

function countCalls(prototype: object, kind: string, methods: string[]): void {
  const target = prototype as Record<string, (...args: unknown[]) => unknown>;
  for (const method of methods) {
    const original = target[method]!;
    const name = `${kind}.${method}`;
    target[method] = function (this: unknown, ...args: unknown[]) {
      counters.keyBackendCalls[name] = (counters.keyBackendCalls[name] ?? 0) + 1;
      return original.apply(this, args);
    };
  }
}

countCalls(KeyringKeyBackend.prototype, 'keyring', ['generateDataKey', 'unwrapDataKey', 'rewrapDataKey']);
countCalls(KmsKeyBackend.prototype, 'aws-kms', ['generateDataKey', 'unwrapDataKey', 'rewrapDataKey']);

if (process.send) {
  process.on('message', (message) => {
    const request = message as Partial<ReadCountersMessage> | null;
    if (request?.type !== 'read-counters') return;
    if (request.trackRequests !== undefined && request.trackRequests !== trackingRequests) {
      trackingRequests = request.trackRequests;
      if (trackingRequests) {
        diagnosticsChannel.subscribe('http.server.request.start', enterRequest);
      } else {
        diagnosticsChannel.unsubscribe('http.server.request.start', enterRequest);
        inRequest.disable();
      }
    }
    if (request.collectGarbage) collectGarbage();
    const intervals: GatewayIntervals | undefined = request.readIntervals
      ? {
          gcPauses: gcPauseIntervals.read(),
          requestLogWrites: requestLogWriteIntervals.read(),
          dropped: gcPauseIntervals.dropped + requestLogWriteIntervals.dropped,
        }
      : undefined;
    const reply: GatewayCounters = { ...counters, memory: process.memoryUsage(), gcPauses, serverTimeMs: serverTimeSummary(), ...(intervals && { intervals }) };
    process.send?.({ type: 'counters', counters: reply });
    if (request.resetGcPauses) {
      gcPauses = emptyGcPauses();
      serverTimes.reset();
      gcPauseIntervals.clear();
      requestLogWriteIntervals.clear();
    }
  });
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
