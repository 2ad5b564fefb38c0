import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdFor, encodeGlobalID } from '../../src/graphql/global-id.js';
import { graphql } from '../generated/gql.js';
import type { CreateGatewayKeyInput } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateGatewayKey, DeleteGatewayKey, GatewayKeysPage, NodeById, RegenerateGatewayKeySecret, UpdateGatewayKey } from './documents.js';
import { countRows, createGatewayKey, execute, expectMember, findGatewayKeyRow, missingGatewayKeyId, postGraphql } from './helpers.js';

const CreateWithExpiryVariable = graphql(`
  mutation InputValidationCreateWithExpiry($expiresAt: DateTime) {
    createGatewayKey(input: { name: "expiry variable", expiresAt: $expiresAt }) {
      __typename
    }
  }
`);

let server: TestServer;
let token: string;
let organizationGlobalId: string;

beforeAll(async () => {
  server = await startTestServer();
  const tenant = await server.createTenant('Input validation', 'write');
  token = tenant.token;
  organizationGlobalId = encodeGlobalID('Organization', tenant.organizationId);
});

afterAll(async () => {
  await server?.close();
});

/** Row counts that a rejected request must leave as they were. */
async function counts() {
  const db = server.testDatabase.db;
  return { gatewayKeys: await countRows(db, 'gateway_keys'), auditEvents: await countRows(db, 'audit_events') };
}

function inThePast(): string {
  return new Date(Date.now() - 60_000).toISOString();
}

describe('createGatewayKey input', () => {
  const cases: { name: string; input: CreateGatewayKeyInput; path: string[]; message: RegExp }[] = [
    { name: 'empty name', input: { name: '' }, path: ['input', 'name'], message: /must not be empty/ },
    { name: 'whitespace name', input: { name: ' \t\n ' }, path: ['input', 'name'], message: /must not be empty or only whitespace/ },
    { name: 'name of 101 characters', input: { name: 'n'.repeat(101) }, path: ['input', 'name'], message: /at most 100 characters, got 101/ },
    { name: 'past expiry', input: { name: 'k', expiresAt: '2020-01-01T00:00:00Z' }, path: ['input', 'expiresAt'], message: /must be in the future/ },
    { name: 'bare model id', input: { name: 'k', modelAllowList: ['gpt-4o'] }, path: ['input', 'modelAllowList', '0'], message: /expected provider\/model/ },
    { name: 'unknown provider', input: { name: 'k', modelAllowList: ['unknown/x'] }, path: ['input', 'modelAllowList', '0'], message: /unknown provider "unknown"/ },
    { name: 'empty model', input: { name: 'k', modelAllowList: ['openai/'] }, path: ['input', 'modelAllowList', '0'], message: /model id of 1 to 256 characters/ },
    { name: 'model with a space', input: { name: 'k', modelAllowList: ['openai/gpt 4o'] }, path: ['input', 'modelAllowList', '0'], message: /without spaces/ },
    { name: 'leading slash', input: { name: 'k', modelAllowList: ['/gpt-4o'] }, path: ['input', 'modelAllowList', '0'], message: /expected provider\/model/ },
    { name: 'entry with a newline', input: { name: 'k', modelAllowList: ['openai/gpt-4o\n'] }, path: ['input', 'modelAllowList', '0'], message: /without spaces/ },
  ];

  it.each(cases)('rejects $name with its path', async ({ input, path }) => {
    const response = await execute(server, CreateGatewayKey, { input }, token);

    const payload = expectMember(response.data?.createGatewayKey, 'ValidationError');
    expect(payload.fieldErrors.map((error) => error.path)).toEqual([path]);
  });

  it.each(cases)('explains $name', async ({ input, message }) => {
    const response = await execute(server, CreateGatewayKey, { input }, token);

    const payload = expectMember(response.data?.createGatewayKey, 'ValidationError');
    expect(payload.fieldErrors[0]?.message).toMatch(message);
    expect(payload.code).toBe('validation_failed');
  });

  it.each(cases)('writes nothing for $name', async ({ input }) => {
    const before = await counts();

    await execute(server, CreateGatewayKey, { input }, token);

    expect(await counts()).toEqual(before);
  });

  it('lists every problem at once', async () => {
    const before = await counts();

    const response = await execute(
      server,
      CreateGatewayKey,
      { input: { name: '   ', expiresAt: inThePast(), modelAllowList: ['openai/gpt-4o', 'gpt-4o', 'anthropic/*', 'unknown/x', 'openai/'] } },
      token,
    );

    const payload = response.data?.createGatewayKey;
    if (payload?.__typename !== 'ValidationError') throw new Error(response.raw);
    expect(payload.fieldErrors.map((error) => error.path)).toEqual([
      ['input', 'name'],
      ['input', 'expiresAt'],
      ['input', 'modelAllowList', '1'],
      ['input', 'modelAllowList', '3'],
      ['input', 'modelAllowList', '4'],
    ]);
    expect(payload.message).toContain('input.modelAllowList[3]');
    expect(await counts()).toEqual(before);
  });

  it('rejects more than 200 allow-list entries', async () => {
    const modelAllowList = Array.from({ length: 201 }, (_, index) => `openai/model-${index}`);

    const response = await execute(server, CreateGatewayKey, { input: { name: 'k', modelAllowList } }, token);

    const payload = expectMember(response.data?.createGatewayKey, 'ValidationError');
    expect(payload.fieldErrors).toEqual([
      { path: ['input', 'modelAllowList'], message: 'must have at most 200 entries, got 201' },
    ]);
  });
});

