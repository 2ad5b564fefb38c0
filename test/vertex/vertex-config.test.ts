import { describe, expect, it } from 'vitest';
import { toVertexTokenConfig, vertexEnvironment } from '../../src/config/vertex.config.js';

describe('Vertex token configuration', () => {
  it('has documented defaults', () => {
    expect(toVertexTokenConfig(vertexEnvironment.parse({}))).toEqual({
      refreshMarginMs: 300_000,
      maxEntries: 10_000,
      retryIntervalMs: 5_000,
      timeoutMs: 10_000,
    });
  });

  it('reads every variable', () => {
    const config = toVertexTokenConfig(
      vertexEnvironment.parse({
        VERTEX_TOKEN_REFRESH_MARGIN_MS: '60000',
        VERTEX_TOKEN_CACHE_MAX_ENTRIES: '50',
        VERTEX_TOKEN_RETRY_INTERVAL_MS: '250',
        VERTEX_TOKEN_TIMEOUT_MS: '3000',
      }),
    );
    expect(config).toEqual({ refreshMarginMs: 60_000, maxEntries: 50, retryIntervalMs: 250, timeoutMs: 3_000 });
  });

  it('rejects a margin over 30 minutes', () => {
    const result = vertexEnvironment.safeParse({ VERTEX_TOKEN_REFRESH_MARGIN_MS: '3600000' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('expected an integer from 0 to 1800000 (milliseconds), got "3600000"');
  });

  it('rejects an empty cache', () => {
    expect(vertexEnvironment.safeParse({ VERTEX_TOKEN_CACHE_MAX_ENTRIES: '0' }).success).toBe(false);
  });
});
