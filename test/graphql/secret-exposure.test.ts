import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../support/database.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  CreateGatewayKey,
  DeleteGatewayKey,
  GatewayKeysPage,
  NodeById,
  RegenerateGatewayKeySecret,
  UpdateGatewayKey,
  Viewer,
} from './documents.js';
import { dumpDatabase, execute, findInDatabase, missingGatewayKeyId, postGraphql, type ColumnValue } from './helpers.js';

let server: TestServer;
let writer: { organizationId: string; token: string };
let reader: { organizationId: string; token: string };
let outsider: { organizationId: string; token: string };

/** Every response body of the call sequence, in order. */
const responses: { call: string; body: string }[] = [];
let createdSecret: string;
let regeneratedSecret: string;
let databaseValues: ColumnValue[];

async function record<T extends { raw: string }>(call: string, response: Promise<T>): Promise<T> {
  const result = await response;
  responses.push({ call, body: result.raw });
  return result;
}

beforeAll(async () => {
  server = await startTestServer();
  writer = await server.createTenant('Secrets', 'write');
  reader = await server.createTenant('Secrets reader', 'read');
  outsider = await server.createTenant('Secrets outsider', 'write');

  const created = await record('create', execute(server, CreateGatewayKey, { input: { name: 'exposed?' } }, writer.token));
  const payload = created.data?.createGatewayKey;
  if (payload?.__typename !== 'GatewayKeyWithSecret') throw new Error(created.raw);
  createdSecret = payload.secret;
  const id = payload.gatewayKey.id;

  await record('list', execute(server, GatewayKeysPage, { first: 10 }, writer.token));
  await record('node', execute(server, NodeById, { id }, writer.token));
  await record('update', execute(server, UpdateGatewayKey, { input: { id, name: 'renamed', modelAllowList: ['openai/*'] } }, writer.token));
  await record('invalid update', execute(server, UpdateGatewayKey, { input: { id, name: '' } }, writer.token));
  await record('update of a missing id', execute(server, UpdateGatewayKey, { input: { id: missingGatewayKeyId(), name: 'x' } }, writer.token));
  await record('regenerate by a read token', execute(server, RegenerateGatewayKeySecret, { id }, reader.token));
  await record('regenerate by another organization', execute(server, RegenerateGatewayKeySecret, { id }, outsider.token));
  await record('malformed query', postGraphql(server, { query: '{ gatewayKeys {' }, { authorization: `Bearer ${writer.token}` }));
  await record('unauthenticated', postGraphql(server, { query: '{ viewer { token { id } } }' }));

  const regenerated = await record('regenerate', execute(server, RegenerateGatewayKeySecret, { id }, writer.token));
  const regeneratedPayload = regenerated.data?.regenerateGatewayKeySecret;
  if (regeneratedPayload?.__typename !== 'GatewayKeyWithSecret') throw new Error(regenerated.raw);
  regeneratedSecret = regeneratedPayload.secret;

  await record('list after regenerate', execute(server, GatewayKeysPage, { first: 10 }, writer.token));
  await record('node after regenerate', execute(server, NodeById, { id }, writer.token));
  await record('viewer', execute(server, Viewer, {}, writer.token));

  // A second key that is deleted, so the delete path is covered too.
  const doomed = await record('create second', execute(server, CreateGatewayKey, { input: { name: 'doomed' } }, writer.token));
  const doomedPayload = doomed.data?.createGatewayKey;
  if (doomedPayload?.__typename !== 'GatewayKeyWithSecret') throw new Error(doomed.raw);
  await record('delete second', execute(server, DeleteGatewayKey, { id: doomedPayload.gatewayKey.id }, writer.token));

  await server.app.flushLastUsed();
  databaseValues = await dumpDatabase(server.testDatabase.db);
});

afterAll(async () => {
  await server?.close();
});

function callsContaining(text: string): string[] {
  return responses.filter((response) => response.body.includes(text)).map((response) => response.call);
}

function logLinesContaining(text: string): string[] {
  return server.logs.lines.filter((line) => line.includes(text));
}

function columnsContaining(text: string): string[] {
  return databaseValues.filter((value) => value.text.includes(text)).map((value) => `${value.table}.${value.column}`);
}

describe('a gateway key secret', () => {
  it('appears only in the creation response', () => {
    expect(callsContaining(createdSecret)).toEqual(['create']);
  });

  it('after regeneration appears only in that response', () => {
    expect(callsContaining(regeneratedSecret)).toEqual(['regenerate']);
  });

  it('appears in no log line', () => {
    expect(logLinesContaining(createdSecret)).toEqual([]);
    expect(logLinesContaining(regeneratedSecret)).toEqual([]);
  });

  it('appears in no column', () => {
    expect(columnsContaining(createdSecret)).toEqual([]);
    expect(columnsContaining(regeneratedSecret)).toEqual([]);
  });

  it('past its prefix appears in no column', () => {
    // The display prefix is stored on purpose; what follows it must not be, in any column.
    expect(columnsContaining(createdSecret.slice(9))).toEqual([]);
    expect(columnsContaining(regeneratedSecret.slice(9))).toEqual([]);
  });
});

describe('a management token', () => {
  it('appears in no log line', () => {
    for (const token of [writer.token, reader.token, outsider.token]) {
      expect(logLinesContaining(token)).toEqual([]);
    }
  });

  it('appears in no column', () => {
    for (const token of [writer.token, reader.token, outsider.token]) {
      expect(columnsContaining(token)).toEqual([]);
    }
  });

  it('appears in no response', () => {
    for (const token of [writer.token, reader.token, outsider.token]) {
      expect(callsContaining(token)).toEqual([]);
    }
  });

  // Only the embedded database gets a first organization and token at start.
  it.skipIf(postgresUrl !== undefined)('from the first start appears in no log line or column', async () => {
    const firstStartToken = server.firstStart!.token;

    expect(logLinesContaining(firstStartToken)).toEqual([]);
    expect(await findInDatabase(server.testDatabase.db, firstStartToken)).toEqual([]);
  });
});

describe('the database dump', () => {
  // Guards the searches above: a dump that missed tables or columns would find nothing either.
  it('covers the tables that hold secrets and their hashes', () => {
    const columns = new Set(databaseValues.map((value) => `${value.table}.${value.column}`));

    expect(columns).toContain('public.gateway_keys.secret_hash');
    expect(columns).toContain('public.management_tokens.token_hash');
    expect(columns).toContain('public.audit_events.changes');
  });

  it('finds a stored display prefix', () => {
    expect(columnsContaining(regeneratedSecret.slice(0, 9))).toContain('public.gateway_keys.display_prefix');
  });
});
