import { Counter, Gauge, type Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/database.js';
import type { RequestLogStats } from '../proxy/request-log/request-log-writer.js';

/**
 * Registers the request log writer's counters, read from its `stats` at each scrape, so that the
 * writer needs no reference to the metrics.
 */
export function registerRequestLogMetrics(registry: Registry, writer: { readonly stats: RequestLogStats }): void {
  new Gauge({
    name: 'keyroute_request_log_queued_entries',
    help: 'Request log entries in memory waiting to be written, the batch being written included.',
    registers: [registry],
    collect() {
      this.set(writer.stats.queued);
    },
  });
  monotonicCounter(registry, 'keyroute_request_log_written_entries_total', 'Request log entries stored in the database.', () => writer.stats.written);
  monotonicCounter(
    registry,
    'keyroute_request_log_dropped_entries_total',
    'Request log entries that were not stored: the queue was full, the writer was stopped, or the database rejected the row.',
    () => writer.stats.dropped,
  );
  monotonicCounter(registry, 'keyroute_request_log_flushes_total', 'Request log batches written successfully.', () => writer.stats.flushes);
  new Gauge({
    name: 'keyroute_request_log_last_flush_duration_seconds',
    help: 'Duration of the last successful request log batch write, failed attempts before it excluded.',
    registers: [registry],
    collect() {
      this.set(writer.stats.lastFlushMs / 1000);
    },
  });
}

/**
 * Registers the database gauges: the kind, and on PostgreSQL the connection pool. PGlite is one
 * embedded session with no pool, so it has the kind alone.
 */
export function registerDatabaseMetrics(registry: Registry, database: Pick<DatabaseHandle, 'kind' | 'pool'>): void {
  const info = new Gauge({
    name: 'keyroute_database_info',
    help: 'Always 1; the kind label is postgres or pglite (embedded, one session, no pool).',
    labelNames: ['kind'],
    registers: [registry],
  });
  info.labels(database.kind).set(1);

  const pool = database.pool;
  if (pool === undefined) return;
  new Gauge({
    name: 'keyroute_database_pool_connections',
    help: 'Open PostgreSQL connections of the pool, by state: idle, or in_use by a query or transaction.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.labels('idle').set(pool.idleCount);
      this.labels('in_use').set(pool.totalCount - pool.idleCount);
    },
  });
  new Gauge({
    name: 'keyroute_database_pool_waiting_requests',
    help: 'Queries and transactions waiting for a free pool connection.',
    registers: [registry],
    collect() {
      this.set(pool.waitingCount);
    },
  });
  new Gauge({
    name: 'keyroute_database_pool_max_connections',
    help: 'Maximum size of the pool (DATABASE_POOL_MAX).',
    registers: [registry],
    collect() {
      this.set(pool.options.max);
    },
  });
}

/** Registers a counter that mirrors a total kept elsewhere, read when the registry is collected. */
function monotonicCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
