import { describe, expect, it } from 'vitest';
import { proxyDirectoryEnvironment, toProxyDirectoryConfig } from '../../src/config/proxy-directory.config.js';

describe('proxy directory configuration', () => {
  it('has documented defaults', () => {
    const config = toProxyDirectoryConfig(proxyDirectoryEnvironment.parse({}));

    expect(config).toEqual({
      keyCache: { maxEntries: 100_000, maxAgeMs: 300_000 },
      unknownKeyCache: { maxEntries: 10_000, maxAgeMs: 10_000 },
      credentialCache: { maxEntries: 10_000, maxAgeMs: 900_000, retryIntervalMs: 5_000 },
      changeCheckIntervalMs: 1_000,
      platformCredentialsFile: undefined,
    });
  });

  it('reads every variable', () => {
    const config = toProxyDirectoryConfig(
      proxyDirectoryEnvironment.parse({
        PROXY_KEY_CACHE_MAX_ENTRIES: '5',
        PROXY_KEY_CACHE_MAX_AGE_MS: '2000',
        PROXY_UNKNOWN_KEY_CACHE_MAX_ENTRIES: '6',
        PROXY_UNKNOWN_KEY_CACHE_MAX_AGE_MS: '3000',
        PROXY_CREDENTIAL_CACHE_MAX_ENTRIES: '7',
        PROXY_CREDENTIAL_CACHE_MAX_AGE_MS: '4000',
        PROXY_CREDENTIAL_RETRY_INTERVAL_MS: '500',
        PROXY_CHANGE_CHECK_INTERVAL_MS: '250',
        PLATFORM_CREDENTIALS_FILE: ' /etc/keyroute/platform.json ',
      }),
    );

    expect(config).toEqual({
      keyCache: { maxEntries: 5, maxAgeMs: 2_000 },
      unknownKeyCache: { maxEntries: 6, maxAgeMs: 3_000 },
      credentialCache: { maxEntries: 7, maxAgeMs: 4_000, retryIntervalMs: 500 },
      changeCheckIntervalMs: 250,
      platformCredentialsFile: '/etc/keyroute/platform.json',
    });
  });

  it('names the variable of an invalid value', () => {
    const result = proxyDirectoryEnvironment.safeParse({ PROXY_CHANGE_CHECK_INTERVAL_MS: '10' });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['PROXY_CHANGE_CHECK_INTERVAL_MS']);
    expect(result.error?.issues[0]?.message).toContain('expected an integer from 100 to 60000 (milliseconds), got "10"');
  });
});
