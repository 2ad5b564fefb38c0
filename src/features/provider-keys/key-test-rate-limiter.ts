/**
 * A fixed-window limit on key tests per organization, so the mutation cannot be used to make the
 * gateway hammer a provider. Held in memory: each process enforces its own window.
 */
export class KeyTestRateLimiter {
  readonly #windows = new Map<string, { startedAt: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one test; returns the seconds to wait when the organization is over its limit. */
  take(organizationId: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.now();
    let window = this.#windows.get(organizationId);
    if (!window || now - window.startedAt >= this.windowMs) {
      window = { startedAt: now, count: 0 };
      this.#windows.set(organizationId, window);
      if (this.#windows.size > 10_000) this.#evictExpired(now);
    }
    if (window.count >= this.limit) {
      return { allowed: false, retryAfterSeconds: Math.ceil((window.startedAt + this.windowMs - now) / 1000) };
    }
    window.count += 1;
    return { allowed: true };
  }

  #evictExpired(now: number): void {
    for (const [organizationId, window] of this.#windows) {
      if (now - window.startedAt >= this.windowMs) this.#windows.delete(organizationId);
    }
  }
}
