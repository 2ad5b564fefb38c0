import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { GatewayKeysPage, Viewer } from './documents.js';
import { execute, type GraphqlResponse } from './helpers.js';

interface LogLine {
  level: string;
  msg: string;
  requestId?: string;
  err?: { message?: string; type?: string };
  [field: string]: unknown;
}

// This file breaks its own server's database, so it starts a server of its own.
let server: TestServer;
let token: string;
let failed: GraphqlResponse<unknown>;

beforeAll(async () => {
  server = await startTestServer();
  ({ token } = await server.createTenant('Masking', 'read'));
  // Authentication still reads management_tokens; the resolver of gatewayKeys then fails in SQL.
  await sql`alter table gateway_keys rename to gateway_keys_moved_away`.execute(server.testDatabase.db);
  failed = await execute(server, GatewayKeysPage, { first: 5 }, token);
});

afterAll(async () => {
  await server?.close();
});

function linesOf(requestId: string | null): LogLine[] {
  return server.logs.lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.requestId === requestId);
}

describe('an unexpected resolver error', () => {
  it('reaches the client masked', () => {
    expect(failed.errors).toHaveLength(1);
    expect(failed.errors?.[0]?.message).toBe('Unexpected error.');
    expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('tells the client nothing about the database', () => {
    expect(failed.raw).not.toContain('gateway_keys');
    expect(failed.raw).not.toMatch(/relation|select|stack/i);
  });

  it('keeps status 200 with the failed field null', () => {
    expect(failed.status).toBe(200);
    expect(failed.data ?? null).toBeNull();
  });

  it('is logged with the request id of the response', () => {
    const requestId = failed.headers.get('x-request-id');
    const errors = linesOf(requestId).filter((line) => line.level === 'error');

    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(errors.map((line) => line.msg)).toContain('Unexpected error in a GraphQL resolver');
  });

  it('is logged with its cause', () => {
    const logged = linesOf(failed.headers.get('x-request-id')).find((line) => line.msg === 'Unexpected error in a GraphQL resolver');

    expect(logged?.err?.message).toContain('gateway_keys');
  });

  it('is logged once', () => {
    const errors = linesOf(failed.headers.get('x-request-id')).filter((line) => line.level === 'error');

    expect(errors).toHaveLength(1);
  });

  it('leaves the other log lines of the request without its fields', () => {
    // pino merges each line's fields into the object a mixin returns; the request ids must not carry them on.
    const completed = linesOf(failed.headers.get('x-request-id')).find((line) => line.msg === 'Request completed');

    expect(completed?.err).toBeUndefined();
    expect(completed?.yoga).toBeUndefined();
  });

  it('leaves the server serving other fields', async () => {
    const response = await execute(server, Viewer, {}, token);

    expect(response.status).toBe(200);
    expect(response.data?.viewer.token.scope).toBe('READ');
  });
});
