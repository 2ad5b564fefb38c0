import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { RequestLogConfig } from '../../config/request-log.config.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import type { RequestLogEntry } from './request-log-entry.js';
import { ensureRequestLogPartitions } from './request-log-partitions.js';
import { toRequestLogRow, writeRequestLogBatch, type RequestLogRow } from './request-log.repository.js';
import { RingBuffer } from './ring-buffer.js';

/** Delay before the first retry of a failed write. It doubles with each failure up to the maximum. */
const RETRY_INITIAL_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 10_000;
/**
 * Interval of the partition check. Hourly rather than daily, so that tomorrow's partition exists
 * long before midnight UTC and a failed attempt is retried within the hour.
 */
const PARTITION_CHECK_INTERVAL_MS = 60 * 60 * 1000;
/** Today and tomorrow, in UTC. */
const PARTITION_DAYS = 2;
/** Maximum number of ids in one log line about rejected rows. */
const LOGGED_IDS_MAX = 10;

/** Counters for metrics. Each entry passed to enqueue() is counted in exactly one of queued, written and dropped. */
export interface RequestLogStats {
  /** Entries in memory waiting to be written, including the batch being written or retried. */
  queued: number;
  /** Entries confirmed as stored in the database. */
  written: number;
  /**
   * Entries that were not stored: the queue was full, the writer was stopped, PostgreSQL rejected
   * the row, or the entry was still queued when stop() timed out.
   */
  dropped: number;
  /** Batches written successfully. */
  flushes: number;
  /** Duration of the last successful batch write in milliseconds, earlier failed attempts excluded. */
  lastFlushMs: number;
}

interface ErrorSummary {
  message: string;
  code?: string;
  constraint?: string;
  column?: string;
}

interface RejectedRow {
  id: string;
  requestId: string;
}

/**
 * Writes request log entries to `request_logs` in batches, off the request path.
 *
 * enqueue() converts the entry to its row and appends the row to a bounded in-memory queue. The row
 * contains the raw usage as JSON text and no nested object of the request, so a queued entry gives
 * the garbage collector fewer objects to copy while it waits. A flush starts when a batch fills up
 * or when the flush interval passes, and writes each batch with one statement, whatever its size. The
 * statement inserts the rows, adds them to the three hourly usage rollups and moves `last_used_at`
 * of the batch's gateway keys and provider keys forward. A statement is atomic, so a batch that is
 * not written is not counted either. While PostgreSQL is unreachable, the batch stays queued and
 * is retried with exponential backoff. New entries queue until the bound is reached and are then
 * dropped and counted. A row that PostgreSQL rejects as invalid is dropped alone, and the rest of
 * its batch is written.
 *
 * Errors are logged once when a failure streak starts and once when it ends, with ids only, never
 * row contents.
 */
export class RequestLogWriter {
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  readonly #config: RequestLogConfig;

  readonly #queue = new RingBuffer<RequestLogRow>();
  /** The batch being written. It stays here across retries and counts toward the queue bound. */
  #batch: RequestLogRow[] = [];
  /** Number of queued entries that the running flush writes even when they do not fill a batch. */
  #owed = 0;

  #written = 0;
  #dropped = 0;
  #flushes = 0;
  #lastFlushMs = 0;

  #state: 'created' | 'running' | 'stopping' | 'stopped' = 'created';
  #draining = false;
  #drain: Promise<void> = Promise.resolve();
  #flushScheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #partitionTimer: NodeJS.Timeout | undefined;
  #partitionCheck: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  // Failure streaks. Each is logged when it starts and when it ends.
  #failedAttempts = 0;
  #failingSince = 0;
  #droppedWhileFull = 0;
  #droppedAfterStop = 0;
  #rejectedInStreak = 0;
  #rejectedInBatch: RejectedRow[] = [];
  /** Cause of the first rejected row of the current batch. */
  #rejectionCause: ErrorSummary | undefined;
  #partitionFailures = 0;

