import { parsePrometheusText, type MetricFamily } from './prometheus-text.js';

/** A METRICS_BEARER_TOKEN for tests: 32 printable characters. */
export const metricsToken = 'metrics-test-token-0123456789abc';

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  families: Map<string, MetricFamily>;
}

/** Fetches `/metrics` from `origin` with `token` (null for none), and parses the body strictly when the status is 200. */
export async function scrape(origin: string, token: string | null): Promise<Scrape> {
  const response = await fetch(`${origin}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text,
    families: response.status === 200 ? parsePrometheusText(text) : new Map(),
  };
}
