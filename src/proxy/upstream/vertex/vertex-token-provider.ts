import type { VertexTokenConfig } from '../../../config/vertex.config.js';
import type { VertexServiceAccount } from '../../../features/provider-keys/credentials.js';
import type { Logger } from '../../../logger.js';
import { LruMap } from '../../directory/expiring-lru-cache.js';
import { SingleFlight } from '../../directory/single-flight.js';
import type { UpstreamResponse, UpstreamTransport } from '../transport.js';
import { GoogleTokenError, requestGoogleAccessToken, type GoogleAccessToken } from './google-access-token.js';

/** Identifies the stored credentials a token belongs to. A token is never shared between two of them. */
export interface VertexTokenKey {
  organizationId: string;
  providerKeyId: string;
  /** Increments on every credentials change, so a token of the old service account is never used for the new one. */
  credentialsVersion: number;
}

export interface VertexTokenProviderOptions {
  transport: UpstreamTransport;
  config: VertexTokenConfig;
  logger: Logger;
  /** Wall clock in milliseconds; Google's token lifetimes are wall-clock times. Defaults to Date.now. */
  now?: () => number;
}

interface TokenEntry {
  credentialsVersion: number;
  /** The last token obtained; undefined after a rejection or before the first success. */
  token: GoogleAccessToken | undefined;
  /** The last token request failed: no new request until `retryAt`. */
  failure: { error: GoogleTokenError; retryAt: number } | undefined;
}

/**
 * Time left on a token below which it is no longer sent. Google checks expiry when the request
 * arrives, so these seconds cover the time the request takes to get there.
 */
const minimumRemainingMs = 10_000;

/**
 * Access tokens of Vertex provider keys, in memory only, one entry per provider key and
 * organization, valid for one credentials version.
 *
 * - A token is replaced once less than the refresh margin (at most half its lifetime) is left.
 * - At most one token request per key and version runs at a time; concurrent callers share it.
 * - After a failed request, no new one is made for that key for the retry interval. Callers get
 *   the token obtained earlier while it is still valid and the failure was `unavailable`, else the
 *   failure itself.
 * - `invalidate` drops a token that Vertex rejected with 401, so the next use obtains a new one.
 *
 * `getAccessToken` rejects with a GoogleTokenError, which `mapGoogleTokenError` (vertex-errors.ts)
 * turns into the client's error.
 */
export class VertexTokenProvider {
  readonly #entries: LruMap<string, TokenEntry>;
  readonly #requests = new SingleFlight<string, GoogleAccessToken>();
  readonly #now: () => number;
  /** Increments when entries are deleted, so a request that was running then does not store its result. */
  #generation = 0;

  constructor(private readonly options: VertexTokenProviderOptions) {
    this.#entries = new LruMap(options.config.maxEntries);
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns a valid access token for the key's service account, requesting one from Google when
   * none is cached or the cached one is within the refresh margin of its expiry. When `signal`
   * aborts, this call rejects with its reason, while a token request shared with other callers
   * continues.
   */
  async getAccessToken(key: VertexTokenKey, account: VertexServiceAccount, signal?: AbortSignal): Promise<string> {
    const now = this.#now();
    const entry = this.#entries.get(entryKey(key));
    if (entry !== undefined && entry.credentialsVersion === key.credentialsVersion) {
      if (entry.token !== undefined && now < this.#refreshAt(entry.token)) return entry.token.token;
      if (entry.failure !== undefined && now < entry.failure.retryAt) {
        if (entry.token !== undefined && isUsable(entry.token, now)) return entry.token.token;
        throw entry.failure.error;
      }
    }
    const token = await abortable(this.#refresh(key, account), signal);
    return token.token;
  }

  /**
   * Drops the cached token when it is `rejectedToken`, after Vertex responded 401 to it, so that
   * the next `getAccessToken` requests a new one. Returns false when the cache already contains
   * another token, as after a concurrent request's invalidate. Callers then retry with that token,
   * so a burst of 401s for one token causes one new token request, not one per response.
   */
  invalidate(key: VertexTokenKey, rejectedToken: string): boolean {
    const entry = this.#entries.get(entryKey(key));
    if (entry === undefined || entry.credentialsVersion !== key.credentialsVersion || entry.token?.token !== rejectedToken) {
      return false;
    }
    this.#entries.delete(entryKey(key));
    this.options.logger.info(
      { providerKeyId: key.providerKeyId },
      `Vertex AI rejected the access token of provider key ${key.providerKeyId}; the next request obtains a new one`,
    );
    return true;
  }

  /** Drops the token of a deleted provider key. */
  deleteProviderKey(organizationId: string, providerKeyId: string): void {
    this.#generation += 1;
    this.#entries.delete(entryKey({ organizationId, providerKeyId }));
  }

  /** Drops entries whose token has expired and whose failure wait is over; returns how many. */
  sweep(): number {
    const now = this.#now();
    return this.#entries.deleteWhere(
      (entry) => (entry.token === undefined || !isUsable(entry.token, now)) && (entry.failure === undefined || now >= entry.failure.retryAt),
    );
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
    this.#requests.forgetAll();
  }

  /**
   * The time at which a token is replaced: the refresh margin before expiry, capped at half its
   * lifetime, and never later than `minimumRemainingMs` before expiry, so that a small margin
   * does not send a token that expires on its way.
   */
  #refreshAt(token: GoogleAccessToken): number {
    const lifetime = token.expiresAtMs - token.obtainedAtMs;
    const margin = Math.min(this.options.config.refreshMarginMs, lifetime / 2);
    return token.expiresAtMs - Math.max(margin, minimumRemainingMs);
  }

  #refresh(key: VertexTokenKey, account: VertexServiceAccount): Promise<GoogleAccessToken> {
    const flightKey = `${entryKey(key)}/${key.credentialsVersion}`;
    return this.#requests.run(flightKey, () => this.#requestAndStore(key, account));
  }

