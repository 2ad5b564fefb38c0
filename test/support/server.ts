import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { KyselyPlugin } from 'kysely';
import { loadConfig, type Config } from '../../src/config/environment.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { captureLogs } from './log-capture.js';

export interface TestServer extends RunningServer {
  config: Config;
  testDatabase: TestDatabase;
  logs: ReturnType<typeof captureLogs>;
  /** Runs a typed GraphQL document with a management token. */
  graphql<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
    token: string,
  ): Promise<{ status: number; data?: Result; errors?: { message: string; extensions?: Record<string, unknown> }[]; raw: string }>;
  /** Creates an organization and a token for it through the services, as the CLI does. */
  createTenant(name?: string, scope?: 'read' | 'write'): Promise<{ organizationId: string; token: string }>;
  close(): Promise<void>;
}

/**
 * Starts the real server on 127.0.0.1, port 0, over this test file's own database, with every log
 * line captured. `plugins` are installed on the server's Kysely instance only, so they see the
 * server's statements and not those a test runs through `testDatabase.db`.
 */
export async function startTestServer(
  environment: Record<string, string> = {},
  options: { plugins?: KyselyPlugin[] } = {},
): Promise<TestServer> {
  const testDatabase = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LISTEN_HOST: '127.0.0.1',
    PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_DRAIN_MS: '5000',
    // A keyring of the test's own, so no test writes a generated key into the working tree.
    KEYRING_KEYS: `test:${randomBytes(32).toString('base64')}`,
    // No test may reach a real provider: origins without an override are refused.
    UPSTREAM_REQUIRE_OVERRIDE: 'true',
    ...(testDatabase.url && { DATABASE_URL: testDatabase.url }),
    ...environment,
  });
  const logs = captureLogs();
  const database = (options.plugins ?? []).reduce(
    (handle, plugin) => ({ ...handle, db: handle.db.withPlugin(plugin) }),
    testDatabase.handle,
  );
  const running = await startServer(config, logs.logger, { database });

  return {
    ...running,
    config,
    testDatabase,
    logs,
    async graphql(document, variables, token) {
      const response = await fetch(`${running.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const raw = await response.text();
      const parsed = JSON.parse(raw) as { data?: never; errors?: never };
      return { status: response.status, data: parsed.data, errors: parsed.errors, raw };
    },
    async createTenant(name = 'Test organization', scope = 'write') {
      const organization = await running.app.services.organizations.create(name);
      const { token } = await running.app.services.managementTokens.issue({
        organizationId: organization.id,
        scope,
        actorLabel: `test ${scope}`,
      });
      return { organizationId: organization.id, token };
    },
    async close() {
      await running.app.shutdown();
      await testDatabase.destroy();
    },
  };
}
