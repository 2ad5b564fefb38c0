import { z } from 'zod';
import { integer } from './fields.js';

/**
 * Environment variables of the Google Vertex AI access tokens: how early a cached token is
 * replaced, how many are cached, how often a failed token request is retried, and how long one may
 * take.
 */
export const vertexEnvironment = z.object({
  // Google issues tokens valid for one hour. google-auth-library also refreshes 5 minutes early
  // (its eagerRefreshThresholdMillis). The margin is capped at half of a token's lifetime.
  VERTEX_TOKEN_REFRESH_MARGIN_MS: integer({ default: 300_000, min: 0, max: 1_800_000, unit: 'milliseconds' }),
  // One token per Vertex provider key in use, so size it like PROXY_CREDENTIAL_CACHE_MAX_ENTRIES.
  VERTEX_TOKEN_CACHE_MAX_ENTRIES: integer({ default: 10_000, min: 1, max: 1_000_000, unit: 'provider keys' }),
  VERTEX_TOKEN_RETRY_INTERVAL_MS: integer({ default: 5_000, min: 100, max: 600_000, unit: 'milliseconds' }),
  VERTEX_TOKEN_TIMEOUT_MS: integer({ default: 10_000, min: 100, max: 120_000, unit: 'milliseconds' }),
});

export type VertexEnvironment = z.output<typeof vertexEnvironment>;

export interface VertexTokenConfig {
  /** Milliseconds before a token's expiry at which the next use obtains a new one. */
  refreshMarginMs: number;
  /** Maximum number of provider keys whose token is cached. The least recently used is evicted first. */
  maxEntries: number;
  /**
   * Milliseconds during which a failed token request is not repeated for the same key. Uses in
   * between get the token obtained earlier while it is valid, or the failure.
   */
  retryIntervalMs: number;
  /** Maximum time in milliseconds of one request to Google's token endpoint. */
  timeoutMs: number;
}

/** Builds the settings from a successfully validated environment. */
export function toVertexTokenConfig(environment: VertexEnvironment): VertexTokenConfig {
  return {
    refreshMarginMs: environment.VERTEX_TOKEN_REFRESH_MARGIN_MS,
    maxEntries: environment.VERTEX_TOKEN_CACHE_MAX_ENTRIES,
    retryIntervalMs: environment.VERTEX_TOKEN_RETRY_INTERVAL_MS,
    timeoutMs: environment.VERTEX_TOKEN_TIMEOUT_MS,
  };
}
