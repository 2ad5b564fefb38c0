import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { TcpProxy } from '../request-log/tcp-proxy.js';
import { createGatewayKey, createOrganization, createProviderKey, newUpstreamSecrets, openAiClient, startFakes, upstreamEnvironment, type Fakes } from './helpers.js';

// Cutting the database connection needs a server reached over TCP; the embedded database is in
// the same process.
describe.skipIf(!postgresUrl)('PostgreSQL outage', () => {
  const secrets = newUpstreamSecrets();
  let database: TestDatabase;
  let proxied: DatabaseHandle;
  let tcpProxy: TcpProxy;
  let fakes: Fakes;
  let server: InProcessServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(database.url!);
    tcpProxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(database.url!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(tcpProxy.port);
    proxied = await openDatabase({ url: viaProxy.toString(), dataDirectory: '', poolMax: 5, connectTimeoutMs: 1_000, migrateOnStart: false });
    fakes = await startFakes(secrets);
    server = await startServerOver(proxied, { ...upstreamEnvironment(fakes), DATABASE_URL: viaProxy.toString(), REQUEST_LOG_FLUSH_INTERVAL_MS: '100' });
  });

  afterAll(async () => {
    tcpProxy?.restore();
    await Promise.all(Object.values(fakes ?? {}).map((fake) => fake.close()));
    await server?.stop();
    await proxied?.close();
    await tcpProxy?.close();
    await database?.destroy();
  });

  it('keeps serving and accounts for every request', async () => {
    const organizationId = await createOrganization(server);
    const gatewayKey = await createGatewayKey(server, organizationId);
    await createProviderKey(server, organizationId, { provider: 'OPENAI', apiKey: secrets.OPENAI, assignment: { organization: true } });
    const client = openAiClient(server, gatewayKey.secret);
    const ask = () => client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });

    // Warm the caches, then take the database away for about three seconds.
    await ask();
    tcpProxy.cut();
    const duringOutage: string[] = [];
    for (let round = 0; round < 10; round += 1) {
      const completion = await ask();
      duringOutage.push(completion.choices[0]?.message.content ?? '');
      await sleep(300);
    }
    tcpProxy.restore();

    const requests = 1 + duringOutage.length;
    const writer = server.running.app.requestLog;
    const deadline = Date.now() + 20_000;
    while (writer.stats.queued > 0 && Date.now() < deadline) await sleep(100);
    const rows = await database.db.selectFrom('request_logs').select('id').where('gateway_key_id', '=', gatewayKey.id).execute();

    // The outage was real: the writer had to retry.
    expect(server.logs.text()).toContain('Writing a request log batch failed');
    expect(duringOutage.every((text) => text.length > 0)).toBe(true);
    expect(writer.stats.queued).toBe(0);
    expect(rows.length + writer.stats.dropped).toBe(requests);
  }, 60_000);
});
