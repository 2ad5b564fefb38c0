import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/environment.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { captureLogs } from './log-capture.js';

/**
 * One keyring for every server of this test file. The first start records the key in the database
 * and later starts reject any other key, so servers that share a database must share the key.
 */
const keyringKeys = `in-process:${randomBytes(32).toString('base64')}`;

export interface InProcessServer {
  running: RunningServer;
  config: Config;
  baseUrl: string;
  logs: ReturnType<typeof captureLogs>;
  /** Runs the server's own shutdown; the database stays open for the next server. */
  stop(): Promise<void>;
}

/**
 * Starts the real server on 127.0.0.1, port 0, over an open database that outlives it. Shutdown
 * normally closes the database, so the server gets a handle whose `close` does nothing. Several
 * servers in one test file can then share one database, which saves a PGlite initdb per server.
 */
export async function startServerOver(
  database: DatabaseHandle,
  environment: Record<string, string> = {},
): Promise<InProcessServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LISTEN_HOST: '127.0.0.1',
    PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_DRAIN_MS: '5000',
    // A keyring of the tests' own, so no test writes a generated key into the working tree.
    KEYRING_KEYS: keyringKeys,
    ...environment,
  });
  const logs = captureLogs();
  const sharedDatabase: DatabaseHandle = { ...database, close: async () => {} };
  const running = await startServer(config, logs.logger, { database: sharedDatabase });
  return { running, config, baseUrl: running.baseUrl, logs, stop: () => running.app.shutdown() };
}