  constructor(options: { db: Kysely<Database>; logger: Logger; config: RequestLogConfig }) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#config = options.config;
  }

  get stats(): RequestLogStats {
    return {
      queued: this.#queuedCount(),
      written: this.#written,
      dropped: this.#dropped,
      flushes: this.#flushes,
      lastFlushMs: this.#lastFlushMs,
    };
  }

  /**
   * Queues an entry for writing and returns at once. Never throws. When the queue is full or the
   * writer is stopped, the entry is dropped and counted in `stats.dropped`.
   */
  enqueue(entry: RequestLogEntry): void {
    if (this.#state === 'stopped') {
      this.#dropped += 1;
      this.#droppedAfterStop += 1;
      if (this.#droppedAfterStop === 1) {
        this.#logger.warn({ id: entry.id, requestId: entry.requestId }, 'Request log writer is stopped; dropping new entries');
      }
      return;
    }

    if (this.#queuedCount() >= this.#config.queueMaxEntries) {
      this.#dropped += 1;
      this.#droppedWhileFull += 1;
      if (this.#droppedWhileFull === 1) {
        this.#logger.warn(
          { queueMaxEntries: this.#config.queueMaxEntries, id: entry.id, requestId: entry.requestId },
          'Request log queue is full; dropping new entries until it has room',
        );
      }
      return;
    }
    if (this.#droppedWhileFull > 0) {
      this.#logger.info({ dropped: this.#droppedWhileFull }, 'Request log queue has room again');
      this.#droppedWhileFull = 0;
    }

    let row: RequestLogRow;
    try {
      row = toRequestLogRow(entry);
    } catch (error) {
      // An invalid occurredAt or a rawUsage value that JSON.stringify rejects. Retrying cannot help.
      this.#dropped += 1;
      this.#rejectionCause ??= summarizeError(error);
      this.#rejectedInBatch.push({ id: entry.id, requestId: entry.requestId });
      return;
    }
    this.#queue.push(row);
    if (this.#queue.length >= this.#config.batchSize) this.#scheduleFlush();
  }

  /**
   * Starts the flush interval and the hourly partition check, and creates today's and tomorrow's
   * partitions before it resolves. Never rejects: a failed partition check is logged and retried.
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'running';

    this.#flushTimer = setInterval(() => this.#onFlushInterval(), this.#config.flushIntervalMs);
    this.#flushTimer.unref();
    this.#partitionTimer = setInterval(() => void this.#checkPartitions(), PARTITION_CHECK_INTERVAL_MS);
    this.#partitionTimer.unref();
    this.#logger.info({ ...this.#config }, 'Request log writer started');

    await this.#checkPartitions();
  }

  /**
   * Writes every entry queued at the time of the call. Resolves after one attempt and never rejects:
   * when the attempt fails, the entries stay queued and the writer retries them with backoff.
   */
  flush(): Promise<void> {
    if (this.#state === 'stopped') return Promise.resolve();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#owed = this.#queue.length;
    return this.#startDrain();
  }

  /**
   * Stops the timers and writes what is queued, retrying for up to the stop timeout. Entries still
   * unwritten then are counted as dropped. Entries enqueued after stop() resolves are dropped too.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    clearInterval(this.#flushTimer);
    clearInterval(this.#partitionTimer);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;

    const deadline = new AbortController();
    const written = Promise.all([this.#writeAll(deadline.signal), this.#partitionCheck]).then(() => true);
    const timedOut = sleep(this.#config.stopTimeoutMs, false, { signal: deadline.signal }).catch(() => false);
    const completed = await Promise.race([written, timedOut]);
    deadline.abort();
    this.#state = 'stopped';
    // Entries rejected at enqueue() since the last batch, which no batch reports now.
    if (this.#rejectedInBatch.length > 0) this.#reportRejections();

    const unwritten = this.#queuedCount();
    if (!completed && unwritten > 0) {
      // An INSERT still in flight may commit after this, so these rows can be in the database too.
      this.#dropped += unwritten;
      this.#queue.clear();
      this.#batch = [];
      this.#logger.warn(
        { dropped: unwritten, stopTimeoutMs: this.#config.stopTimeoutMs },
        'Request log writer stop timed out; dropping the entries not yet written',
      );
    }
    this.#logger.info({ ...this.stats }, 'Request log writer stopped');
  }

  /** Writes until the queue is empty, waiting the backoff delay after each failed attempt. */
  async #writeAll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.#queuedCount() > 0) {
      await this.flush();
      if (this.#failedAttempts > 0 && !signal.aborted) {
        await sleep(this.#retryDelayMs(), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  #queuedCount(): number {
    return this.#queue.length + this.#batch.length;
  }

  /** Starts a flush of full batches on the next turn of the event loop, off the caller's path. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#draining || this.#retryTimer !== undefined) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#state !== 'stopped' && this.#retryTimer === undefined) void this.#startDrain();
    });
  }

  #onFlushInterval(): void {
    // During a backoff, the retry timer starts the next attempt.
    if (this.#retryTimer !== undefined) return;
    if (this.#queuedCount() > 0) {
      void this.flush();
    } else if (this.#rejectedInBatch.length > 0) {
      // No batch follows the entries that enqueue() rejected, so the interval reports them.
      this.#reportRejections();
    }
  }

  #startDrain(): Promise<void> {
    if (!this.#draining) this.#drain = this.#runDrain();
    return this.#drain;
  }

  async #runDrain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#state !== 'stopped' && this.#hasBatchToWrite()) {
        const succeeded = await this.#writeNextBatch();
        if (!succeeded) break;
      }
    } finally {
      this.#draining = false;
    }
  }

  #hasBatchToWrite(): boolean {
    return (
      this.#batch.length > 0 ||
      this.#queue.length >= this.#config.batchSize ||
      (this.#owed > 0 && this.#queue.length > 0)
    );
  }

  /** Writes the current batch, taking a new one from the queue first if there is none. Returns false on failure. */
  async #writeNextBatch(): Promise<boolean> {
    if (this.#batch.length === 0) this.#takeBatch();

    const started = performance.now();
    try {
      await this.#writeRows(this.#batch);
    } catch (error) {
      if (this.#state !== 'stopped') this.#recordFailedAttempt(error);
      return false;
    }
    if (this.#state === 'stopped') return false;

    this.#flushes += 1;
    this.#lastFlushMs = performance.now() - started;
    this.#reportRejections();
    if (this.#failedAttempts > 0) {
      this.#logger.info(
        { attempts: this.#failedAttempts, outageMs: Date.now() - this.#failingSince, queued: this.#queuedCount() },
        'Writing request log batches succeeds again',
      );
      this.#failedAttempts = 0;
    }
    return true;
  }

  #takeBatch(): void {
    this.#batch = this.#queue.shiftMany(this.#config.batchSize);
    this.#owed = Math.max(0, this.#owed - this.#batch.length);
  }

  /**
   * Writes `rows`, a prefix of the current batch, in one statement and removes them from the batch.
   * When PostgreSQL rejects the data (SQLSTATE class 22 or 23), the rows are split in halves and
   * written separately, down to single rows, which are dropped. Any other error is thrown and leaves
   * the unwritten rows at the front of the batch.
   *
   * NOTE: no timeout bounds a write. A connection that stops responding without being closed holds
   * up every later flush until TCP gives up on it. The queue bound and stop() still apply.
   */
  async #writeRows(rows: RequestLogRow[]): Promise<void> {
    if (this.#state === 'stopped') return;
    try {
      await writeRequestLogBatch(this.#db, rows);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (rows.length > 1) {
        const middle = Math.ceil(rows.length / 2);
        await this.#writeRows(rows.slice(0, middle));
        await this.#writeRows(rows.slice(middle));
        return;
      }
      this.#settle(rows.length, 'rejected', error);
      return;
    }
    this.#settle(rows.length, 'written');
  }

  /** Removes `count` rows from the front of the batch and counts them as written or dropped. */
  #settle(count: number, outcome: 'written' | 'rejected', error?: unknown): void {
    // After a stop timeout the rows are already counted as dropped.
    if (this.#state === 'stopped') return;
    const settled = this.#batch.slice(0, count);
    this.#batch = this.#batch.slice(count);
    if (outcome === 'written') {
      this.#written += count;
      return;
    }
    this.#dropped += count;
    this.#rejectionCause ??= summarizeError(error);
    this.#rejectedInBatch.push(...settled.map((row) => ({ id: row.id, requestId: row.request_id })));
  }

  /** Logs the rows dropped in the last batch: a warning when a streak of such batches starts, debug after. */
  #reportRejections(): void {
    const rejected = this.#rejectedInBatch;
    this.#rejectedInBatch = [];
    if (rejected.length === 0) {
      if (this.#rejectedInStreak > 0) {
        this.#logger.info({ dropped: this.#rejectedInStreak }, 'Request log batches are written without rejected rows again');
        this.#rejectedInStreak = 0;
      }
      return;
    }

    const details = {
      err: this.#rejectionCause,
      dropped: rejected.length,
      ids: rejected.slice(0, LOGGED_IDS_MAX).map((row) => row.id),
      requestIds: rejected.slice(0, LOGGED_IDS_MAX).map((row) => row.requestId),
    };
    this.#rejectionCause = undefined;
    const message = 'Dropped request log rows that cannot be stored';
    if (this.#rejectedInStreak === 0) this.#logger.warn(details, message);
    else this.#logger.debug(details, message);
    this.#rejectedInStreak += rejected.length;
  }

  #recordFailedAttempt(error: unknown): void {
    this.#failedAttempts += 1;
    const details = { err: summarizeError(error), attempt: this.#failedAttempts, queued: this.#queuedCount() };
    if (this.#failedAttempts === 1) {
      this.#failingSince = Date.now();
      this.#logger.warn(details, 'Writing a request log batch failed; retrying with backoff while the entries stay queued');
    } else {
      this.#logger.debug(details, 'Writing a request log batch failed again');
    }

    // While stopping, #writeAll waits between attempts itself.
    if (this.#state === 'stopping') return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.flush();
    }, this.#retryDelayMs());
    this.#retryTimer.unref();
  }

  /** Exponential backoff with jitter, so that several gateway processes do not retry in step. */
  #retryDelayMs(): number {
    const exponent = Math.min(this.#failedAttempts - 1, 16);
    const delay = Math.min(RETRY_MAX_DELAY_MS, RETRY_INITIAL_DELAY_MS * 2 ** Math.max(0, exponent));
    return delay / 2 + Math.random() * (delay / 2);
  }

  #checkPartitions(): Promise<void> {
    this.#partitionCheck ??= this.#runPartitionCheck().finally(() => {
      this.#partitionCheck = undefined;
    });
    return this.#partitionCheck;
  }

  async #runPartitionCheck(): Promise<void> {
    try {
      const created = await ensureRequestLogPartitions(this.#db, new Date(), PARTITION_DAYS);
      if (created.length > 0) this.#logger.info({ partitions: created }, 'Created request log partitions');
      if (this.#partitionFailures > 0) {
        this.#logger.info({ attempts: this.#partitionFailures }, 'Checking request log partitions succeeds again');
        this.#partitionFailures = 0;
      }
    } catch (error) {
      this.#partitionFailures += 1;
      if (this.#partitionFailures === 1) {
        this.#logger.warn(
          { err: summarizeError(error) },
          'Creating request log partitions failed; rows of days without a partition go to request_logs_default until the hourly retry succeeds',
        );
      }
    }
  }
}

/** True for SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation). */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/**
 * The fields of an error that are safe to log. PostgreSQL's `detail` and `where` are left out,
 * because a constraint violation's detail contains the whole failing row.
 */
function summarizeError(error: unknown): ErrorSummary {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, constraint, column } = error as { code?: unknown; constraint?: unknown; column?: unknown };
  return {
    message: error.message || error.name,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof constraint === 'string' ? { constraint } : {}),
    ...(typeof column === 'string' ? { column } : {}),
  };
}
