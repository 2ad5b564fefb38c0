import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config/environment.js';
import { SecretBox } from './crypto/secret-box.js';
import type { DatabaseHandle } from './db/database.js';
import { LastUsedRecorder } from './db/last-used-recorder.js';
import { deleteExpiredIdempotencyKeys } from './features/idempotency/idempotency.repository.js';
import { GatewayKeyService } from './features/gateway-keys/gateway-key.service.js';
import { touchManagementTokens } from './features/management-tokens/management-token.repository.js';
import { ManagementTokenService } from './features/management-tokens/management-token.service.js';
import { KeyTestRateLimiter } from './features/provider-keys/key-test-rate-limiter.js';
import { ProviderKeyTestService } from './features/provider-keys/provider-key-test.service.js';
import { ProviderKeyService } from './features/provider-keys/provider-key.service.js';
import { ProviderKeyTester } from './proxy/key-test/provider-key-tester.js';
import { OrganizationService } from './features/organizations/organization.service.js';
import { AuditEventService } from './features/audit/audit.service.js';
import { RequestLogService } from './features/request-logs/request-log.service.js';
import { RetentionJob } from './features/retention/retention-job.js';
import { UsageService } from './features/usage/usage.service.js';
import { createRequestLogExportRoute } from './features/request-log-export/request-log-export.route.js';
import { createGraphqlRoute } from './graphql/graphql-route.js';
import { Readiness } from './http/readiness.js';
import { createRequestHandler } from './http/request-handler.js';
import type { Logger } from './logger.js';
import type { MetricsListener } from './observability/metrics-listener.js';
import { createMetricsExposure } from './observability/metrics-exposure.js';
import { Metrics } from './observability/metrics.js';
import { createProxyDirectory, type ProxyDirectory } from './proxy/directory/proxy-directory.js';
import { createProxyRoute } from './proxy/proxy-route.js';
import { RequestLogWriter } from './proxy/request-log/request-log-writer.js';
import { UpstreamTransport } from './proxy/upstream/transport.js';
import { VertexTokenProvider } from './proxy/upstream/vertex/vertex-token-provider.js';
import { BedrockSignerCache } from './proxy/upstream/bedrock/bedrock-signer.js';
import type { Services } from './services.js';

/** Raised when the server cannot listen; the message names the address and the fix. */
export class ListenError extends Error {
  readonly code = 'listen_failed';
}

/** Node's header parser bound: MAX_HEADER_BYTES with room for the handler to see the excess, at most 4 MiB. */
function parserMaxHeaderBytes(maxHeaderBytes: number): number {
  return Math.min(Math.max(maxHeaderBytes * 4, 2 * 1024 * 1024), 4 * 1024 * 1024);
}

export interface App {
  server: Server;
  services: Services;
  readiness: Readiness;
  directory: ProxyDirectory;
  requestLog: RequestLogWriter;
  /** Deletes request logs, usage rollups and audit events past their retention. */
  retention: RetentionJob;
  /** The Prometheus registry and recorders; undefined when METRICS_ENABLED is false. */
  metrics: Metrics | undefined;
  /** The listener of `/metrics` alone, when METRICS_PORT is set. */
  metricsListener: MetricsListener | undefined;
  listen(): Promise<AddressInfo>;
  /** Writes pending management-token `lastUsedAt` times now rather than at the next interval. */
  flushLastUsed(): Promise<void>;
  /** Stops taking requests, drains those in flight up to the configured bound, closes the database. */
  shutdown(): Promise<void>;
}

