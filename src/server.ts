import type { AddressInfo } from 'node:net';
import { createApp, type App } from './app.js';
import { runFirstStart, type FirstStartResult } from './bootstrap/first-start.js';
import type { Config } from './config/environment.js';
import { openSecretBox } from './bootstrap/open-secret-box.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { MigrationError, migrateToLatest, readMigrationStatus } from './db/migrations.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  app: App;
  database: DatabaseHandle;
  address: AddressInfo;
  baseUrl: string;
  firstStart: FirstStartResult | undefined;
}

/**
 * Opens the database, applies migrations unless disabled, and starts listening. Each failure
 * is thrown with a message that names what to fix; nothing is left open when start fails.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  options: { database?: DatabaseHandle } = {},
): Promise<RunningServer> {
  const database = options.database ?? (await openDatabase(config.database));
  logger.info({ database: database.kind, location: database.location }, 'Database opened');
  try {
    if (config.database.migrateOnStart) {
      const { applied } = await migrateToLatest(database.db);
      if (applied.length > 0) logger.info({ applied }, 'Migrations applied');
    } else {
      // Every component below reads tables of the migrations, so starting without them fails later
      // and less clearly.
      const { pending } = await readMigrationStatus(database.db);
      if (pending.length > 0) {
        throw new MigrationError(
          `The database lacks ${pending.length} migration(s) of this build (${pending.join(', ')}) and MIGRATE_ON_START is false. ` +
            'Run `npm run migrate` (or `keyroute migrate`) first, or set MIGRATE_ON_START=true.',
        );
      }
    }
    const secretBox = await openSecretBox(config, database, logger);
    const app = createApp({ config, logger, database, secretBox });
    const firstStart = await runFirstStart(database, app.services);
    const address = await app.listen();
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const baseUrl = `http://${host}:${address.port}`;
    logger.info({ url: baseUrl }, 'Listening');
    return { app, database, address, baseUrl, firstStart };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
}
