import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { startSlowGraphqlRequest } from '../support/slow-request.js';

const viewerQuery = '{ viewer { token { actorLabel } } }';

let database: TestDatabase;
let server: InProcessServer | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

afterAll(async () => {
  await database?.destroy();
});

/** Starts a server over the shared database and issues a write token through its services. */
async function startWithToken(environment: Record<string, string>): Promise<{ server: InProcessServer; token: string }> {
  const started = await startServerOver(database.handle, {
    ...(database.url && { DATABASE_URL: database.url }),
    ...environment,
  });
  server = started;
  const organization = await started.running.app.services.organizations.create('Shutdown tests');
  const { token } = await started.running.app.services.managementTokens.issue({
    organizationId: organization.id,
    scope: 'write',
    actorLabel: 'shutdown test',
  });
  return { server: started, token };
}

/**
 * Resolves once the server has the slow request's connection, plus a moment for Node to parse its
 * headers and call the request handler, which counts the request as in flight.
 */
async function waitForConnection(started: InProcessServer): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    const count = await new Promise<number>((resolve, reject) =>
      started.running.app.server.getConnections((error, connections) => (error ? reject(error) : resolve(connections))),
    );
    if (count > 0) {
      await sleep(50);
      return;
    }
    await sleep(10);
  }
  throw new Error('The slow request never connected');
}

describe('shutdown', () => {
  it('fails /readyz during the delay', async () => {
    const { server: started } = await startWithToken({ SHUTDOWN_DELAY_MS: '1000' });

    const stopping = started.stop();
    const readyz = await fetch(`${started.baseUrl}/readyz`);
    const body = (await readyz.json()) as Record<string, any>;
    const healthz = await fetch(`${started.baseUrl}/healthz`);
    await healthz.arrayBuffer();

    expect(readyz.status).toBe(503);
    expect(body.status).toBe('not_ready');
    expect(body.checks.shuttingDown).toBe(true);
    expect(readyz.headers.get('connection')).toBe('close');
    expect(healthz.status).toBe(200);
    await stopping;
  });

  it('lets an in-flight request finish', async () => {
    const { server: started, token } = await startWithToken({ SHUTDOWN_DELAY_MS: '200', SHUTDOWN_DRAIN_MS: '10000' });
    const slow = startSlowGraphqlRequest(started.baseUrl, token, viewerQuery);
    await waitForConnection(started);

    const stopStarted = Date.now();
    const stopping = started.stop();
    await sleep(400);
    const refused = await fetch(`${started.baseUrl}/healthz`).then(
      () => 'accepted',
      () => 'refused',
    );
    slow.finish();
    const response = await slow.response;
    await stopping;

    expect(refused).toBe('refused');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { viewer: { token: { actorLabel: 'shutdown test' } } } });
    expect(Date.now() - stopStarted).toBeLessThan(10_000);
  });

  it('cuts off a request at the drain bound', async () => {
    const { server: started, token } = await startWithToken({ SHUTDOWN_DELAY_MS: '0', SHUTDOWN_DRAIN_MS: '300' });
    const slow = startSlowGraphqlRequest(started.baseUrl, token, viewerQuery);
    await waitForConnection(started);

    const stopStarted = Date.now();
    await started.stop();
    const stopDuration = Date.now() - stopStarted;

    await expect(slow.response).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(stopDuration).toBeGreaterThanOrEqual(290);
    expect(stopDuration).toBeLessThan(3_000);
    const drainLine = started.logs.lines.map((line) => JSON.parse(line)).find((line) => line.msg.startsWith('Drain bound reached'));
    expect(drainLine).toMatchObject({ level: 'warn', inFlight: 1, drainMs: 300 });
  });
});
