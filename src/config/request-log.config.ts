import { z } from 'zod';
import { integer } from './fields.js';

/** Environment variables of the request log writer. */
export const requestLogEnvironment = z.object({
  // Entries waiting in memory, the batch being written included. When the queue is full, new
  // entries are dropped and counted. The queue fills while PostgreSQL is unreachable. An entry
  // takes about 1.1 KB of heap (measured by bench/request-log.bench.ts), so 50,000 take about 55 MB.
  REQUEST_LOG_QUEUE_MAX_ENTRIES: integer({ default: 50_000, min: 2_000, max: 10_000_000, unit: 'entries' }),
  // Rows per INSERT. PostgreSQL takes at most 65,535 parameters per statement, and each row has 27,
  // so the limit is 2,427 rows. The minimum queue size is the maximum batch size, so that a full
  // batch always fits.
  REQUEST_LOG_BATCH_SIZE: integer({ default: 500, min: 1, max: 2_000, unit: 'rows' }),
  // Maximum time an entry waits for a batch to fill before it is written.
  REQUEST_LOG_FLUSH_INTERVAL_MS: integer({ default: 1_000, min: 10, max: 60_000, unit: 'milliseconds' }),
  // Maximum time that shutdown waits for queued entries to be written. Entries still queued then
  // are counted as dropped.
  REQUEST_LOG_STOP_TIMEOUT_MS: integer({ default: 10_000, min: 0, max: 600_000, unit: 'milliseconds' }),
});

export type RequestLogEnvironment = z.output<typeof requestLogEnvironment>;

export interface RequestLogConfig {
  queueMaxEntries: number;
  batchSize: number;
  flushIntervalMs: number;
  stopTimeoutMs: number;
}

/** Builds the settings from a successfully validated environment. */
export function toRequestLogConfig(environment: RequestLogEnvironment): RequestLogConfig {
  return {
    queueMaxEntries: environment.REQUEST_LOG_QUEUE_MAX_ENTRIES,
    batchSize: environment.REQUEST_LOG_BATCH_SIZE,
    flushIntervalMs: environment.REQUEST_LOG_FLUSH_INTERVAL_MS,
    stopTimeoutMs: environment.REQUEST_LOG_STOP_TIMEOUT_MS,
  };
}
