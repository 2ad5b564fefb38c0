/**
 * A map bounded by entry count that evicts the least recently used entry first. A `Map` keeps
 * insertion order, so moving an entry to the end on each read keeps the oldest one first.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  /**
   * The key at the end of the order, whose read needs no move. A busy gateway key is read by
   * request after request, and each move deletes and re-inserts a Map entry.
   */
  #newest: K | undefined;
  #hasNewest = false;

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}.`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Returns the value and marks it as the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    if (this.#hasNewest && this.#newest === key) return value;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#markNewest(key);
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#markNewest(key);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    if (this.#hasNewest && this.#newest === key) this.#forgetNewest();
    return this.#entries.delete(key);
  }

  /** Deletes every entry for which `predicate` returns true, and returns how many it deleted. */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let deleted = 0;
    for (const [key, value] of this.#entries) {
      if (predicate(value, key)) {
        this.delete(key);
        deleted += 1;
      }
    }
    return deleted;
  }

  values(): IterableIterator<V> {
    return this.#entries.values();
  }

  clear(): void {
    this.#entries.clear();
    this.#forgetNewest();
  }

  #markNewest(key: K): void {
    this.#newest = key;
    this.#hasNewest = true;
  }

  #forgetNewest(): void {
    this.#newest = undefined;
    this.#hasNewest = false;
  }
}

interface TimedEntry<V> {
  value: V;
  storedAt: number;
}

/** An LruMap whose entries also expire a fixed time after they were stored. */
export class ExpiringLruCache<K, V> {
  readonly #entries: LruMap<K, TimedEntry<V>>;

  /** @param now the clock in milliseconds, replaceable in tests. */
  constructor(
    private readonly options: { maxEntries: number; maxAgeMs: number },
    private readonly now: () => number,
  ) {
    this.#entries = new LruMap(options.maxEntries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Returns the value while it is younger than the maximum age, and deletes it once it is not. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.now() - entry.storedAt >= this.options.maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    this.#entries.set(key, { value, storedAt: this.now() });
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    return this.#entries.deleteWhere((entry, key) => predicate(entry.value, key));
  }

  clear(): void {
    this.#entries.clear();
  }
}
