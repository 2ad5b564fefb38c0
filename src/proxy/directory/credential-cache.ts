import { CryptoError } from '../../crypto/errors.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Credentials } from '../../features/provider-keys/credentials.js';
import { credentialsPurpose } from '../../features/provider-keys/provider-key.service.js';
import type { Logger } from '../../logger.js';
import type { ProxyCacheObserver } from '../../observability/cache-metrics.js';
import { deepFreeze } from './deep-freeze.js';
import { LruMap } from './expiring-lru-cache.js';
import { SingleFlight } from './single-flight.js';

/** A provider key's encrypted credentials at one credentials version. */
export interface StoredCredentials {
  organizationId: string;
  providerKeyId: string;
  credentialsVersion: number;
  envelope: Buffer;
}

interface CredentialEntry {
  credentialsVersion: number;
  /** The plaintext; undefined after a non-retryable failure, so that nothing can serve it again. */
  credentials: Credentials | undefined;
  decryptedAt: number;
  lastUsedAt: number;
  /** Set by `expireAll`: the next use decrypts again, whatever the entry's age. */
  expired: boolean;
  /** The last decrypt failed: uses get its error, or the stale plaintext, without a decrypt until `retryAt`. */
  failure: { error: CryptoError; retryAt: number } | undefined;
}

export interface CredentialCacheOptions {
  secretBox: SecretBox;
  maxEntries: number;
  /** Age in milliseconds after which the next use decrypts the envelope again. */
  maxAgeMs: number;
  /** Milliseconds between decrypt attempts for one key after a failure. */
  retryIntervalMs: number;
  /** A monotonic clock in milliseconds. */
  now: () => number;
  logger: Logger;
  /** Receives every lookup's outcome, for metrics. */
  observer?: ProxyCacheObserver | undefined;
}

/**
 * Decrypted provider credentials, in memory only, one entry per provider key. An entry is valid
 * for one credentials version: a credentials change bumps the version, so a cached plaintext can
 * never stand for newer credentials, and needs no invalidation when the key changes otherwise.
 *
 * At most one decrypt per key and version runs at a time. When a refresh after the maximum age
 * fails with a retryable CryptoError (network failure, timeout, throttling), uses get the plaintext
 * decrypted before, and one decrypt per retry interval runs in the background until one succeeds.
 * A non-retryable failure (access denied, disabled key, a modified envelope) drops the plaintext.
 */
export class CredentialCache {
  readonly #entries: LruMap<string, CredentialEntry>;
  readonly #decrypts = new SingleFlight<string, Credentials>();
  /** Increments when entries are deleted, so a decrypt that was running then does not store its result. */
  #generation = 0;