export function createApp(options: {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  secretBox: SecretBox;
}): App {
  const { config, logger, database } = options;
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  // Every key backend call of the running server goes through this box, so that metrics count it.
  const secretBox = metrics ? new SecretBox(metrics.keyBackend.instrument(options.secretBox.backend)) : options.secretBox;

  const tokenLastUsed = new LastUsedRecorder((ids, usedAt) => touchManagementTokens(database.db, ids, usedAt), {
    intervalMs: 5_000,
    logger: logger.child({ component: 'last-used' }),
  });
  const transport = new UpstreamTransport(config.upstream.transport);
  const services: Services = {
    organizations: new OrganizationService(database.db),
    managementTokens: new ManagementTokenService(database.db, tokenLastUsed),
    gatewayKeys: new GatewayKeyService(database.db, secretBox),
    providerKeys: new ProviderKeyService(database.db, secretBox),
    providerKeyTests: new ProviderKeyTestService(
      database.db,
      secretBox,
      new ProviderKeyTester(transport, config.proxy.keyTestTimeoutMs),
      new KeyTestRateLimiter(config.proxy.keyTestsPerMinute, 60_000),
    ),
    usage: new UsageService(database.db, config.retention),
    requestLogs: new RequestLogService(database.db, config.retention),
    auditEvents: new AuditEventService(database.db),
  };

  const readiness = new Readiness(database);
  const maintenanceLogger = logger.child({ component: 'maintenance' });
  // Hourly: idempotency records past expiry (they keep new gateway key secrets, encrypted, for
  // retries), and Vertex access tokens past expiry, which would otherwise wait for LRU eviction.
  const purgeExpired = () => {
    vertexTokens.sweep();
    return deleteExpiredIdempotencyKeys(database.db)
      .then((count) => count > 0 && maintenanceLogger.info({ count }, 'Deleted expired idempotency records'))
      .catch((error: unknown) => maintenanceLogger.warn({ err: error }, 'Deleting expired idempotency records failed'));
  };
  let maintenanceTimer: NodeJS.Timeout | undefined;
  const vertexTokens = new VertexTokenProvider({ transport, config: config.vertexTokens, logger: logger.child({ component: 'vertex-tokens' }) });
  const proxyLogger = logger.child({ component: 'proxy' });
  const directory = createProxyDirectory({ database, secretBox, logger: proxyLogger, config: config.proxyDirectory, cacheObserver: metrics?.caches });
  const requestLog = new RequestLogWriter({ db: database.db, logger: logger.child({ component: 'request-log' }), config: config.requestLog });
  const retention = new RetentionJob({ db: database.db, logger: logger.child({ component: 'retention' }), config: config.retention });
  metrics?.observeRequestLog(requestLog);
  metrics?.observeDatabase(database);
  const metricsExposure = createMetricsExposure(config.metrics, metrics, logger.child({ component: 'metrics' }));
  const handler = createRequestHandler({
    logger,
    readiness,
    maxHeaderBytes: config.server.maxHeaderBytes,
    metrics: metrics?.http,
    routes: {
      graphql: createGraphqlRoute(config, logger.child({ component: 'graphql' }), services),
      proxy: createProxyRoute({
        config,
        logger: proxyLogger,
        directory,
        transport,
        catalog: config.models.catalog,
        requestLog,
        metrics: metrics?.proxy,
        bedrockSigners: new BedrockSignerCache(),
        vertexTokens,
      }),
      requestLogExport: createRequestLogExportRoute({
        db: database.db,
        managementTokens: services.managementTokens,
        requestLogs: services.requestLogs,
        config: config.requestLogExport,
        logger: logger.child({ component: 'request-log-export' }),
      }),
      metrics: metricsExposure.mainRoute,
    },
  });
  // Node's parser gets a larger bound than MAX_HEADER_BYTES so that the request handler, which has
  // the route, can answer oversized headers in the route's error envelope. Beyond the parser's
  // bound, Node rejects the request itself (below).
  const server = createServer({ maxHeaderSize: parserMaxHeaderBytes(config.server.maxHeaderBytes) }, handler.handle);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    if (error.code !== 'HPE_HEADER_OVERFLOW') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    // Node's own 431 has no body, and the request line may be long gone, so the OpenAI envelope it is.
    const message = `The request headers are larger than ${parserMaxHeaderBytes(config.server.maxHeaderBytes)} bytes.`;
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: 'request_header_too_large', param: null } });
    socket.end(
      `HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  // Must exceed keepAliveTimeout, or Node can drop a reused connection while a request is on its way.
  server.headersTimeout = config.server.keepAliveTimeoutMs + 1_000;

  async function listen(): Promise<AddressInfo> {
    await readiness.refreshMigrations();
    // The caches and their change listener must be live before the first proxied request.
    await directory.start();
    await requestLog.start();
    retention.start();
    tokenLastUsed.start();
    maintenanceTimer = setInterval(purgeExpired, 60 * 60 * 1000);
    maintenanceTimer.unref();
    if (metricsExposure.listener) {
      const address = await metricsExposure.listener.listen();
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      logger.info({ url: `http://${host}:${address.port}/metrics` }, 'Serving /metrics on a listener of its own');
    }
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
      logger.info({ delayMs: config.server.shutdownDelayMs }, 'Shutting down: /readyz now returns 503');
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
      await metricsExposure.listener?.close();
      clearInterval(maintenanceTimer);
      await retention.stop();
      await requestLog.stop();
      await directory.stop();
      await transport.close();
      await tokenLastUsed.stop();
      await database.close();
      secretBox.backend.close();
      logger.info('Shutdown complete');
    })();
    return shutdownPromise;
  }

  return {
    server,
    services,
    readiness,
    directory,
    requestLog,
    retention,
    metrics,
    metricsListener: metricsExposure.listener,
    listen,
    flushLastUsed: () => tokenLastUsed.flush(),
    shutdown,
  };
}
