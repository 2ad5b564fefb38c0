import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportColumns } from '../../src/features/request-log-export/export-formats.js';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { parseCsv } from './csv.js';
import { insertEntries, logEntry } from './seed.js';

// GET /export/request-logs through the real server: authentication, both formats, each filter,
// organization isolation and bad input. The batch size is 7 rows, so every export with more rows
// crosses batch boundaries.

const batchRows = 7;
const day = '2026-12-01';
const range = `from=${day}T00:00:00Z&to=2026-12-02T00:00:00Z`;

let server: TestServer;
let tenant: { organizationId: string; token: string };
let readToken: string;
let other: { organizationId: string; token: string };

const gatewayKeyA = randomUUID();
const gatewayKeyB = randomUUID();
const providerKeyA = randomUUID();

function at(time: string): Date {
  return new Date(`${day}T${time}Z`);
}

beforeAll(async () => {
  // The rows lie on fixed dates, which the longest retention keeps within range for years.
  server = await startTestServer({ REQUEST_LOG_EXPORT_BATCH_ROWS: String(batchRows), REQUEST_LOG_RETENTION_DAYS: '3650' });
  tenant = await server.createTenant('Export organization');
  readToken = (await server.app.services.managementTokens.issue({ organizationId: tenant.organizationId, scope: 'read', actorLabel: 'export reader' })).token;
  other = await server.createTenant('Other organization');

  const organizationId = tenant.organizationId;
  await insertEntries(server.testDatabase.db, [
    // Twenty rows of one gateway key, one minute apart, so that exports cross batch boundaries.
    ...Array.from({ length: 20 }, (_, index) =>
      logEntry(organizationId, {
        occurredAt: new Date(at('01:00:00').getTime() + index * 60_000),
        gatewayKeyId: gatewayKeyA,
        providerKeyId: providerKeyA,
        requestId: `bulk-${String(index).padStart(2, '0')}`,
      }),
    ),
    logEntry(organizationId, { occurredAt: at('05:00:00'), gatewayKeyId: gatewayKeyB, requestId: 'formula', tags: ['=cmd()', 'plain'] }),
    logEntry(organizationId, { occurredAt: at('05:01:00'), gatewayKeyId: gatewayKeyB, requestId: 'quoting', clientRequestId: 'a,"b"' }),
    logEntry(organizationId, {
      occurredAt: at('06:00:00'),
      gatewayKeyId: gatewayKeyB,
      requestId: 'anthropic-platform',
      provider: 'ANTHROPIC',
      model: 'anthropic/claude-sonnet-4-5',
      credentialSource: 'PLATFORM',
      providerKeyId: null,
    }),
    logEntry(organizationId, { occurredAt: at('07:00:00'), gatewayKeyId: gatewayKeyB, requestId: 'client-left', status: 499 }),
    logEntry(organizationId, { occurredAt: at('07:01:00'), gatewayKeyId: gatewayKeyB, requestId: 'bad-request', status: 400, errorCode: 'invalid_request_error' }),
    logEntry(organizationId, { occurredAt: at('07:02:00'), gatewayKeyId: gatewayKeyB, requestId: 'upstream-failed', status: 502 }),
    logEntry(organizationId, { occurredAt: at('08:00:00'), gatewayKeyId: gatewayKeyB, requestId: 'tagged', tags: ['team-a', 'batch'] }),
    // Exactly at the end of the range, which is exclusive.
    logEntry(organizationId, { occurredAt: new Date('2026-12-02T00:00:00Z'), gatewayKeyId: gatewayKeyB, requestId: 'next-day' }),
    // Another organization's row inside the range.
    logEntry(other.organizationId, { occurredAt: at('09:00:00'), gatewayKeyId: gatewayKeyA, requestId: 'other-organization' }),
  ]);
});

afterAll(async () => {
  await server?.close();
});

interface ExportResponse {
  status: number;
  headers: Headers;
  text: string;
}

