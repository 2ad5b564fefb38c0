import pg from 'pg';
import { changeChannel } from '../../db/change-notification.js';
import type { Logger } from '../../logger.js';
import { dispatchPayload, type ChangeListener, type ChangeListenerHandlers } from './change-listener.js';

export interface PostgresChangeListenerOptions {
  /** Settings of the dedicated connection, which is opened outside the pool and never returned to it. */
  clientConfig: pg.ClientConfig;
  logger: Logger;
  handlers: ChangeListenerHandlers;
  /** Delay in milliseconds before the first reconnect attempt; it doubles per failed attempt. */
  reconnectDelayMs?: number;
  /** Upper bound in milliseconds of the reconnect delay. */
  maxReconnectDelayMs?: number;
}

/**
 * Listens on a dedicated PostgreSQL connection. A pooled connection cannot be used, because the
 * pool hands it to other queries and closes it when idle, and `LISTEN` belongs to one session.
 * When the connection is lost, it reconnects with exponential backoff and then reports
 * `onReconnected`, because notifications sent while it was disconnected are lost.
 */
export class PostgresChangeListener implements ChangeListener {
  #client: pg.Client | undefined;
  #stopped = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #failedAttempts = 0;

  constructor(private readonly options: PostgresChangeListenerOptions) {}

  get listening(): boolean {
    return this.#client !== undefined;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.options.clientConfig);
    client.on('notification', (message) => {
      if (message.channel === changeChannel) dispatchPayload(message.payload, this.options.handlers);
    });
    // Both events can fire for one loss; the handler acts once per client.
    client.on('error', (error) => this.#onConnectionLost(client, error));
    client.on('end', () => this.#onConnectionLost(client, undefined));

    try {
      await client.connect();
      await client.query(`listen ${changeChannel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
  }

  #onConnectionLost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.#client || this.#stopped) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.options.logger.warn({ err: error }, 'The change listener lost its database connection; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const initial = this.options.reconnectDelayMs ?? 100;
    const max = this.options.maxReconnectDelayMs ?? 5_000;
    const delay = Math.min(initial * 2 ** this.#failedAttempts, max);
    this.#reconnectTimer = setTimeout(() => void this.#reconnect(), delay);
    this.#reconnectTimer.unref();
  }

  async #reconnect(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      this.#failedAttempts += 1;
      // The first failure and then every tenth, so a long outage does not flood the log.
      if (this.#failedAttempts === 1 || this.#failedAttempts % 10 === 0) {
        this.options.logger.warn({ err: error, attempts: this.#failedAttempts }, 'Reconnecting the change listener failed; retrying');
      }
      if (!this.#stopped) this.#scheduleReconnect();
      return;
    }
    if (this.#stopped) return;
    this.options.logger.info({ attempts: this.#failedAttempts + 1 }, 'The change listener reconnected');
    this.#failedAttempts = 0;
    this.options.handlers.onReconnected();
  }
}
