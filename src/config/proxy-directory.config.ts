import { z } from 'zod';
import { integer } from './fields.js';

/**
 * Environment variables of the proxy's directory: the in-memory caches of gateway keys, credential
 * assignments and decrypted provider credentials, how often it checks for missed changes, and the
 * operator's platform credentials.
 */
export const proxyDirectoryEnvironment = z.object({
  PROXY_KEY_CACHE_MAX_ENTRIES: integer({ default: 100_000, min: 1, max: 10_000_000, unit: 'gateway keys' }),
  PROXY_KEY_CACHE_MAX_AGE_MS: integer({ default: 300_000, min: 1_000, max: 86_400_000, unit: 'milliseconds' }),
  PROXY_UNKNOWN_KEY_CACHE_MAX_ENTRIES: integer({ default: 10_000, min: 1, max: 1_000_000, unit: 'secrets' }),
  PROXY_UNKNOWN_KEY_CACHE_MAX_AGE_MS: integer({ default: 10_000, min: 100, max: 3_600_000, unit: 'milliseconds' }),
  PROXY_CREDENTIAL_CACHE_MAX_ENTRIES: integer({ default: 10_000, min: 1, max: 1_000_000, unit: 'provider keys' }),
  PROXY_CREDENTIAL_CACHE_MAX_AGE_MS: integer({ default: 900_000, min: 1_000, max: 86_400_000, unit: 'milliseconds' }),
  PROXY_CREDENTIAL_RETRY_INTERVAL_MS: integer({ default: 5_000, min: 100, max: 3_600_000, unit: 'milliseconds' }),
  PROXY_CHANGE_CHECK_INTERVAL_MS: integer({ default: 1_000, min: 100, max: 60_000, unit: 'milliseconds' }),
  PLATFORM_CREDENTIALS_FILE: z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim())),
});

export type ProxyDirectoryEnvironment = z.output<typeof proxyDirectoryEnvironment>;

export interface CacheLimits {
  maxEntries: number;
  /** Age in milliseconds after which an entry is loaded again. */
  maxAgeMs: number;
}

export interface ProxyDirectoryConfig {
  /** Gateway keys by secret hash, and the provider keys that can serve each gateway key. */
  keyCache: CacheLimits;
  /** Secrets that matched no gateway key. Short-lived and bounded, so random secrets cannot fill memory. */
  unknownKeyCache: CacheLimits;
  /** Decrypted provider credentials. Size it to hold every provider key in use. */
  credentialCache: CacheLimits & {
    /**
     * Interval in milliseconds between two decrypt attempts for one key while the key backend
     * fails. Requests in between get the last decrypted value after a retryable failure, and the
     * failure itself otherwise.
     */
    retryIntervalMs: number;
  };
  /** Interval in milliseconds of the change sequence check that catches missed notifications. */
  changeCheckIntervalMs: number;
  /** JSON file mapping provider ids to the operator's own credentials. Undefined for none. */
  platformCredentialsFile: string | undefined;
}

/** Builds the settings from a successfully validated environment. */
export function toProxyDirectoryConfig(environment: ProxyDirectoryEnvironment): ProxyDirectoryConfig {
  return {
    keyCache: { maxEntries: environment.PROXY_KEY_CACHE_MAX_ENTRIES, maxAgeMs: environment.PROXY_KEY_CACHE_MAX_AGE_MS },
    unknownKeyCache: {
      maxEntries: environment.PROXY_UNKNOWN_KEY_CACHE_MAX_ENTRIES,
      maxAgeMs: environment.PROXY_UNKNOWN_KEY_CACHE_MAX_AGE_MS,
    },
    credentialCache: {
      maxEntries: environment.PROXY_CREDENTIAL_CACHE_MAX_ENTRIES,
      maxAgeMs: environment.PROXY_CREDENTIAL_CACHE_MAX_AGE_MS,
      retryIntervalMs: environment.PROXY_CREDENTIAL_RETRY_INTERVAL_MS,
    },
    changeCheckIntervalMs: environment.PROXY_CHANGE_CHECK_INTERVAL_MS,
    platformCredentialsFile: environment.PLATFORM_CREDENTIALS_FILE,
  };
}
