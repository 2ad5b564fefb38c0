import type { Logger } from '../logger.js';

/**
 * Collects "this id was used now" marks in memory and writes them in one statement per interval,
 * so recording `lastUsedAt` never adds a database write to a request.
 */
export class LastUsedRecorder {
  #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (ids: string[], usedAt: Date) => Promise<void>,
    private readonly options: { intervalMs: number; logger: Logger },
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.#timer.unref();
  }

  mark(id: string): void {
    this.#pending.add(id);
  }

  /** Writes what is pending. A failed write keeps the ids for the next attempt. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const ids = [...this.#pending];
      this.#pending.clear();
      try {
        await this.write(ids, new Date());
      } catch (error) {
        for (const id of ids) this.#pending.add(id);
        this.options.logger.warn({ err: error, pending: this.#pending.size }, 'Writing last-used times failed; will retry');
      }
    });
    return this.#flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