describe('updateGatewayKey input', () => {
  let id: string;
  let rowId: string;

  beforeAll(async () => {
    const created = await createGatewayKey(server, token, { name: 'update target', modelAllowList: ['openai/*'] });
    id = created.gatewayKey.id;
    rowId = decodeIdFor('GatewayKey', id, ['id']);
  });

  const cases = [
    { name: 'empty name', input: { name: '' }, paths: [['input', 'name']] },
    { name: 'long name', input: { name: 'x'.repeat(101) }, paths: [['input', 'name']] },
    { name: 'null name', input: { name: null }, paths: [['input', 'name']] },
    { name: 'past expiry', input: { expiresAt: '2001-09-09T01:46:40Z' }, paths: [['input', 'expiresAt']] },
    { name: 'bad allow-list entries', input: { modelAllowList: ['openai/*', 'gpt-4o', 'nope/x'] }, paths: [['input', 'modelAllowList', '1'], ['input', 'modelAllowList', '2']] },
    { name: 'several fields', input: { name: ' ', expiresAt: '2001-09-09T01:46:40Z', active: null }, paths: [['input', 'name'], ['input', 'active'], ['input', 'expiresAt']] },
  ];

  it.each(cases)('rejects $name with its paths', async ({ input, paths }) => {
    const response = await execute(server, UpdateGatewayKey, { input: { id, ...input } }, token);

    const payload = expectMember(response.data?.updateGatewayKey, 'ValidationError');
    expect(payload.fieldErrors.map((error) => error.path)).toEqual(paths);
  });

  it.each(cases)('leaves the key and audit log unchanged for $name', async ({ input }) => {
    const before = { row: await findGatewayKeyRow(server.testDatabase.db, rowId), counts: await counts() };

    await execute(server, UpdateGatewayKey, { input: { id, ...input } }, token);

    expect(await findGatewayKeyRow(server.testDatabase.db, rowId)).toEqual(before.row);
    expect(await counts()).toEqual(before.counts);
  });
});

