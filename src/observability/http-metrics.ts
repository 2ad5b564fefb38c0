import type { Registry } from 'prom-client';
import { requestDurationBuckets } from './buckets.js';
import { CounterFamily, HistogramFamily, type CounterCell, type HistogramCell } from './metric-families.js';

/**
 * The `route` label of each path that has one. Every other path, such as a mistyped one under
 * `/v1/`, is `other`, so that clients cannot add label values by inventing paths. The proxy paths
 * are those of the proxy route table.
 */
const routeByPath: ReadonlyMap<string, string> = new Map([
  ['/graphql', 'graphql'],
  ['/healthz', 'healthz'],
  ['/readyz', 'readyz'],
  ['/metrics', 'metrics'],
  ['/v1/chat/completions', 'chat_completions'],
  ['/v1/messages', 'messages'],
  ['/v1/messages/count_tokens', 'count_tokens'],
  ['/v1/models', 'models'],
]);

const exportPathPrefix = '/export/';

/** Returns the bounded `route` label value of a request path (without its query string). */
export function routeLabel(path: string): string {
  const route = routeByPath.get(path);
  if (route !== undefined) return route;
  return path.startsWith(exportPathPrefix) ? 'export' : 'other';
}

/** Counts HTTP requests by route and status, and times them by route. */
export class HttpMetrics {
  readonly #requests: CounterFamily<'route' | 'status'>;
  readonly #duration: HistogramFamily<'route'>;
  /** Cells by route, then by status, bound on first use so that an observation builds no key. */
  readonly #routes = new Map<string, { duration: HistogramCell; requests: Map<number, CounterCell> }>();

  constructor(registry: Registry) {
    this.#requests = new CounterFamily({
      name: 'keyroute_http_requests_total',
      help: 'HTTP requests served, by route and status code (499 when the client closed the connection first).',
      labelNames: ['route', 'status'],
      registers: [registry],
    });
    this.#duration = new HistogramFamily({
      name: 'keyroute_http_request_duration_seconds',
      help: 'Time from the arrival of an HTTP request to the end of its response, by route.',
      labelNames: ['route'],
      buckets: requestDurationBuckets,
      registers: [registry],
    });
  }

  /** Records one finished request. `path` has no query string; `status` is 100 to 599, or 499. */
  observe(path: string, status: number, durationSeconds: number): void {
    const route = routeLabel(path);
    let cells = this.#routes.get(route);
    if (cells === undefined) {
      cells = { duration: this.#duration.cell({ route }), requests: new Map() };
      this.#routes.set(route, cells);
    }
    let requests = cells.requests.get(status);
    if (requests === undefined) {
      requests = this.#requests.cell({ route, status: String(status) });
      cells.requests.set(status, requests);
    }
    requests.inc();
    cells.duration.observe(durationSeconds);
  }
}
