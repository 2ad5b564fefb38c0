import { sql } from 'kysely';
import type { DatabaseHandle } from '../db/database.js';
import { readMigrationStatus } from '../db/migrations.js';

export interface ReadinessReport {
  ready: boolean;
  body: {
    status: 'ready' | 'not_ready';
    checks: { migrations: 'applied' | 'pending' | 'unknown'; shuttingDown: boolean };
    pendingMigrations?: string[];
    database: { kind: string; status: 'ok' | 'unavailable'; latencyMs?: number };
  };
}

/**
 * Whether this process can serve. Database health is reported beside the verdict but does not
 * decide it: a short database outage must not take every replica out of a load balancer.
 */
export class Readiness {
  #shuttingDown = false;
  #migrationsApplied = false;
  #pending: string[] = [];

  constructor(private readonly database: DatabaseHandle) {}

  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Records the migration state; called at start and rechecked by probes until everything is applied. */
  async refreshMigrations(): Promise<void> {
    const status = await readMigrationStatus(this.database.db);
    this.#pending = status.pending;
    this.#migrationsApplied = status.pending.length === 0;
  }

  async report(): Promise<ReadinessReport> {
    const database = await this.#probeDatabase();
    const migrations = await this.#checkMigrations(database.status === 'ok');
    const ready = !this.#shuttingDown && migrations === 'applied';
    return {
      ready,
      body: {
        status: ready ? 'ready' : 'not_ready',
        checks: { migrations, shuttingDown: this.#shuttingDown },
        ...(migrations === 'pending' && { pendingMigrations: this.#pending }),
        database,
      },
    };
  }

  async #checkMigrations(databaseReachable: boolean): Promise<'applied' | 'pending' | 'unknown'> {
    if (this.#migrationsApplied) return 'applied';
    if (!databaseReachable) return 'unknown';
    try {
      await this.refreshMigrations();
    } catch {
      return 'unknown';
    }
    return this.#migrationsApplied ? 'applied' : 'pending';
  }

  async #probeDatabase(): Promise<ReadinessReport['body']['database']> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), 2_000);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.database.db), timeout]);
      return { kind: this.database.kind, status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch {
      return { kind: this.database.kind, status: 'unavailable' };
    } finally {
      clearTimeout(timer);
    }
  }
}