describe('ids', () => {
  let keyId: string;

  beforeAll(async () => {
    ({
      gatewayKey: { id: keyId },
    } = await createGatewayKey(server, token, { name: 'id target' }));
  });

  // Ids are functions because the organization exists only once beforeAll has run.
  const badIds = [
    { name: 'an Organization id', id: () => organizationGlobalId, message: /is an id of type Organization; expected the id of a GatewayKey/ },
    { name: 'a garbled id', id: () => '!!!', message: /is not a valid id/ },
    { name: 'random base64', id: () => randomBytes(24).toString('base64'), message: /is not a valid id|is an id of/ },
    { name: 'an empty id', id: () => '', message: /is not a valid id/ },
    { name: 'a GatewayKey id without a UUID', id: () => encodeGlobalID('GatewayKey', '42'), message: /is not a valid id/ },
  ];

  const mutations = {
    updateGatewayKey: (id: string) => execute(server, UpdateGatewayKey, { input: { id, name: 'renamed' } }, token),
    regenerateGatewayKeySecret: (id: string) => execute(server, RegenerateGatewayKeySecret, { id }, token),
    deleteGatewayKey: (id: string) => execute(server, DeleteGatewayKey, { id }, token),
  };
  const argumentPaths = { updateGatewayKey: ['input', 'id'], regenerateGatewayKeySecret: ['id'], deleteGatewayKey: ['id'] };
  const mutationNames = Object.keys(mutations) as (keyof typeof mutations)[];

  describe.each(mutationNames)('%s', (mutation) => {
    it.each(badIds)('rejects $name as invalid', async ({ id, message }) => {
      const before = await counts();

      const response = await mutations[mutation](id());

      const payload = (response.data as Record<string, { __typename: string; fieldErrors?: { path: string[]; message: string }[] }>)[mutation];
      expect(payload?.__typename).toBe('ValidationError');
      expect(payload?.fieldErrors?.[0]?.path).toEqual(argumentPaths[mutation]);
      expect(payload?.fieldErrors?.[0]?.message).toMatch(message);
      expect(await counts()).toEqual(before);
    });

    it('reports a missing id as not found', async () => {
      const missing = missingGatewayKeyId();
      const before = await counts();

      const response = await mutations[mutation](missing);

      const payload = (response.data as Record<string, { __typename: string; id?: string; code?: string }>)[mutation];
      expect(payload?.__typename).toBe('NotFoundError');
      expect(payload?.id).toBe(missing);
      expect(payload?.code).toBe('not_found');
      expect(await counts()).toEqual(before);
    });
  });

  it('leaves the key intact after every rejected id', async () => {
    const response = await execute(server, NodeById, { id: keyId }, token);

    const node = expectMember(response.data?.node, 'GatewayKey');
    expect(node.name).toBe('id target');
  });

  it('makes node return null for a missing id', async () => {
    const response = await execute(server, NodeById, { id: missingGatewayKeyId() }, token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it('makes node return null for a GatewayKey id without a UUID', async () => {
    const response = await execute(server, NodeById, { id: encodeGlobalID('GatewayKey', 'not-a-uuid') }, token);

    expect(response.errors).toBeUndefined();
    expect(response.data?.node).toBeNull();
  });

  it('makes node report a garbled id', async () => {
    const response = await execute(server, NodeById, { id: '!!!' }, token);

    expect(response.data?.node).toBeNull();
    expect(response.errors?.[0]?.message).toBe('Invalid global ID: !!!');
  });

  it('makes node report an id of a type without node lookup', async () => {
    const response = await execute(server, NodeById, { id: organizationGlobalId }, token);

    expect(response.data?.node).toBeNull();
    expect(response.errors?.[0]?.message).toBe('Organization does not support loading by id');
  });

  it('logs no error for rejected node ids', async () => {
    const response = await execute(server, NodeById, { id: encodeGlobalID('GatewayKey', 'not-a-uuid') }, token);

    const requestId = response.headers.get('x-request-id');
    const errorLines = server.logs.lines
      .map((line) => JSON.parse(line) as { level: string; requestId?: string })
      .filter((line) => line.requestId === requestId && line.level === 'error');
    expect(errorLines).toEqual([]);
  });
});

describe('DateTime', () => {
  const invalid = [
    'tomorrow',
    '2030-01-01',
    '2030-01-01T00:00:00',
    '2030-13-01T00:00:00Z',
    '2030-02-30T00:00:00Z',
    '2031-02-29T00:00:00Z',
    '2030-04-31T00:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T12:60:00Z',
    '2030-01-01T12:00:00+24:00',
  ];

  it.each(invalid)('rejects %s naming the expected form', async (expiresAt) => {
    const before = await counts();

    const response = await execute(server, CreateWithExpiryVariable, { expiresAt }, token);

    expect(response.data).toBeUndefined();
    expect(response.errors?.[0]?.message).toContain('DateTime must be an RFC 3339 date-time with a time zone, such as 2027-01-31T12:00:00Z');
    expect(await counts()).toEqual(before);
  });

  it('rejects a number', async () => {
    const response = await postGraphql(
      server,
      { query: print(CreateWithExpiryVariable), variables: { expiresAt: 1_900_000_000_000 } },
      { authorization: `Bearer ${token}` },
    );

    expect(response.errors?.[0]?.message).toContain('DateTime must be an RFC 3339 date-time');
  });

  it('rejects an invalid literal', async () => {
    const response = await postGraphql(
      server,
      { query: 'mutation { createGatewayKey(input: { name: "literal", expiresAt: "next week" }) { __typename } }' },
      { authorization: `Bearer ${token}` },
    );

    expect(response.data).toBeUndefined();
    expect(response.errors?.[0]?.message).toContain('such as 2027-01-31T12:00:00Z; got "next week"');
  });

  it('accepts a leap day', async () => {
    const response = await execute(server, CreateWithExpiryVariable, { expiresAt: '2096-02-29T23:59:59.999+01:00' }, token);

    expect(response.data?.createGatewayKey.__typename).toBe('GatewayKeyWithSecret');
  });
});

describe('connection arguments', () => {
  it('rejects a cursor the connection did not return', async () => {
    const response = await execute(server, GatewayKeysPage, { first: 5, after: 'garbage' }, token);

    expect(response.errors?.[0]?.message).toBe('after: is not a cursor returned by this connection; pass a pageInfo or edge cursor');
    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
  });

  it('logs no error for a rejected cursor', async () => {
    const response = await execute(server, GatewayKeysPage, { first: 5, before: 'Zm9vOmJhcg' }, token);

    const requestId = response.headers.get('x-request-id');
    const errorLines = server.logs.lines
      .map((line) => JSON.parse(line) as { level: string; requestId?: string })
      .filter((line) => line.requestId === requestId && line.level === 'error');
    expect(response.errors?.[0]?.extensions?.code).toBe('validation_failed');
    expect(errorLines).toEqual([]);
  });

  it('rejects a negative page size', async () => {
    const response = await execute(server, GatewayKeysPage, { first: -1 }, token);

    expect(response.errors?.[0]?.message).toBe('Argument "first" must be a non-negative integer');
  });
});
