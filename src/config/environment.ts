import { z } from 'zod';
import { cryptoEnvironment, toCryptoConfig, validateCryptoEnvironment } from './crypto.config.js';
import { databaseEnvironment } from './database.config.js';
import { graphqlEnvironment } from './graphql.config.js';
import { metricsEnvironment, toMetricsConfig } from './metrics.config.js';
import { modelsEnvironment, toModelsConfig } from './models.config.js';
import { proxyEnvironment } from './proxy.config.js';
import { proxyDirectoryEnvironment, toProxyDirectoryConfig } from './proxy-directory.config.js';
import { requestLogEnvironment, toRequestLogConfig } from './request-log.config.js';
import { retentionEnvironment, toRetentionConfig } from './retention.config.js';
import { requestLogExportEnvironment, toRequestLogExportConfig } from './request-log-export.config.js';
import { serverEnvironment } from './server.config.js';
import { toUpstreamConfig, upstreamEnvironment } from './upstream.config.js';
import { toVertexTokenConfig, vertexEnvironment } from './vertex.config.js';

const environment = z
  .object({
    ...serverEnvironment.shape,
    ...databaseEnvironment.shape,
    ...graphqlEnvironment.shape,
    ...cryptoEnvironment.shape,
    ...modelsEnvironment.shape,
    ...proxyEnvironment.shape,
    ...proxyDirectoryEnvironment.shape,
    ...requestLogEnvironment.shape,
    ...retentionEnvironment.shape,
    ...requestLogExportEnvironment.shape,
    ...metricsEnvironment.shape,
    ...upstreamEnvironment.shape,
    ...vertexEnvironment.shape,
  })
  .superRefine(validateCryptoEnvironment, { when: () => true });

export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Raised when the environment has invalid values; lists every one of them, not only the first. */
export class ConfigError extends Error {
  readonly code = 'invalid_configuration';

  constructor(readonly issues: ConfigIssue[]) {
    super(
      `Invalid configuration (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}):\n` +
        issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig(variables: Record<string, string | undefined>) {
  const parsed = environment.safeParse(variables);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(environment)'),
        message: issue.message,
      })),
    );
  }
  const env = parsed.data;

  return {
    environment: env.NODE_ENV,
    server: {
      host: env.LISTEN_HOST,
      port: env.PORT,
      corsOrigins: env.CORS_ORIGINS,
      keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderBytes: env.MAX_HEADER_BYTES,
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS,
      shutdownDrainMs: env.SHUTDOWN_DRAIN_MS,
    },
    log: { level: env.LOG_LEVEL },
    database: {
      url: env.DATABASE_URL,
      dataDirectory: env.DATA_DIR,
      poolMax: env.DATABASE_POOL_MAX,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      migrateOnStart: env.MIGRATE_ON_START,
    },
    crypto: toCryptoConfig(env),
    models: toModelsConfig(env),
    proxy: { keyTestsPerMinute: env.PROVIDER_KEY_TESTS_PER_MINUTE, keyTestTimeoutMs: env.PROVIDER_KEY_TEST_TIMEOUT_MS },
    proxyDirectory: toProxyDirectoryConfig(env),
    requestLog: toRequestLogConfig(env),
    retention: toRetentionConfig(env),
    requestLogExport: toRequestLogExportConfig(env),
    metrics: toMetricsConfig(env),
    upstream: toUpstreamConfig(env),
    vertexTokens: toVertexTokenConfig(env),
    graphql: {
      graphiql: env.NODE_ENV !== 'production',
      maxBodyBytes: env.GRAPHQL_MAX_BODY_BYTES,
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxAliases: env.GRAPHQL_MAX_ALIASES,
      maxTokens: env.GRAPHQL_MAX_TOKENS,
      maxCost: env.GRAPHQL_MAX_COST,
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;
