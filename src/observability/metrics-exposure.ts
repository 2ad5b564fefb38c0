import type { MetricsConfig } from '../config/metrics.config.js';
import type { Logger } from '../logger.js';
import { MetricsListener } from './metrics-listener.js';
import { createMetricsForbiddenRoute, createMetricsRoute, type MetricsRoute } from './metrics-route.js';
import type { Metrics } from './metrics.js';

export interface MetricsExposure {
  /** The handler of `/metrics` on the main port; undefined means 404 there. */
  mainRoute: MetricsRoute | undefined;
  /** The listener of its own, when METRICS_PORT is set; not listening yet. */
  listener: MetricsListener | undefined;
}

/**
 * Decides where `/metrics` is served. With METRICS_PORT, on a listener of its own and nowhere else;
 * otherwise on the main port, behind METRICS_BEARER_TOKEN, or rejected with 403 when no token is
 * set. The token, when set, is required on either listener.
 */
export function createMetricsExposure(config: MetricsConfig, metrics: Metrics | undefined, logger: Logger): MetricsExposure {
  if (metrics === undefined) return { mainRoute: undefined, listener: undefined };

  const route = createMetricsRoute({ registry: metrics.registry, bearerTokenSha256: config.bearerTokenSha256 });
  if (config.listener !== undefined) {
    const listener = new MetricsListener({ ...config.listener, route, httpMetrics: metrics.http, logger });
    return { mainRoute: undefined, listener };
  }
  if (config.bearerTokenSha256 !== undefined) return { mainRoute: route, listener: undefined };
  logger.info('Metrics are collected, but /metrics responds with 403 until METRICS_BEARER_TOKEN or METRICS_PORT is set');
  return { mainRoute: createMetricsForbiddenRoute(), listener: undefined };
}
