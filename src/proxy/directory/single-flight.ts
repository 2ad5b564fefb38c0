/**
 * Runs at most one load per key at a time: callers that ask for a key while its load is running
 * share that load's promise instead of starting another.
 */
export class SingleFlight<K, V> {
  readonly #running = new Map<K, Promise<V>>();

  get size(): number {
    return this.#running.size;
  }

  run(key: K, load: () => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running) return running;
    const promise = load().finally(() => {
      // A later load may have replaced this one after `forget`; remove only our own.
      if (this.#running.get(key) === promise) this.#running.delete(key);
    });
    this.#running.set(key, promise);
    return promise;
  }

  /**
   * Makes later callers start a new load. Callers already waiting still get the running load's
   * result; use this when the data that load reads may have changed.
   */
  forget(key: K): void {
    this.#running.delete(key);
  }

  forgetAll(): void {
    this.#running.clear();
  }
}
