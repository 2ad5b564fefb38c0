import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { postgresUrl } from '../support/database.js';
import { startServerOver } from '../support/in-process-server.js';
import { millisecondsUntil } from '../proxy-directory/helpers.js';
import {
  createTenant,
  startProxyContext,
  upstreamEnvironment,
  writeContext,
  type CreatedGatewayKey,
  type InProcessServer,
  type ProxyTestContext,
} from './helpers.js';

// A revoked gateway key (deleted or deactivated) must be rejected within one second by every
// server on the database, although each caches gateway keys in memory. This applies to the server
// that made the change, for a second server through LISTEN/NOTIFY, and for that second server
// after its listener connection was killed.

const withinOneSecond = 1_000;
/** The listener's application_name, set by the proxy directory. */
const listenerApplicationName = 'keyroute-listener';

let context: ProxyTestContext;
/** A second server with its own connection pool and listener over the same PostgreSQL database. */
let secondServer: InProcessServer | undefined;
let secondDatabase: DatabaseHandle | undefined;

beforeAll(async () => {
  context = await startProxyContext();
  if (postgresUrl) {
    secondDatabase = await openDatabase({ url: context.database.url!, dataDirectory: '', poolMax: 4, connectTimeoutMs: 5_000, migrateOnStart: false });
    secondServer = await startServerOver(secondDatabase, upstreamEnvironment(context.fakes));
  }
});

afterAll(async () => {
  await secondServer?.stop();
  await secondDatabase?.close();
  await context?.close();
});

async function modelsStatus(server: InProcessServer, gatewayKey: CreatedGatewayKey): Promise<number> {
  const response = await fetch(`${server.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${gatewayKey.secret}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Creates a gateway key and authenticates it on each given server, so that it sits in their caches. */
async function cachedGatewayKey(...servers: InProcessServer[]): Promise<{ organizationId: string; gatewayKey: CreatedGatewayKey }> {
  const tenant = await createTenant(context, ['OPENAI']);
  for (const server of servers) expect(await modelsStatus(server, tenant.gatewayKey)).toBe(200);
  return tenant;
}

async function listenerConnections(): Promise<number> {
  const { rows } = await sql<{ count: string }>`
    select count(*) as count from pg_stat_activity
    where application_name = ${listenerApplicationName} and datname = current_database()
  `.execute(context.database.db);
  return Number(rows[0]!.count);
}

describe('revocation on the same server', () => {
  it('deactivated key rejected within one second', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server);

    await context.server.running.app.services.gatewayKeys.update(writeContext(organizationId), gatewayKey.id, { active: false });
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(context.server, gatewayKey)) === 403, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('deleted key rejected within one second', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server);

    await context.server.running.app.services.gatewayKeys.delete(writeContext(organizationId), gatewayKey.id);
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(context.server, gatewayKey)) === 401, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });
});

describe('revocation on a second server', () => {
  // Two servers need a database that both can reach, but the embedded database lives inside one process.
  it.skipIf(!postgresUrl)('deleted key rejected within one second', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server, secondServer!);

    await context.server.running.app.services.gatewayKeys.delete(writeContext(organizationId), gatewayKey.id);
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(secondServer!, gatewayKey)) === 401, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('deactivated key rejected within one second', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server, secondServer!);

    await context.server.running.app.services.gatewayKeys.update(writeContext(organizationId), gatewayKey.id, { active: false });
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(secondServer!, gatewayKey)) === 403, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('rejected within one second after the listener was killed', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server, secondServer!);
    expect(await listenerConnections()).toBe(2);

    // Only the listeners of this test's database, because other test files run their own.
    const { rows } = await sql<{ terminated: boolean }>`
      select pg_terminate_backend(pid) as terminated from pg_stat_activity
      where application_name = ${listenerApplicationName} and datname = current_database()
    `.execute(context.database.db);
    expect(rows.map((row) => row.terminated)).toEqual([true, true]);

    await context.server.running.app.services.gatewayKeys.update(writeContext(organizationId), gatewayKey.id, { active: false });
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(secondServer!, gatewayKey)) === 403, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
    expect(await millisecondsUntil(async () => (await listenerConnections()) === 2, 10_000)).toBeLessThan(10_000);
  });

  it.skipIf(!postgresUrl)('deleted key rejected after the listener was killed', async () => {
    const { organizationId, gatewayKey } = await cachedGatewayKey(context.server, secondServer!);
    await sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = ${listenerApplicationName} and datname = current_database()
    `.execute(context.database.db);

    await context.server.running.app.services.gatewayKeys.delete(writeContext(organizationId), gatewayKey.id);
    const elapsed = await millisecondsUntil(async () => (await modelsStatus(secondServer!, gatewayKey)) === 401, 5_000);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });
});
