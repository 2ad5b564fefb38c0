import type { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { ProxyDirectoryConfig } from '../../config/proxy-directory.config.js';
import { CryptoError } from '../../crypto/errors.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import { readChangeSequence, type ChangeNotification } from '../../db/change-notification.js';
import type { DatabaseHandle } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { Credentials } from '../../features/provider-keys/credentials.js';
import { resolveCredential } from '../../features/provider-keys/resolution.js';
import { defaultSettings } from '../../features/provider-keys/settings.js';
import type { Logger } from '../../logger.js';
import type { ProxyCacheObserver } from '../../observability/cache-metrics.js';
import type { ProviderId } from '../../providers/providers.js';
import { hashSecretBase64, secretPrefixes } from '../../security/secrets.js';
import type { ChangeListener, ChangeListenerHandlers } from './change-listener.js';
import { CredentialCache } from './credential-cache.js';
import { deepFreeze } from './deep-freeze.js';
import { ExpiringLruCache } from './expiring-lru-cache.js';
import { PgliteChangeListener } from './pglite-change-listener.js';
import { loadPlatformCredentials, type PlatformCredentials } from './platform-credentials.js';
import { PostgresChangeListener } from './postgres-change-listener.js';
import {
  findGatewayKeyBySecretHash,
  findPlatformCredentialsAllowed,
  loadDirectoryCandidates,
  type AuthenticatedGatewayKey,
  type DirectoryCandidate,
} from './proxy-directory.repository.js';
import { SingleFlight } from './single-flight.js';

export type { AuthenticatedGatewayKey } from './proxy-directory.repository.js';

/**
 * The credential that serves a request, as the resolution rules decide it. It is a provider key or
 * the platform credentials to use, a disabled provider key to name in a 403, no credential at all
 * (400), or a chosen provider key that cannot be decrypted now (503).
 */
export type Resolved =
  | {
      kind: 'use';
      source: 'GATEWAY_KEY' | 'ORGANIZATION';
      providerKeyId: string;
      credentials: Credentials;
      settings: Record<string, unknown>;
      credentialsVersion: number;
    }
  | { kind: 'use'; source: 'PLATFORM'; providerKeyId: null; credentials: Credentials; settings: Record<string, unknown> }
  | { kind: 'disabled'; source: 'GATEWAY_KEY' | 'ORGANIZATION'; providerKeyId: string; name: string }
  | { kind: 'none' }
  | {
      kind: 'unavailable';
      source: 'GATEWAY_KEY' | 'ORGANIZATION';
      providerKeyId: string;
      /** The CryptoError code, such as `key_backend_timeout` or `decryption_failed`. */
      code: string;
      retryable: boolean;
    };

export interface ProxyDirectoryOptions {
  db: Kysely<Database>;
  /** On PostgreSQL: the listener connection uses the pool's connection settings, outside the pool. */
  pool?: pg.Pool;
  /** On the embedded database: notifications arrive on its one session. */
  pglite?: PGlite;
  secretBox: SecretBox;
  logger: Logger;
  config: ProxyDirectoryConfig;
  /**
   * `application_name` of the listener connection, which identifies it in `pg_stat_activity`.
   * @default 'keyroute-listener'
   */
  listenerApplicationName?: string;
  /** Milliseconds before the first listener reconnect attempt, doubling per failure up to 5 s. @default 100 */
  listenerReconnectDelayMs?: number;
  /** A monotonic clock in milliseconds, replaceable in tests. @default performance.now */
  now?: () => number;
  /** Receives every cache hit and miss, for metrics. */
  cacheObserver?: ProxyCacheObserver | undefined;
}

/** The provider keys that can serve one gateway key, and whether its organization may use platform credentials. */
interface CandidateSet {
  organizationId: string;
  platformCredentialsAllowed: boolean;
  keys: readonly DirectoryCandidate[];
}

// Gateway key secrets are `kr_` and base64url (secrets.ts generateSecret). Anything else cannot
// match a key, so it is rejected without a query and without taking a cache entry.
const gatewayKeySecretPattern = new RegExp(`^${secretPrefixes.gatewayKey}[A-Za-z0-9_-]{16,128}$`);

/**
 * What the proxy needs per request, from memory at steady state: the gateway key for a secret,
 * and the credential that serves it for a provider.
 *
 * Caches: gateway keys by secret hash, and for a short time the secrets that matched none. Per
 * gateway key, the provider keys that could serve it, with their enabled flags. Decrypted
 * credentials per provider key and credentials version (see CredentialCache). Every cache is
 * bounded by entry count and by entry age, and concurrent misses for one entry share one load.
 *
 * Invalidation: writers call `notifyChange` in their transactions, which increments the change
 * sequence and sends a notification. A dedicated listener evicts what each change affects, and
 * flushes everything when it reconnects after losing its connection. A periodic check flushes
 * everything when the sequence moved past the last notification seen, which also covers the time
 * while the listener is disconnected. A change therefore takes effect here within about one check
 * interval, also when notifications are lost.
 */
export class ProxyDirectory {
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #gatewayKeys: ExpiringLruCache<string, AuthenticatedGatewayKey>;
  readonly #unknownKeys: ExpiringLruCache<string, true>;
  readonly #candidates: ExpiringLruCache<string, CandidateSet>;
  readonly #credentials: CredentialCache;
  readonly #cacheObserver: ProxyCacheObserver | undefined;
  readonly #keyLoads = new SingleFlight<string, AuthenticatedGatewayKey | undefined>();
  readonly #candidateLoads = new SingleFlight<string, CandidateSet>();
  #platformCredentials: PlatformCredentials = new Map();
  #listener: ChangeListener | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  #check: Promise<void> | undefined;
  #checkFailing = false;
  #started = false;
  /** The highest change sequence value whose change these caches reflect; undefined while unknown. */
  #knownSequence: number | undefined;
  /** Increments on every invalidation, so a load that was running then does not store its result. */
  #generation = 0;

  constructor(private readonly options: ProxyDirectoryOptions) {
    const { config } = options;
    this.#db = options.db;
    this.#logger = options.logger.child({ component: 'proxy-directory' });
    this.#now = options.now ?? (() => performance.now());
    this.#cacheObserver = options.cacheObserver;
    this.#gatewayKeys = new ExpiringLruCache(config.keyCache, this.#now);
    this.#unknownKeys = new ExpiringLruCache(config.unknownKeyCache, this.#now);
    this.#candidates = new ExpiringLruCache(config.keyCache, this.#now);
    this.#credentials = new CredentialCache({
      secretBox: options.secretBox,
      maxEntries: config.credentialCache.maxEntries,
      maxAgeMs: config.credentialCache.maxAgeMs,
      retryIntervalMs: config.credentialCache.retryIntervalMs,
      now: this.#now,
      logger: this.#logger,
      observer: options.cacheObserver,
    });
  }

  /** True while change notifications can arrive. False before start, after stop and while reconnecting. */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  /**
   * Loads the platform credentials, starts listening for changes and the periodic check. Rejects
   * with PlatformCredentialsError for an unusable PLATFORM_CREDENTIALS_FILE, or with the database
   * error when the listener cannot connect.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#platformCredentials = await loadPlatformCredentials(this.options.config.platformCredentialsFile);
    for (const credentials of this.#platformCredentials.values()) deepFreeze(credentials);
    if (this.#platformCredentials.size > 0) {
      this.#logger.info({ providers: [...this.#platformCredentials.keys()] }, 'Platform credentials loaded');
    }

    this.#listener = this.#createListener();
    if (this.#listener) await this.#listener.start();
    else this.#logger.warn('No change listener for this database; changes take effect at the next change sequence check');
    try {
      this.#knownSequence = await readChangeSequence(this.#db);
    } catch (error) {
      await this.#listener?.stop();
      throw error;
    }

    this.#checkTimer = setInterval(() => void this.#checkChanges(), this.options.config.changeCheckIntervalMs);
    this.#checkTimer.unref();
    this.#started = true;
  }

  /** Stops listening and checking, and drops every cached entry. */
  async stop(): Promise<void> {
    this.#started = false;
    clearInterval(this.#checkTimer);
    await this.#listener?.stop();
    await this.#check;
    this.#clear();
  }

  /**
   * Returns the gateway key whose secret this is, inactive and expired keys included so the caller
   * can say why it rejects them, or undefined when no key has this secret.
   */
  async authenticate(secret: string): Promise<AuthenticatedGatewayKey | undefined> {
    this.#assertStarted();
    if (!gatewayKeySecretPattern.test(secret)) return undefined;
    const cacheKey = hashSecretBase64(secret);
    const cached = this.#gatewayKeys.get(cacheKey);
    if (cached) {
      this.#cacheObserver?.recordLookup('gateway_key', 'hit');
      return cached;
    }
    if (this.#unknownKeys.get(cacheKey)) {
      this.#cacheObserver?.recordLookup('gateway_key', 'hit');
      return undefined;
    }
    this.#cacheObserver?.recordLookup('gateway_key', 'miss');

    return this.#keyLoads.run(cacheKey, async () => {
      const generation = this.#generation;
      const found = await findGatewayKeyBySecretHash(this.#db, Buffer.from(cacheKey, 'base64'));
      const gatewayKey = found && deepFreeze(found);
      if (generation === this.#generation) {
        if (gatewayKey) this.#gatewayKeys.set(cacheKey, gatewayKey);
        else this.#unknownKeys.set(cacheKey, true);
      }
      return gatewayKey;
    });
  }

  /**
   * Decides which credential serves `gatewayKey` for `provider`. The first matching rule wins: a
   * provider key assigned to the gateway key, then the organization-wide key, then the platform
   * credentials if the operator configured them for the provider and the organization may use
   * them. A disabled key in the first two rules stops the search. So does a chosen key whose
   * credentials cannot be decrypted, which is `unavailable` and never falls through to a later rule.
   */
  async resolve(gatewayKey: AuthenticatedGatewayKey, provider: ProviderId): Promise<Resolved> {
    this.#assertStarted();
    const candidates = await this.#candidatesFor(gatewayKey);
    const platformCredentials = this.#platformCredentials.get(provider);
    const resolution = resolveCredential({
      gatewayKeyId: gatewayKey.id,
      provider,
      candidates: candidates.keys,
      platformCredentialsAllowed: candidates.platformCredentialsAllowed && platformCredentials !== undefined,
    });

    if (resolution.outcome === 'NONE') return { kind: 'none' };
    if (resolution.source === 'PLATFORM') {
      return { kind: 'use', source: 'PLATFORM', providerKeyId: null, credentials: platformCredentials!, settings: defaultSettings(provider) };
    }
    const { source, providerKeyId } = resolution;
    const key = candidates.keys.find((candidate) => candidate.providerKeyId === providerKeyId)!;
    if (resolution.outcome === 'DISABLED') return { kind: 'disabled', source, providerKeyId, name: key.name };

    let credentials: Credentials;
    try {
      credentials = await this.#credentials.get({
        organizationId: gatewayKey.organizationId,
        providerKeyId,
        credentialsVersion: key.credentialsVersion,
        envelope: key.envelope,
      });
    } catch (error) {
      // The credential cache logged the failure with the key id.
      if (error instanceof CryptoError) return { kind: 'unavailable', source, providerKeyId, code: error.code, retryable: error.retryable };
      throw error;
    }
    return {
      kind: 'use',
      source,
      providerKeyId,
      credentials,
      settings: key.settings,
      credentialsVersion: key.credentialsVersion,
    };
  }

  async #candidatesFor(gatewayKey: AuthenticatedGatewayKey): Promise<CandidateSet> {
    const cached = this.#candidates.get(gatewayKey.id);
    if (cached && cached.organizationId === gatewayKey.organizationId) {
      this.#cacheObserver?.recordLookup('assignment', 'hit');
      return cached;
    }
    this.#cacheObserver?.recordLookup('assignment', 'miss');

    return this.#candidateLoads.run(gatewayKey.id, async () => {
      const generation = this.#generation;
      const [keys, platformCredentialsAllowed] = await Promise.all([
        loadDirectoryCandidates(this.#db, gatewayKey.organizationId, gatewayKey.id),
        findPlatformCredentialsAllowed(this.#db, gatewayKey.organizationId),
      ]);
      const candidates: CandidateSet = { organizationId: gatewayKey.organizationId, platformCredentialsAllowed, keys };
      if (generation === this.#generation) this.#candidates.set(gatewayKey.id, candidates);
      return candidates;
    });
  }

  #createListener(): ChangeListener | undefined {
    const handlers: ChangeListenerHandlers = {
      onChange: (notification) => this.#onChange(notification),
      onUnreadableChange: () => this.#flush('a change notification could not be read'),
      onReconnected: () => void this.#onReconnected(),
    };
    const { pool, pglite } = this.options;
    if (pool) {
      return new PostgresChangeListener({
        clientConfig: { ...pool.options, application_name: this.options.listenerApplicationName ?? 'keyroute-listener', keepAlive: true },
        logger: this.#logger,
        handlers,
        reconnectDelayMs: this.options.listenerReconnectDelayMs,
      });
    }
    if (pglite) return new PgliteChangeListener({ pglite, db: this.#db, handlers });
    return undefined;
  }

  #onChange(change: ChangeNotification): void {
    this.#generation += 1;
    const inOrganization = (candidates: CandidateSet) => candidates.organizationId === change.organizationId;

    switch (change.kind) {
      case 'gateway_key':
        this.#gatewayKeys.deleteWhere((gatewayKey) => gatewayKey.id === change.id);
        // A regenerated secret may be one that an earlier lookup found unknown.
        this.#unknownKeys.clear();
        this.#keyLoads.forgetAll();
        this.#candidates.delete(change.id);
        this.#candidateLoads.forget(change.id);
        break;
      case 'provider_key':
        // The key may be assigned organization-wide, so any gateway key of the organization can be affected.
        this.#candidates.deleteWhere(inOrganization);
        this.#candidateLoads.forgetAll();
        if (change.action === 'deleted') this.#credentials.deleteProviderKey(change.organizationId, change.id);
        break;
      case 'organization':
        this.#candidates.deleteWhere(inOrganization);
        this.#candidateLoads.forgetAll();
        break;
    }
    this.#advanceSequence(change.sequence);
  }

  /** Notifications arrive in sequence order, so a gap means that one was lost. */
  #advanceSequence(sequence: number): void {
    const known = this.#knownSequence;
    if (known === undefined || sequence <= known) return;
    this.#knownSequence = sequence;
    if (sequence > known + 1) this.#flush(`change notifications ${known + 1} to ${sequence - 1} were missed`);
  }

  async #onReconnected(): Promise<void> {
    this.#knownSequence = undefined;
    this.#flush('the change listener reconnected, and changes made while it was disconnected were not notified');
    try {
      this.#knownSequence = await readChangeSequence(this.#db);
    } catch (error) {
      // The next periodic check reads it.
      this.#logger.warn({ err: error }, 'Reading the change sequence after the listener reconnected failed');
    }
  }

  #checkChanges(): Promise<void> {
    this.#check ??= this.#runCheck().finally(() => {
      this.#check = undefined;
    });
    return this.#check;
  }

  async #runCheck(): Promise<void> {
    let current: number;
    try {
      current = await readChangeSequence(this.#db);
    } catch (error) {
      // Logged once per outage; the caches keep serving meanwhile.
      if (!this.#checkFailing) this.#logger.warn({ err: error }, 'The change sequence check failed; retrying at each interval');
      this.#checkFailing = true;
      return;
    }
    if (this.#checkFailing) this.#logger.info('The change sequence check works again');
    this.#checkFailing = false;

    const known = this.#knownSequence;
    if (known === undefined || current > known) this.#knownSequence = current;
    if (known !== undefined && current > known) this.#flush(`the change sequence moved from ${known} to ${current} without a notification`);
    this.#credentials.sweep();
  }

  /**
   * Drops every cached gateway key and candidate set. Decrypted credentials are keyed by
   * credentials version and so cannot be outdated by a change; they are marked for a new decrypt
   * but kept as the fallback for key backend outages.
   */
  #flush(reason: string): void {
    this.#generation += 1;
    this.#gatewayKeys.clear();
    this.#unknownKeys.clear();
    this.#candidates.clear();
    this.#keyLoads.forgetAll();
    this.#candidateLoads.forgetAll();
    this.#credentials.expireAll();
    this.#logger.info({ reason }, `Flushed the proxy caches because ${reason}`);
  }

  #clear(): void {
    this.#generation += 1;
    this.#gatewayKeys.clear();
    this.#unknownKeys.clear();
    this.#candidates.clear();
    this.#keyLoads.forgetAll();
    this.#candidateLoads.forgetAll();
    this.#credentials.clear();
  }

  #assertStarted(): void {
    // Without the listener and the check, cached entries would never see a revocation.
    if (!this.#started) throw new Error('ProxyDirectory.start() must complete before authenticate() or resolve().');
  }
}

/** Builds the directory for an open database; call `start()` before serving and `stop()` before closing the database. */
export function createProxyDirectory(options: {
  database: DatabaseHandle;
  secretBox: SecretBox;
  logger: Logger;
  config: ProxyDirectoryConfig;
  cacheObserver?: ProxyCacheObserver | undefined;
}): ProxyDirectory {
  const { database, ...rest } = options;
  return new ProxyDirectory({ ...rest, db: database.db, pool: database.pool, pglite: database.pglite });
}
