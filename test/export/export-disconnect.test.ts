import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QueryLog } from '../support/query-log.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { seedBulkRows } from './seed.js';

// A client that leaves in the middle of an export must stop the server's query loop: no query
// after the one in flight, and the export logged as stopped.

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const rowCount = 30_000;
const batchRows = 100;
const totalBatches = rowCount / batchRows;

let server: TestServer;
let token: string;
const queryLog = new QueryLog();

beforeAll(async () => {
  // The rows lie on a fixed date, which the longest retention keeps within range for years.
  server = await startTestServer({ REQUEST_LOG_EXPORT_BATCH_ROWS: String(batchRows), REQUEST_LOG_RETENTION_DAYS: '3650' }, { plugins: [queryLog] });
  const tenant = await server.createTenant('Disconnect test', 'read');
  token = tenant.token;
  await seedBulkRows(server.testDatabase.db, { organizationId: tenant.organizationId, count: rowCount, start: new Date('2026-12-01T00:00:00Z'), stepMs: 1_000 });
});

afterAll(async () => {
  await server?.close();
});

/** Starts an export, destroys the connection at the first body chunk, and returns the server's request id. */
function exportAndLeave(): Promise<string> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`${server.baseUrl}/export/request-logs?format=ndjson&from=2026-12-01&to=2026-12-02`, {
      headers: { authorization: `Bearer ${token}` },
      agent: false,
    });
    outgoing.on('response', (incoming) => {
      incoming.once('data', () => {
        outgoing.destroy();
        resolve(incoming.headers['x-request-id'] as string);
      });
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // Destroying the request ends it with this error after the response began; anything else is a failure.
      if (error.code !== 'ECONNRESET') reject(error);
    });
    outgoing.end();
  });
}

async function stoppedLine(requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const line = server.logs.lines
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry.requestId === requestId && typeof entry.msg === 'string' && entry.msg.startsWith('Request log export'));
    if (line) return line;
    await sleep(25);
  }
  throw new Error(`no export outcome was logged for request ${requestId}`);
}

describe('client disconnect', () => {
  it('stops the query loop', async () => {
    const requestId = await exportAndLeave();

    const line = await stoppedLine(requestId);
    const queriesAtStop = queryLog.queriesOf(requestId).filter((query) => query.table === 'request_logs').length;
    await sleep(500);
    const queriesLater = queryLog.queriesOf(requestId).filter((query) => query.table === 'request_logs').length;

    expect(line.msg).toBe('Request log export stopped because the client disconnected');
    expect(line.batches).toBeLessThan(totalBatches);
    expect(queriesAtStop).toBe(line.batches);
    expect(queriesLater).toBe(queriesAtStop);
  });
});
