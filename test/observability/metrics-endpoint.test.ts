import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { metricsToken, scrape } from './helpers.js';
import { sampleValue } from './prometheus-text.js';

// Where /metrics is served and who may read it. By default no client can read it until a token or
// a listener of its own is configured. With a token, only requests that carry it can. With
// METRICS_PORT, only that listener serves it.

let database: TestDatabase;
const servers: InProcessServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const server of servers.splice(0)) await server.stop();
  await database?.destroy();
});

async function startServer(environment: Record<string, string> = {}): Promise<InProcessServer> {
  const server = await startServerOver(database.handle, environment);
  servers.push(server);
  return server;
}

function metricsOrigin(server: InProcessServer): string {
  const address = server.running.app.metricsListener?.address();
  if (!address) throw new Error('the server has no metrics listener');
  return `http://${address.address}:${address.port}`;
}

describe('default settings', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startServer();
  });

  it('answers 403', async () => {
    const result = await scrape(server.baseUrl, null);

    expect(result.status).toBe(403);
  });

  it('403 names both settings', async () => {
    const result = await scrape(server.baseUrl, null);

    expect(result.text).toContain('METRICS_BEARER_TOKEN');
    expect(result.text).toContain('METRICS_PORT');
  });

  it('403 carries no metric', async () => {
    const result = await scrape(server.baseUrl, null);

    expect(result.text).not.toContain('keyroute_');
  });

  it('opens no metrics listener', () => {
    expect(server.running.app.metricsListener).toBeUndefined();
  });

  it('collects metrics all the same', () => {
    expect(server.running.app.metrics).toBeDefined();
  });
});

describe('bearer token on the main port', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startServer({ METRICS_BEARER_TOKEN: metricsToken });
  });

  it('no token gets 401', async () => {
    const response = await fetch(`${server.baseUrl}/metrics`);
    const body = await response.text();

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="keyroute-metrics"');
    expect(body).not.toContain('keyroute_');
  });

  it('wrong token gets 401', async () => {
    const result = await scrape(server.baseUrl, `${metricsToken}x`);

    expect(result.status).toBe(401);
  });

  it('token of another scheme gets 401', async () => {
    const response = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Basic ${metricsToken}` } });
    await response.arrayBuffer();

    expect(response.status).toBe(401);
  });

  it('right token gets the metrics', async () => {
    const result = await scrape(server.baseUrl, metricsToken);

    expect(result.status).toBe(200);
    expect(result.families.has('keyroute_http_requests_total')).toBe(true);
  });

  it('POST gets 405', async () => {
    const response = await fetch(`${server.baseUrl}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${metricsToken}` } });
    await response.arrayBuffer();

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('rejected scrapes are counted', async () => {
    await scrape(server.baseUrl, 'wrong-token-wrong-token');
    const result = await scrape(server.baseUrl, metricsToken);

    expect(sampleValue(result.families, 'keyroute_http_requests_total', { route: 'metrics', status: '401' })).toBeGreaterThanOrEqual(1);
  });
});

describe('disabled metrics', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startServer({ METRICS_ENABLED: 'false', METRICS_BEARER_TOKEN: metricsToken });
  });

  it('/metrics is not found', async () => {
    const result = await scrape(server.baseUrl, metricsToken);

    expect(result.status).toBe(404);
  });

  it('nothing is collected', () => {
    expect(server.running.app.metrics).toBeUndefined();
  });
});

describe('listener of its own', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startServer({ METRICS_PORT: '0' });
  });

  it('serves the metrics', async () => {
    const result = await scrape(metricsOrigin(server), null);

    expect(result.status).toBe(200);
    expect(result.families.has('keyroute_proxy_requests_total')).toBe(true);
  });

  it('listens on 127.0.0.1 by default', () => {
    expect(server.running.app.metricsListener?.address()?.address).toBe('127.0.0.1');
  });

  it('listens on a port other than the main one', () => {
    expect(server.running.app.metricsListener?.address()?.port).not.toBe(server.running.address.port);
  });

  it('main port answers 404', async () => {
    const result = await scrape(server.baseUrl, null);

    expect(result.status).toBe(404);
  });

  it('other paths answer 404', async () => {
    const response = await fetch(`${metricsOrigin(server)}/graphql`);
    await response.arrayBuffer();

    expect(response.status).toBe(404);
  });

  it('counts its own scrapes', async () => {
    await scrape(metricsOrigin(server), null);
    const result = await scrape(metricsOrigin(server), null);

    expect(sampleValue(result.families, 'keyroute_http_requests_total', { route: 'metrics', status: '200' })).toBeGreaterThanOrEqual(1);
  });

  it('closes at shutdown', async () => {
    const other = await startServerOver(database.handle, { METRICS_PORT: '0' });
    const origin = metricsOrigin(other);

    await other.stop();

    await expect(fetch(`${origin}/metrics`)).rejects.toThrow();
  });
});

describe('listener of its own with a token', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    server = await startServer({ METRICS_PORT: '0', METRICS_BEARER_TOKEN: metricsToken });
  });

  it('no token gets 401', async () => {
    const result = await scrape(metricsOrigin(server), null);

    expect(result.status).toBe(401);
  });

  it('right token gets the metrics', async () => {
    const result = await scrape(metricsOrigin(server), metricsToken);

    expect(result.status).toBe(200);
  });

  it('main port answers 404 even with the token', async () => {
    const result = await scrape(server.baseUrl, metricsToken);

    expect(result.status).toBe(404);
  });
});