async function exportLogs(query: string, token: string | null = tenant.token): Promise<ExportResponse> {
  const response = await fetch(`${server.baseUrl}/export/request-logs?${query}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Exports NDJSON and returns the parsed objects. */
async function exportRecords(query: string, token: string = tenant.token): Promise<Record<string, unknown>[]> {
  const result = await exportLogs(`format=ndjson&${query}`, token);
  expect(result.status).toBe(200);
  return result.text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function exportedRequestIds(query: string, token?: string): Promise<string[]> {
  return (await exportRecords(query, token)).map((record) => record.requestId as string);
}

function errorOf(result: ExportResponse): { type: string; message: string; parameter?: string } {
  return (JSON.parse(result.text) as { error: { type: string; message: string; parameter?: string } }).error;
}

describe('authentication', () => {
  it('no token gets 401', async () => {
    const result = await exportLogs(`format=csv&${range}`, null);

    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toBe('Bearer realm="keyroute"');
  });

  it('malformed token gets 401', async () => {
    const result = await exportLogs(`format=csv&${range}`, 'not-a-token');

    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toBe('Bearer realm="keyroute", error="invalid_token"');
  });

  it('unknown token gets 401', async () => {
    const result = await exportLogs(`format=csv&${range}`, `krm_${'A'.repeat(43)}`);

    expect(result.status).toBe(401);
    expect(errorOf(result).message).toContain('unknown or revoked');
  });

  it('read token is enough', async () => {
    const result = await exportLogs(`format=csv&${range}`, readToken);

    expect(result.status).toBe(200);
  });

  it('POST gets 405', async () => {
    const response = await fetch(`${server.baseUrl}/export/request-logs?format=csv&${range}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.token}` },
    });
    await response.arrayBuffer();

    expect(response.status).toBe(405);
  });
});

describe('CSV', () => {
  let result: ExportResponse;
  let records: string[][];

  beforeAll(async () => {
    result = await exportLogs(`format=csv&${range}`);
    records = parseCsv(result.text);
  });

  it('is text/csv', () => {
    expect(result.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
  });

  it('names the file after the range', () => {
    expect(result.headers.get('content-disposition')).toBe('attachment; filename="keyroute-request-logs-20261201T000000Z-20261202T000000Z.csv"');
  });

  it('starts with the header row', () => {
    expect(records[0]).toEqual([...exportColumns]);
  });

  it('has one record per row in the range', () => {
    expect(records).toHaveLength(1 + 27);
  });

  it('is in time order', () => {
    const times = records.slice(1).map((record) => record[0]!);

    expect(times).toEqual([...times].sort());
  });

  it('escapes a formula tag', () => {
    const formula = records.find((record) => record[1] === 'formula')!;

    expect(formula[exportColumns.indexOf('tags')]).toBe("'=cmd(),plain");
  });

  it('quotes commas and quotes', () => {
    expect(result.text).toContain(',"a,""b""",');
  });

  it('reads back the quoted value', () => {
    const quoting = records.find((record) => record[1] === 'quoting')!;

    expect(quoting[exportColumns.indexOf('clientRequestId')]).toBe('a,"b"');
  });

  it('writes microsecond times in UTC', () => {
    expect(records[1]![0]).toBe('2026-12-01T01:00:00.000000Z');
  });

  it('writes global key ids', () => {
    const row = records.find((record) => record[1] === 'bulk-00')!;

    expect(row[exportColumns.indexOf('gatewayKeyId')]).toBe(encodeGlobalID('GatewayKey', gatewayKeyA));
    expect(row[exportColumns.indexOf('providerKeyId')]).toBe(encodeGlobalID('ProviderKey', providerKeyA));
  });

  it('empty range has the header only', async () => {
    const empty = await exportLogs('format=csv&from=2025-01-01&to=2025-01-02');

    expect(parseCsv(empty.text)).toEqual([[...exportColumns]]);
  });
});

describe('NDJSON', () => {
  let result: ExportResponse;

  beforeAll(async () => {
    result = await exportLogs(`format=ndjson&${range}`);
  });

  it('is application/x-ndjson', () => {
    expect(result.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(result.headers.get('content-disposition')).toContain('.ndjson"');
  });

  it('every line parses', () => {
    const lines = result.text.split('\n');

    expect(lines.at(-1)).toBe('');
    for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('one line per row', () => {
    expect(result.text.split('\n').filter((line) => line !== '')).toHaveLength(27);
  });

  it('objects have the export columns', () => {
    const first = JSON.parse(result.text.split('\n')[0]!) as Record<string, unknown>;

    expect(Object.keys(first)).toEqual([...exportColumns]);
  });

  it('tokens and cost are numbers', async () => {
    const record = (await exportRecords(range)).find((candidate) => candidate.requestId === 'bulk-00')!;

    expect(record.inputUncachedTokens).toBe(12);
    expect(record.outputTokens).toBe(7);
    expect(record.costMicroUsd).toBe(100);
  });

  it('tags are an array, unescaped', async () => {
    const record = (await exportRecords(range)).find((candidate) => candidate.requestId === 'formula')!;

    expect(record.tags).toEqual(['=cmd()', 'plain']);
  });

  it('never includes the raw usage', () => {
    expect(result.text).not.toContain('prompt_tokens');
  });
});

describe('filters', () => {
  it('provider', async () => {
    expect(await exportedRequestIds(`${range}&provider=ANTHROPIC`)).toEqual(['anthropic-platform']);
  });

  it('provider by prefix', async () => {
    expect(await exportedRequestIds(`${range}&provider=anthropic`)).toEqual(['anthropic-platform']);
  });

  it('model', async () => {
    expect(await exportedRequestIds(`${range}&model=anthropic/claude-sonnet-4-5`)).toEqual(['anthropic-platform']);
  });

  it('credential source', async () => {
    expect(await exportedRequestIds(`${range}&credentialSource=PLATFORM`)).toEqual(['anthropic-platform']);
  });

  it('4xx leaves out 499', async () => {
    expect(await exportedRequestIds(`${range}&statusClass=4xx`)).toEqual(['bad-request']);
  });

  it('499 alone', async () => {
    expect(await exportedRequestIds(`${range}&statusClass=499`)).toEqual(['client-left']);
  });

  it('5xx', async () => {
    expect(await exportedRequestIds(`${range}&statusClass=5xx`)).toEqual(['upstream-failed']);
  });

  it('gateway key', async () => {
    const ids = await exportedRequestIds(`${range}&gatewayKeyId=${encodeURIComponent(encodeGlobalID('GatewayKey', gatewayKeyA))}`);

    expect(ids).toEqual(Array.from({ length: 20 }, (_, index) => `bulk-${String(index).padStart(2, '0')}`));
  });

  it('provider key', async () => {
    const ids = await exportedRequestIds(`${range}&providerKeyId=${encodeURIComponent(encodeGlobalID('ProviderKey', providerKeyA))}`);

    expect(ids).toHaveLength(20);
  });

  it('tag', async () => {
    expect(await exportedRequestIds(`${range}&tag=team-a`)).toEqual(['tagged']);
  });

  it('from is inclusive', async () => {
    expect((await exportedRequestIds(`from=${day}T05:00:00Z&to=${day}T05:00:30Z`))).toEqual(['formula']);
  });

  it('to is exclusive', async () => {
    expect(await exportedRequestIds(`from=${day}T04:00:00Z&to=${day}T05:00:00Z`)).toEqual([]);
  });

  it('filters combine', async () => {
    expect(await exportedRequestIds(`${range}&gatewayKeyId=${encodeURIComponent(encodeGlobalID('GatewayKey', gatewayKeyB))}&statusClass=2xx&tag=team-a`)).toEqual([
      'tagged',
    ]);
  });
});

describe('organization isolation', () => {
  it('another organization sees only its rows', async () => {
    expect(await exportedRequestIds(range, other.token)).toEqual(['other-organization']);
  });

  it('a foreign gateway key id finds nothing', async () => {
    // gatewayKeyA has rows in both organizations; the filter adds to the organization, never replaces it.
    const ids = await exportedRequestIds(`${range}&gatewayKeyId=${encodeURIComponent(encodeGlobalID('GatewayKey', gatewayKeyA))}`, other.token);

    expect(ids).toEqual(['other-organization']);
  });
});

describe('keyset batches', () => {
  it('rows in one microsecond come once each', async () => {
    const organization = await server.createTenant('Same instant');
    // More rows than one batch at one instant, and rows microseconds apart that one millisecond holds.
    await sql`
      insert into request_logs (id, occurred_at, organization_id, gateway_key_id, stream, status, latency_ms, request_id)
      select gen_random_uuid(), timestamptz '2026-12-01 12:00:00.123456+00' + (n % 3) * interval '1 microsecond',
             ${organization.organizationId}::uuid, gen_random_uuid(), false, 200, 1, 'same-' || n
      from generate_series(1, ${batchRows * 3 + 2}) as n
    `.execute(server.testDatabase.db);

    const ids = await exportedRequestIds(range, organization.token);

    expect(ids).toHaveLength(batchRows * 3 + 2);
    expect(new Set(ids).size).toBe(batchRows * 3 + 2);
  });

  it('keeps microseconds in the time', async () => {
    const organization = await server.createTenant('Microseconds');
    await sql`
      insert into request_logs (id, occurred_at, organization_id, gateway_key_id, stream, status, latency_ms, request_id)
      values (gen_random_uuid(), timestamptz '2026-12-01 12:00:00.123456+00', ${organization.organizationId}::uuid, gen_random_uuid(), false, 200, 1, 'micro')
    `.execute(server.testDatabase.db);

    const [record] = await exportRecords(range, organization.token);

    expect(record!.occurredAt).toBe('2026-12-01T12:00:00.123456Z');
  });
});

describe('bad input', () => {
  it('missing format', async () => {
    const result = await exportLogs(range);

    expect(result.status).toBe(400);
    expect(errorOf(result)).toMatchObject({ type: 'invalid_request', parameter: 'format' });
  });

  it('unknown format names the choices', async () => {
    const result = await exportLogs(`format=xlsx&${range}`);

    expect(result.status).toBe(400);
    expect(errorOf(result).message).toBe('Invalid format "xlsx". Use format=csv or format=ndjson.');
  });

  it('missing from means a day before to', async () => {
    const result = await exportLogs('format=csv&to=2026-12-02T00:00:00Z');

    expect(result.status).toBe(200);
    expect(result.headers.get('content-disposition')).toContain('keyroute-request-logs-20261201T000000Z-20261202T000000Z.csv');
  });

  it('time without a zone', async () => {
    const result = await exportLogs('format=csv&from=2026-12-01T00:00:00&to=2026-12-02');

    expect(result.status).toBe(400);
    expect(errorOf(result).message).toContain('Invalid from "2026-12-01T00:00:00"');
  });

  it('range beyond the maximum names the limit', async () => {
    const result = await exportLogs('format=csv&from=2026-10-01&to=2026-12-01');

    expect(result.status).toBe(400);
    expect(errorOf(result).parameter).toBe('to');
    expect(errorOf(result).message).toContain('at most 31 days');
  });

  it('range past retention names the setting', async () => {
    const result = await exportLogs('format=csv&from=2010-01-01&to=2010-01-02');

    expect(result.status).toBe(400);
    expect(errorOf(result).parameter).toBe('from');
    expect(errorOf(result).message).toContain('REQUEST_LOG_RETENTION_DAYS');
  });

  it('reversed range', async () => {
    const result = await exportLogs('format=csv&from=2026-12-02&to=2026-12-01');

    expect(result.status).toBe(400);
    expect(errorOf(result).parameter).toBe('to');
  });

  it('unknown parameter', async () => {
    const result = await exportLogs(`format=csv&${range}&provder=OPENAI`);

    expect(result.status).toBe(400);
    expect(errorOf(result).message).toContain('Unknown parameter "provder"');
  });

  it('id of another type', async () => {
    const result = await exportLogs(`format=csv&${range}&gatewayKeyId=${encodeURIComponent(encodeGlobalID('ProviderKey', providerKeyA))}`);

    expect(result.status).toBe(400);
    expect(errorOf(result).message).toContain('expected the id of a GatewayKey');
  });

  it('errors are JSON', async () => {
    const result = await exportLogs(`format=csv&${range}&statusClass=3xx`);

    expect(result.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });
});

describe('logging', () => {
  it('logs the completed export with counts', async () => {
    await exportLogs(`format=csv&${range}`);

    const line = server.logs.lines.map((text) => JSON.parse(text) as Record<string, unknown>).findLast((entry) => entry.msg === 'Request log export completed');
    expect(line).toMatchObject({ organizationId: tenant.organizationId, format: 'csv', rows: 27, batches: 4 });
  });
});
