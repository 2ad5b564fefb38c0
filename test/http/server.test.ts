import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const viewerQuery = '{ viewer { organization { name } token { actorLabel } } }';

interface LogLine {
  msg: string;
  requestId?: string;
  clientRequestId?: string;
  [field: string]: unknown;
}

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.createTenant('HTTP tests'));
});

afterAll(async () => {
  await server?.close();
});

/**
 * Sends a request with node:http, which lets a test set header values that fetch would reject or
 * rewrite, and returns status, headers and body.
 */
function rawRequest(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${server.baseUrl}${path}`, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

function graphqlHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...extra };
}

/**
 * Returns the log lines written while the request with `requestId` was served: every line from
 * `fromIndex` up to its "Request completed" line, which is written when the response closes.
 */
async function logLinesOfRequest(fromIndex: number, requestId: string): Promise<LogLine[]> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const lines = server.logs.lines.slice(fromIndex).map((line) => JSON.parse(line) as LogLine);
    const completed = lines.findIndex((line) => line.msg === 'Request completed' && line.requestId === requestId);
    if (completed >= 0) return lines.slice(0, completed + 1);
    if (Date.now() > deadline) throw new Error(`No "Request completed" line for ${requestId}:\n${server.logs.text()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('/healthz', () => {
  it('answers 200', async () => {
    const response = await fetch(`${server.baseUrl}/healthz`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('ignores the query string', async () => {
    const response = await fetch(`${server.baseUrl}/healthz?x=1`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('/readyz', () => {
  it('answers 200 with database health', async () => {
    const response = await fetch(`${server.baseUrl}/readyz`);
    const body = (await response.json()) as Record<string, any>;

    expect(response.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks).toEqual({ migrations: 'applied', shuttingDown: false });
    expect(body.database.kind).toBe(server.database.kind);
    expect(body.database.status).toBe('ok');
    expect(typeof body.database.latencyMs).toBe('number');
  });

  it('ignores the query string', async () => {
    const response = await fetch(`${server.baseUrl}/readyz?probe=kubelet`);
    await response.arrayBuffer();

    expect(response.status).toBe(200);
  });
});

describe('unknown routes', () => {
  it.each(['/nothing-here', '/healthz/extra', '/graphql/extra'])('return 404 JSON for %s', async (path) => {
    const response = await fetch(`${server.baseUrl}${path}`);
    const body = (await response.json()) as { error: { type: string; message: string } };

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body.error.type).toBe('not_found');
    expect(body.error.message).toContain(`GET ${path}`);
  });

  it('route on the path without the query string', async () => {
    const response = await fetch(`${server.baseUrl}/nothing-here?healthz`);
    const body = (await response.json()) as { error: { message: string } };

    expect(response.status).toBe(404);
    expect(body.error.message).toContain('GET /nothing-here.');
  });
});

describe('request ids', () => {
  it('are generated for each request', async () => {
    const first = await fetch(`${server.baseUrl}/healthz`);
    const second = await fetch(`${server.baseUrl}/healthz`);
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);

    expect(first.headers.get('x-request-id')).toMatch(uuidPattern);
    expect(second.headers.get('x-request-id')).toMatch(uuidPattern);
    expect(first.headers.get('x-request-id')).not.toBe(second.headers.get('x-request-id'));
  });

  it('are sent on 404 and 401 responses', async () => {
    const notFound = await fetch(`${server.baseUrl}/nothing-here`);
    const unauthenticated = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: viewerQuery }),
    });
    await Promise.all([notFound.arrayBuffer(), unauthenticated.arrayBuffer()]);

    expect(unauthenticated.status).toBe(401);
    expect(notFound.headers.get('x-request-id')).toMatch(uuidPattern);
    expect(unauthenticated.headers.get('x-request-id')).toMatch(uuidPattern);
  });

  it('appear in every request log line', async () => {
    const fromIndex = server.logs.lines.length;

    const response = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: graphqlHeaders(),
      body: JSON.stringify({ query: viewerQuery }),
    });
    const body = (await response.json()) as { data?: { viewer: { token: { actorLabel: string } } } };
    const requestId = response.headers.get('x-request-id')!;
    const lines = await logLinesOfRequest(fromIndex, requestId);

    expect(response.status).toBe(200);
    expect(body.data?.viewer.token.actorLabel).toBe('test write');
    // The GraphQL server logs its steps at debug level, so a request writes several lines.
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.requestId, JSON.stringify(line)).toBe(requestId);
  });

  it('keep the client id beside ours', async () => {
    const fromIndex = server.logs.lines.length;

    const response = await fetch(`${server.baseUrl}/graphql`, {
      method: 'POST',
      headers: graphqlHeaders({ 'x-request-id': 'client-trace-0042' }),
      body: JSON.stringify({ query: viewerQuery }),
    });
    await response.arrayBuffer();
    const requestId = response.headers.get('x-request-id')!;
    const lines = await logLinesOfRequest(fromIndex, requestId);

    expect(requestId).toMatch(uuidPattern);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      expect(line.requestId, JSON.stringify(line)).toBe(requestId);
      expect(line.clientRequestId, JSON.stringify(line)).toBe('client-trace-0042');
    }
  });

  it('appear once in the access line', async () => {
    const fromIndex = server.logs.lines.length;

    const response = await rawRequest('/healthz', { headers: { 'x-request-id': 'client-trace-0043' } });
    const requestId = response.headers['x-request-id'] as string;
    await logLinesOfRequest(fromIndex, requestId);
    const accessLine = server.logs.lines.slice(fromIndex).find((line) => line.includes(requestId) && line.includes('Request completed'))!;

    // JSON.parse keeps the last of two equal keys, so the raw text is counted.
    expect(accessLine.split('"requestId"').length - 1).toBe(1);
    expect(accessLine.split('"clientRequestId"').length - 1).toBe(1);
  });

  it('accept a client id of 128 characters', async () => {
    const clientId = 'a'.repeat(128);
    const fromIndex = server.logs.lines.length;

    const response = await rawRequest('/healthz', { headers: { 'x-request-id': clientId } });
    const lines = await logLinesOfRequest(fromIndex, response.headers['x-request-id'] as string);

    expect(lines.at(-1)!.clientRequestId).toBe(clientId);
  });

  const ignoredClientIds = [
    { case: 'longer than 128 characters', value: 'a'.repeat(129) },
    { case: 'with a tab', value: 'client\tid' },
    { case: 'with a space', value: 'client id' },
    { case: 'with a non-ASCII byte', value: 'client-\u00e9' },
  ];

  it.each(ignoredClientIds)('ignore a client id $case', async ({ value }) => {
    const fromIndex = server.logs.lines.length;

    const response = await rawRequest('/healthz', { headers: { 'x-request-id': value } });
    const requestId = response.headers['x-request-id'] as string;
    const lines = await logLinesOfRequest(fromIndex, requestId);

    expect(response.status).toBe(200);
    expect(requestId).toMatch(uuidPattern);
    for (const line of lines) expect(line).not.toHaveProperty('clientRequestId');
  });
});

describe('connections', () => {
  it('stay open for 65 seconds when idle', async () => {
    const response = await rawRequest('/healthz', { headers: { connection: 'keep-alive' } });

    expect(server.app.server.keepAliveTimeout).toBe(65_000);
    expect(server.app.server.headersTimeout).toBeGreaterThan(65_000);
    expect(response.headers['keep-alive']).toBe('timeout=65');
  });
});
