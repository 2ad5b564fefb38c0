import { formatFirstStartBanner } from './bootstrap/first-start.js';
import { loadConfig } from './config/environment.js';
import { CryptoError } from './crypto/errors.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

// Start-up errors go to stderr as plain text for the person at the terminal, and to the log.
function exitWithError(message: string): never {
  process.stderr.write(`keyroute: ${message}\n`);
  process.exit(1);
}

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  exitWithError((error as Error).message);
}

const logger = createLogger({ level: config.log.level });

try {
  const running = await startServer(config, logger);
  if (running.firstStart) process.stdout.write(formatFirstStartBanner(running.firstStart, running.baseUrl));

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'Signal received');
    running.app
      .shutdown()
      .then(() => {
        logger.flush();
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'Shutdown failed');
        logger.flush();
        process.exit(1);
      });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
} catch (error) {
  const code = (error as { code?: string }).code;
  const expected =
    error instanceof CryptoError ||
    code === 'database_unavailable' ||
    code === 'listen_failed' ||
    code === 'migration_failed' ||
    code === 'invalid_platform_credentials';
  logger.fatal({ err: expected ? undefined : error }, 'Start failed');
  logger.flush();
  exitWithError(expected ? (error as Error).message : `start failed: ${(error as Error).stack ?? String(error)}`);
}
