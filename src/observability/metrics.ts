import { collectDefaultMetrics, Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/database.js';
import type { RequestLogStats } from '../proxy/request-log/request-log-writer.js';
import { CacheMetrics } from './cache-metrics.js';
import { registerDatabaseMetrics, registerRequestLogMetrics } from './collected-metrics.js';
import { HttpMetrics } from './http-metrics.js';
import { KeyBackendMetrics } from './key-backend-metrics.js';
import { ProxyMetrics } from './proxy-metrics.js';

/**
 * Every Prometheus metric of one server, in a registry of its own rather than prom-client's global
 * one, so that two servers in one process (as in the tests) never share or clash on a metric.
 * It is built once at start and passed to the components that record. Each of them takes its part
 * as an optional dependency, so a component built without metrics records nothing.
 */
export class Metrics {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  readonly proxy: ProxyMetrics;
  readonly caches: CacheMetrics;
  readonly keyBackend: KeyBackendMetrics;

  constructor() {
    this.registry = new Registry();
    // NOTE: prom-client 15 has no way to stop the garbage collection observer and the event loop
    // delay monitor that these default metrics start, so they run until the process exits. That
    // matters only to a process that builds many servers, such as a test run.
    collectDefaultMetrics({ register: this.registry, prefix: 'keyroute_' });
    this.http = new HttpMetrics(this.registry);
    this.proxy = new ProxyMetrics(this.registry);
    this.caches = new CacheMetrics(this.registry);
    this.keyBackend = new KeyBackendMetrics(this.registry);
  }

  /** Adds the request log writer's queue, write and drop counts, read at each scrape. */
  observeRequestLog(writer: { readonly stats: RequestLogStats }): void {
    registerRequestLogMetrics(this.registry, writer);
  }

  /** Adds the database kind and, on PostgreSQL, the connection pool gauges, read at each scrape. */
  observeDatabase(database: Pick<DatabaseHandle, 'kind' | 'pool'>): void {
    registerDatabaseMetrics(this.registry, database);
  }
}