  constructor(private readonly options: CredentialCacheOptions) {
    this.#entries = new LruMap(options.maxEntries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Returns the plaintext credentials, deeply frozen. Rejects with the CryptoError of a failed decrypt. */
  async get(stored: StoredCredentials): Promise<Credentials> {
    const now = this.options.now();
    const observer = this.options.observer;
    const entry = this.#entries.get(entryKey(stored));
    if (entry === undefined || entry.credentialsVersion !== stored.credentialsVersion) {
      observer?.recordLookup('credential', 'miss');
      return this.#refresh(stored);
    }
    entry.lastUsedAt = now;

    const { failure, credentials } = entry;
    if (failure === undefined) {
      const fresh = !entry.expired && now - entry.decryptedAt < this.options.maxAgeMs;
      if (fresh && credentials !== undefined) {
        observer?.recordLookup('credential', 'hit');
        return credentials;
      }
      observer?.recordLookup('credential', 'miss');
      return this.#refresh(stored);
    }
    // No usable plaintext: a remembered failure is a miss too, whether it is rethrown or retried.
    if (credentials === undefined) {
      observer?.recordLookup('credential', 'miss');
      if (now < failure.retryAt) throw failure.error;
      return this.#refresh(stored);
    }
    observer?.recordLookup('credential', 'stale');
    // The key backend failed with a retryable error before: serve the stale plaintext at once
    // rather than make each request wait for a backend that times out, and retry in the background.
    // NOTE: a stale entry has no age limit. It is served for as long as every retry fails with a
    // retryable error and requests keep using it.
    if (now >= failure.retryAt) {
      failure.retryAt = now + this.options.retryIntervalMs;
      this.#refresh(stored).catch((error: unknown) => {
        // CryptoErrors were logged where they were recorded.
        if (error instanceof CryptoError) return;
        this.options.logger.error(
          { err: error, providerKeyId: stored.providerKeyId },
          `Refreshing the credentials of provider key ${stored.providerKeyId} failed`,
        );
      });
    }
    return credentials;
  }

  /** Makes the next use of every entry decrypt again. The plaintext stays only as the fallback for retryable failures. */
  expireAll(): void {
    for (const entry of this.#entries.values()) entry.expired = true;
  }

  /** Drops the plaintext of a deleted provider key. */
  deleteProviderKey(organizationId: string, providerKeyId: string): void {
    this.#generation += 1;
    this.#entries.delete(entryKey({ organizationId, providerKeyId }));
  }

  /** Drops entries unused for the maximum age, such as those of keys deleted while no notification arrived. */
  sweep(): number {
    const oldest = this.options.now() - this.options.maxAgeMs;
    return this.#entries.deleteWhere((entry) => entry.lastUsedAt <= oldest);
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
    this.#decrypts.forgetAll();
  }

  #refresh(stored: StoredCredentials): Promise<Credentials> {
    const flightKey = `${entryKey(stored)}/${stored.credentialsVersion}`;
    return this.#decrypts.run(flightKey, () => this.#decryptAndStore(stored));
  }

  async #decryptAndStore(stored: StoredCredentials): Promise<Credentials> {
    const key = entryKey(stored);
    const generation = this.#generation;
    let credentials: Credentials;
    try {
      credentials = await this.#decrypt(stored);
    } catch (error) {
      if (!(error instanceof CryptoError)) throw error;
      return this.#recordFailure(stored, error, generation === this.#generation);
    }

    const now = this.options.now();
    if (generation === this.#generation) {
      this.#entries.set(key, {
        credentialsVersion: stored.credentialsVersion,
        credentials,
        decryptedAt: now,
        lastUsedAt: now,
        expired: false,
        failure: undefined,
      });
    }
    return credentials;
  }

  async #decrypt(stored: StoredCredentials): Promise<Credentials> {
    const plaintext = await this.options.secretBox.decrypt(stored.envelope, {
      organizationId: stored.organizationId,
      recordId: stored.providerKeyId,
      purpose: credentialsPurpose,
    });
    try {
      return deepFreeze(JSON.parse(plaintext.toString('utf8')) as Credentials);
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Returns the stale plaintext after a retryable failure when there is one, and throws `error`
   * otherwise. Either way the failure is kept until the retry interval has passed.
   */
  #recordFailure(stored: StoredCredentials, error: CryptoError, store: boolean): Credentials {
    const now = this.options.now();
    const key = entryKey(stored);
    const previous = this.#entries.get(key);
    const stale =
      error.retryable && previous?.credentialsVersion === stored.credentialsVersion ? previous.credentials : undefined;
    if (store) {
      this.#entries.set(key, {
        credentialsVersion: stored.credentialsVersion,
        credentials: stale,
        decryptedAt: previous?.decryptedAt ?? now,
        lastUsedAt: now,
        expired: true,
        failure: { error, retryAt: now + this.options.retryIntervalMs },
      });
    }

    const fields = { providerKeyId: stored.providerKeyId, code: error.code, retryable: error.retryable, retryInMs: this.options.retryIntervalMs };
    if (stale !== undefined) {
      this.options.logger.warn(
        { ...fields, ageMs: Math.round(now - previous!.decryptedAt) },
        `Decrypting the credentials of provider key ${stored.providerKeyId} failed with ${error.code}; serving the copy decrypted earlier until a retry succeeds`,
      );
      return stale;
    }
    this.options.logger.warn(fields, `Decrypting the credentials of provider key ${stored.providerKeyId} failed with ${error.code}`);
    throw error;
  }
}

function entryKey(key: { organizationId: string; providerKeyId: string }): string {
  return `${key.organizationId}/${key.providerKeyId}`;
}
