import type { PGlite } from '@electric-sql/pglite';
import { sql, type Kysely } from 'kysely';
import { changeChannel } from '../../db/change-notification.js';
import type { Database } from '../../db/schema.js';
import { dispatchPayload, type ChangeListener, type ChangeListenerHandlers } from './change-listener.js';

/**
 * Listens on the embedded database's one session, which also receives the notifications of its
 * own transactions. `LISTEN` runs through Kysely rather than `pglite.listen`, because the Kysely
 * dialect queues every statement behind the open transaction: a `LISTEN` sent past the queue
 * could land inside another caller's transaction and be undone by its rollback.
 */
export class PgliteChangeListener implements ChangeListener {
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly options: { pglite: PGlite; db: Kysely<Database>; handlers: ChangeListenerHandlers },
  ) {}

  get listening(): boolean {
    return this.#unsubscribe !== undefined;
  }

  async start(): Promise<void> {
    const unsubscribe = this.options.pglite.onNotification((channel, payload) => {
      if (channel === changeChannel) dispatchPayload(payload, this.options.handlers);
    });
    try {
      await sql`listen ${sql.id(changeChannel)}`.execute(this.options.db);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    this.#unsubscribe = unsubscribe;
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (!this.options.pglite.closed) await sql`unlisten ${sql.id(changeChannel)}`.execute(this.options.db).catch(() => undefined);
  }
}
