import { Counter, Histogram, type Registry } from 'prom-client';
import { requestDurationBuckets } from './buckets.js';

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
  readonly #requests: Counter<'route' | 'status'>;
  readonly #duration: Histogram<'route'>;
  /** Pre-bound children keyed by `route status`, so that an observation builds no label object. */
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(registry: Registry) {
    this.#requests = new Counter({
      name: 'keyroute_http_requests_total',
      help: 'HTTP requests served, by route and status code (499 when the client closed the connection first).',
      labelNames: ['route', 'status'],
      registers: [registry],
    });
    this.#duration = new Histogram({
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
    const key = `${route} ${status}`;
    let counter = this.#requestChildren.get(key);
    if (counter === undefined) {
      counter = this.#requests.labels(route, String(status));
      this.#requestChildren.set(key, counter);
    }
    counter.inc();

    let duration = this.#durationChildren.get(route);
    if (duration === undefined) {
      duration = this.#duration.labels(route);
      this.#durationChildren.set(route, duration);
    }
    duration.observe(durationSeconds);
  }
}
