import type { Registry } from 'prom-client';
import { CounterFamily, type CounterCell } from './metric-families.js';

/** The proxy's in-memory caches: gateway keys by secret, credential assignments per gateway key, decrypted credentials. */
export type ProxyCacheName = 'gateway_key' | 'assignment' | 'credential';

/**
 * Outcome of one cache lookup. `stale` is a credential served from memory after a retryable key
 * backend failure, past the point where it would normally be decrypted again.
 */
export type CacheLookupResult = 'hit' | 'miss' | 'stale';

/** Receiver of the proxy caches' lookup outcomes. Optional everywhere, so components built without metrics need none. */
export interface ProxyCacheObserver {
  recordLookup(cache: ProxyCacheName, result: CacheLookupResult): void;
}

const cacheNames: readonly ProxyCacheName[] = ['gateway_key', 'assignment', 'credential'];

/** Counts lookups in the proxy's caches by cache and result. */
export class CacheMetrics implements ProxyCacheObserver {
  /** Pre-bound children by cache and result; plain property reads are the cheapest lookup per request. */
  readonly #children = {} as Record<ProxyCacheName, Record<CacheLookupResult, CounterCell>>;

  constructor(registry: Registry) {
    const lookups = new CounterFamily({
      name: 'keyroute_proxy_cache_lookups_total',
      help:
        'Lookups in the proxy caches by cache (gateway_key, assignment, credential) and result: hit, miss (loaded from ' +
        'the database, decrypted, or a decrypt failure remembered), or stale (a credential served after a retryable key backend failure).',
      labelNames: ['cache', 'result'],
      registers: [registry],
    });
    for (const cache of cacheNames) {
      this.#children[cache] = {
        hit: lookups.cell({ cache, result: 'hit' }),
        miss: lookups.cell({ cache, result: 'miss' }),
        stale: lookups.cell({ cache, result: 'stale' }),
      };
    }
  }

  recordLookup(cache: ProxyCacheName, result: CacheLookupResult): void {
    this.#children[cache][result].inc();
  }
}