  async #requestAndStore(key: VertexTokenKey, account: VertexServiceAccount): Promise<GoogleAccessToken> {
    const generation = this.#generation;
    try {
      const token = await requestGoogleAccessToken(this.options.transport, account, {
        now: this.#now,
        timeoutMs: this.options.config.timeoutMs,
      });
      if (generation === this.#generation) {
        this.#entries.set(entryKey(key), { credentialsVersion: key.credentialsVersion, token, failure: undefined });
      }
      this.options.logger.debug(
        { providerKeyId: key.providerKeyId, expiresInMs: token.expiresAtMs - token.obtainedAtMs },
        `Obtained a Google access token for provider key ${key.providerKeyId}`,
      );
      return token;
    } catch (error) {
      if (!(error instanceof GoogleTokenError)) throw error;
      return this.#recordFailure(key, error, generation === this.#generation);
    }
  }

  /**
   * Keeps the failure until the retry interval has passed. Returns the earlier token when the
   * endpoint was unavailable and that token is still valid, and throws `error` otherwise.
   */
  #recordFailure(key: VertexTokenKey, error: GoogleTokenError, store: boolean): GoogleAccessToken {
    const now = this.#now();
    const previous = this.#entries.get(entryKey(key));
    const earlier = previous?.credentialsVersion === key.credentialsVersion ? previous.token : undefined;
    // A rejected account's earlier token is dropped too: the key was removed or the account
    // disabled on purpose, and serving the old token would hide that until it expires.
    const fallback = error.failure === 'unavailable' && earlier !== undefined && isUsable(earlier, now) ? earlier : undefined;
    if (store) {
      this.#entries.set(entryKey(key), {
        credentialsVersion: key.credentialsVersion,
        token: fallback,
        failure: { error, retryAt: now + this.options.config.retryIntervalMs },
      });
    }

    const fields = {
      providerKeyId: key.providerKeyId,
      failure: error.failure,
      httpStatus: error.httpStatus,
      oauthError: error.oauthError,
      retryInMs: this.options.config.retryIntervalMs,
    };
    if (fallback !== undefined) {
      this.options.logger.warn(
        { ...fields, remainingMs: fallback.expiresAtMs - now },
        `Refreshing the Google access token of provider key ${key.providerKeyId} failed: ${error.message} Using the current token until it expires or a retry succeeds`,
      );
      return fallback;
    }
    this.options.logger.warn(fields, `Obtaining a Google access token for provider key ${key.providerKeyId} failed: ${error.message}`);
    throw error;
  }
}

/**
 * Sends a Vertex request with the key's access token and, when Vertex responds 401, discards that
 * response, invalidates the token and sends the request once more with a new one. The second
 * response is returned whatever its status. `send` must not reuse a consumed body.
 */
export async function sendWithVertexToken(
  tokens: VertexTokenProvider,
  key: VertexTokenKey,
  account: VertexServiceAccount,
  send: (accessToken: string) => Promise<UpstreamResponse>,
  signal?: AbortSignal,
): Promise<UpstreamResponse> {
  const first = await tokens.getAccessToken(key, account, signal);
  const response = await send(first);
  if (response.statusCode !== 401) return response;
  await response.body.dump();
  tokens.invalidate(key, first);
  const second = await tokens.getAccessToken(key, account, signal);
  return send(second);
}

function isUsable(token: GoogleAccessToken, now: number): boolean {
  return now < token.expiresAtMs - minimumRemainingMs;
}

function entryKey(key: { organizationId: string; providerKeyId: string }): string {
  return `${key.organizationId}/${key.providerKeyId}`;
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
