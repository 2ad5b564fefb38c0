import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config/environment.js';
import type { DatabaseHandle } from './db/database.js';
import { LastUsedRecorder } from './db/last-used-recorder.js';
import { GatewayKeyService } from './features/gateway-keys/gateway-key.service.js';
import { touchManagementTokens } from './features/management-tokens/management-token.repository.js';
import { ManagementTokenService } from './features/management-tokens/management-token.service.js';
import { OrganizationService } from './features/organizations/organization.service.js';
import { createGraphqlRoute } from './graphql/graphql-route.js';
import { Readiness } from './http/readiness.js';
import { createRequestHandler } from './http/request-handler.js';
import type { Logger } from './logger.js';
import type { Services } from './services.js';

/** Raised when the server cannot listen; the message names the address and the fix. */
export class ListenError extends Error {
  readonly code = 'listen_failed';
}

export interface App {
  server: Server;
  services: Services;
  readiness: Readiness;
  listen(): Promise<AddressInfo>;
  /** Stops taking requests, drains those in flight up to the configured bound, closes the database. */
  shutdown(): Promise<void>;
}

export function createApp(options: { config: Config; logger: Logger; database: DatabaseHandle }): App {
  const { config, logger, database } = options;

  const tokenLastUsed = new LastUsedRecorder((ids, usedAt) => touchManagementTokens(database.db, ids, usedAt), {
    intervalMs: 5_000,
    logger: logger.child({ component: 'last-used' }),
  });
  const services: Services = {
    organizations: new OrganizationService(database.db),
    managementTokens: new ManagementTokenService(database.db, tokenLastUsed),
    gatewayKeys: new GatewayKeyService(database.db),
  };

  const readiness = new Readiness(database);
  const handler = createRequestHandler({
    logger,
    readiness,
    routes: { graphql: createGraphqlRoute(config, logger.child({ component: 'graphql' }), services) },
  });
  const server = createServer(handler.handle);
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  // Must exceed keepAliveTimeout, or Node can drop a reused connection while a request is on its way.
  server.headersTimeout = config.server.keepAliveTimeoutMs + 1_000;

  async function listen(): Promise<AddressInfo> {
    await readiness.refreshMigrations();
    tokenLastUsed.start();
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const address = `${config.server.host}:${config.server.port}`;
        if (error.code === 'EADDRINUSE') {
          reject(new ListenError(`Port ${config.server.port} on ${config.server.host} is already in use. Stop the other process or set PORT to a free port.`));
        } else if (error.code === 'EADDRNOTAVAIL') {
          reject(new ListenError(`The address ${address} is not available on this machine. Set LISTEN_HOST to one of its addresses.`));
        } else if (error.code === 'EACCES') {
          reject(new ListenError(`No permission to listen on ${address}. Use a port above 1023 or grant the permission.`));
        } else {
          reject(error);
        }
      };
      server.once('error', onError);
      server.listen(config.server.port, config.server.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  let shutdownPromise: Promise<void> | undefined;
  function shutdown(): Promise<void> {
    shutdownPromise ??= (async () => {
      readiness.markShuttingDown();
      logger.info({ delayMs: config.server.shutdownDelayMs }, 'Shutting down: /readyz now answers 503');
      // Load balancers need a moment to see /readyz fail before the listener closes.
      await sleep(config.server.shutdownDelayMs);

      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await Promise.race([
        handler.idle().then(() => true),
        sleep(config.server.shutdownDrainMs).then(() => false),
      ]);
      if (!drained) {
        logger.warn({ inFlight: handler.inFlight, drainMs: config.server.shutdownDrainMs }, 'Drain bound reached; closing open connections');
      }
      server.closeAllConnections();
      await closed;
      await tokenLastUsed.stop();
      await database.close();
      logger.info('Shutdown complete');
    })();
    return shutdownPromise;
  }

  return { server, services, readiness, listen, shutdown };
}
