import { randomBytes, randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { CreateGatewayKey, DeleteGatewayKey, GatewayKeysPage, RegenerateGatewayKeySecret, UpdateGatewayKey, Viewer } from './documents.js';
import { dumpDatabase, execute, postGraphql } from './helpers.js';
import {
  ProviderKeyCreate,
  ProviderKeyDelete,
  ProviderKeyGatewayKeyResolution,
  ProviderKeyGatewayKeysResolution,
  ProviderKeyList,
  ProviderKeyNode,
  ProviderKeyProviders,
  ProviderKeyUpdate,
} from './provider-keys.documents.js';
import { fakeKeys, fakeSecretAccessKey, newMarker, pemBodySample, randomText, serviceAccount } from './provider-keys.helpers.js';

let server: TestServer;

/** Text that must occur nowhere but in the encrypted envelope column. */
const secrets: { label: string; text: string }[] = [];
/** Every response body, as received. */
const responses: string[] = [];
/** Each operation run, with the result type it must have, so the scenario cannot pass by doing nothing. */
const outcomes: { step: string; expected: string; actual: string | undefined }[] = [];

function secret(label: string, text: string): string {
  secrets.push({ label, text });
  return text;
}

/** Builds an API key with a marker in the middle, and records the marker for the searches. */
function markedKey(label: string, build: (marker: string) => string): string {
  const marker = secret(label, newMarker(label));
  return build(marker);
}

/** Builds an access key id whose 12 hidden characters are a recorded marker, between AKIA and the last 4. */
function markedAccessKeyId(label: string): string {
  const hidden = secret(label, `MK${randomBytes(5).toString('hex').toUpperCase()}`);
  return `AKIA${hidden}${randomText(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`;
}

function markedSecretAccessKey(label: string): string {
  return fakeSecretAccessKey(secret(label, newMarker(label)));
}

/** Builds a service account and records its private key, key id and an extra field as secrets. */
function markedServiceAccount(label: string): string {
  const account = serviceAccount({ client_x509_cert_url: secret(`${label} extra field`, newMarker(label)) });
  secret(`${label} private key`, pemBodySample(account.private_key));
  // The masked key id shows its first and last 4 characters, so only the middle must stay hidden.
  secret(`${label} private key id`, account.private_key_id.slice(4, -4));
  return JSON.stringify(account);
}

async function run<Result, Variables>(
  step: string,
  expected: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  token: string,
  typenameOf: (data: Result | null | undefined) => string | undefined,
) {
  const response = await execute(server, document, variables, token);
  responses.push(response.raw);
  outcomes.push({ step, expected, actual: typenameOf(response.data) });
  return response.data;
}

/** Sends a request that typed documents cannot express, such as one that breaks a @oneOf rule. */
async function runRaw(step: string, body: unknown, token: string) {
  const response = await postGraphql(server, body, { authorization: `Bearer ${token}` });
  responses.push(response.raw);
  outcomes.push({ step, expected: 'request error', actual: response.errors && response.errors.length > 0 ? 'request error' : 'data' });
}

beforeAll(async () => {
  server = await startTestServer();
  const writer = await server.createTenant('Leak check', 'write');
  const { token: reader } = await server.app.services.managementTokens.issue({
    organizationId: writer.organizationId,
    scope: 'read',
    actorLabel: 'leak reader',
  });
  const outsider = await server.createTenant('Leak outsider', 'write');
  const token = writer.token;

  const created = (data: { createProviderKey: { __typename: string } } | null | undefined) => data?.createProviderKey.__typename;
  const updated = (data: { updateProviderKey: { __typename: string } } | null | undefined) => data?.updateProviderKey.__typename;
  const deleted = (data: { deleteProviderKey: { __typename: string } } | null | undefined) => data?.deleteProviderKey.__typename;
  const idOf = (data: { createProviderKey: { __typename: string; providerKey?: { id: string } } } | null | undefined) => {
    const payload = data?.createProviderKey;
    if (!payload?.providerKey) throw new Error(`expected a created key, got ${JSON.stringify(payload)}`);
    return payload.providerKey.id;
  };

  const gatewayKey = await execute(server, CreateGatewayKey, { input: { name: 'leak app' } }, token);
  responses.push(gatewayKey.raw);
  const gatewayKeyId = gatewayKey.data?.createGatewayKey.__typename === 'GatewayKeyWithSecret' ? gatewayKey.data.createGatewayKey.gatewayKey.id : '';

  // One key of every kind, each with marked secrets.
  const ids: Record<string, string> = {};
  const apiKeys = [
    { provider: 'ANTHROPIC', build: fakeKeys.anthropic },
    { provider: 'OPENAI', build: fakeKeys.openAiProject },
    { provider: 'MISTRAL', build: fakeKeys.mistral },
    { provider: 'DEEPSEEK', build: fakeKeys.deepseek },
    { provider: 'XAI', build: fakeKeys.xai },
    { provider: 'ZAI', build: fakeKeys.zai },
  ] as const;
  for (const { provider, build } of apiKeys) {
    const data = await run(`create ${provider}`, 'ProviderKeyPayload', ProviderKeyCreate, {
      input: { provider, name: `${provider} key`, credentials: { apiKey: markedKey(provider, build) }, assignment: { organization: true }, idempotencyKey: randomUUID() },
    }, token, created);
    ids[provider] = idOf(data);
  }
  const bedrock = await run('create BEDROCK', 'ProviderKeyPayload', ProviderKeyCreate, {
    input: {
      provider: 'BEDROCK',
      name: 'bedrock key',
      credentials: {
        bedrockRegions: [
          { region: 'us-east-1', accessKeyId: markedAccessKeyId('bedrock east id'), secretAccessKey: markedSecretAccessKey('bedrock east secret') },
          { region: 'global', accessKeyId: markedAccessKeyId('bedrock global id'), secretAccessKey: markedSecretAccessKey('bedrock global secret') },
        ],
      },
      settings: { bedrock: { defaultRegion: 'us-east-1' } },
      assignment: { gatewayKeys: [gatewayKeyId] },
    },
  }, token, created);
  ids.BEDROCK = idOf(bedrock);
  const vertex = await run('create VERTEX_AI', 'ProviderKeyPayload', ProviderKeyCreate, {
    input: { provider: 'VERTEX_AI', name: 'vertex key', credentials: { vertexServiceAccount: markedServiceAccount('vertex') }, assignment: { organization: true } },
  }, token, created);
  ids.VERTEX_AI = idOf(vertex);

  // Updates that change secrets, and one that keeps them.
  await run('rotate ANTHROPIC', 'ProviderKeyPayload', ProviderKeyUpdate, {
    input: { id: ids.ANTHROPIC!, credentials: { apiKey: markedKey('ANTHROPIC rotated', fakeKeys.anthropic) } },
  }, token, updated);
  await run('rotate BEDROCK row', 'ProviderKeyPayload', ProviderKeyUpdate, {
    input: {
      id: ids.BEDROCK!,
      credentials: {
        bedrockRegions: [
          { region: 'us-east-1' },
          { region: 'eu-west-1', accessKeyId: markedAccessKeyId('bedrock ireland id'), secretAccessKey: markedSecretAccessKey('bedrock ireland secret') },
        ],
      },
    },
  }, token, updated);
  await run('rotate VERTEX_AI', 'ProviderKeyPayload', ProviderKeyUpdate, {
    input: { id: ids.VERTEX_AI!, credentials: { vertexServiceAccount: markedServiceAccount('vertex rotated') } },
  }, token, updated);
  await run('rename MISTRAL', 'ProviderKeyPayload', ProviderKeyUpdate, { input: { id: ids.MISTRAL!, name: 'renamed', credentials: { apiKey: '' } } }, token, updated);

  // Writes that fail, each carrying a marked secret.
  await run('key with a space', 'ValidationError', ProviderKeyCreate, {
    input: { provider: 'MISTRAL', name: 'x', credentials: { apiKey: `${markedKey('spaced', fakeKeys.mistral)} tail` }, assignment: { gatewayKeys: [gatewayKeyId] } },
  }, token, created);
  await run('Anthropic key for OpenAI', 'ValidationError', ProviderKeyCreate, {
    input: { provider: 'OPENAI', name: 'x', credentials: { apiKey: markedKey('misplaced', fakeKeys.anthropic) }, assignment: { gatewayKeys: [gatewayKeyId] } },
  }, token, created);
  await run('second organization-wide key', 'ConflictError', ProviderKeyCreate, {
    input: { provider: 'XAI', name: 'x', credentials: { apiKey: markedKey('conflicting', fakeKeys.xai) }, assignment: { organization: true } },
  }, token, created);
  await run('ASIA key', 'ValidationError', ProviderKeyCreate, {
    input: {
      provider: 'BEDROCK',
      name: 'x',
      credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: 'ASIA1234567890ABCDEF', secretAccessKey: markedSecretAccessKey('temporary') }] },
      assignment: { organization: true },
    },
  }, token, created);
  await run('service account of another host', 'ValidationError', ProviderKeyCreate, {
    input: {
      provider: 'VERTEX_AI',
      name: 'x',
      credentials: { vertexServiceAccount: JSON.stringify({ ...JSON.parse(markedServiceAccount('foreign token_uri')), token_uri: 'https://token.example.invalid' }) },
      assignment: { gatewayKeys: [gatewayKeyId] },
    },
  }, token, created);
  const idempotencyKey = randomUUID();
  await run('idempotent create', 'ProviderKeyPayload', ProviderKeyCreate, {
    input: { provider: 'OPENAI', name: 'idempotent', credentials: { apiKey: markedKey('idempotent', fakeKeys.openAiProject) }, assignment: { gatewayKeys: [gatewayKeyId] }, idempotencyKey },
  }, token, created);
  await run('idempotency key reused', 'ConflictError', ProviderKeyCreate, {
    input: { provider: 'OPENAI', name: 'idempotent', credentials: { apiKey: markedKey('idempotent other', fakeKeys.openAiProject) }, assignment: { gatewayKeys: [gatewayKeyId] }, idempotencyKey },
  }, token, created);
  await run('new access key id without secret', 'ValidationError', ProviderKeyUpdate, {
    input: { id: ids.BEDROCK!, credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: markedAccessKeyId('lonely id') }] } },
  }, token, updated);
  await run('credentials of another kind', 'ValidationError', ProviderKeyUpdate, {
    input: { id: ids.BEDROCK!, credentials: { apiKey: markedKey('wrong kind', fakeKeys.mistral) } },
  }, token, updated);
  await run('foreign update', 'NotFoundError', ProviderKeyUpdate, {
    input: { id: ids.DEEPSEEK!, credentials: { apiKey: markedKey('foreign', fakeKeys.deepseek) } },
  }, outsider.token, updated);
  await run('read-only create', 'ForbiddenError', ProviderKeyCreate, {
    input: { provider: 'ZAI', name: 'x', credentials: { apiKey: markedKey('read only', fakeKeys.zai) }, assignment: { gatewayKeys: [gatewayKeyId] } },
  }, reader, created);

  // Requests that fail before any resolver runs: GraphQL reports invalid variables itself.
  const createDocument = print(ProviderKeyCreate);
  await runRaw('two credential kinds', {
    query: createDocument,
    variables: {
      input: {
        provider: 'OPENAI',
        name: 'x',
        credentials: { apiKey: markedKey('one of', fakeKeys.openAiProject), vertexServiceAccount: markedServiceAccount('one of') },
        assignment: { organization: true },
      },
    },
  }, token);
  await runRaw('missing name', {
    query: createDocument,
    variables: { input: { provider: 'OPENAI', credentials: { apiKey: markedKey('nameless', fakeKeys.openAiProject) }, assignment: { organization: true } } },
  }, token);
  await runRaw('unknown input field', {
    query: createDocument,
    variables: {
      input: { provider: 'OPENAI', name: 'x', credentials: { apiKey: markedKey('unknown field', fakeKeys.openAiProject) }, assignment: { organization: true }, secret: 'x' },
    },
  }, token);
  await runRaw('unknown provider', {
    query: createDocument,
    variables: { input: { provider: 'OPENROUTER', name: 'x', credentials: { apiKey: markedKey('unknown provider', fakeKeys.openAiProject) }, assignment: { organization: true } } },
  }, token);
  await runRaw('secret as a number field', {
    query: print(ProviderKeyUpdate),
    variables: { input: { id: ids.OPENAI, enabled: markedKey('wrong type', fakeKeys.openAiProject), credentials: { apiKey: markedKey('beside wrong type', fakeKeys.openAiProject) } } },
  }, token);
  await runRaw('two credential kinds inline', {
    query: `mutation { createProviderKey(input: { provider: OPENAI, name: "x", assignment: { organization: true }, credentials: { apiKey: "${markedKey('inline', fakeKeys.openAiProject)}", vertexServiceAccount: "{}" } }) { __typename } }`,
  }, token);

  // Every read.
  const listed = (data: { providerKeys: { edges: unknown[] } } | null | undefined) => (data?.providerKeys.edges.length ? 'list' : 'empty');
  await run('list', 'list', ProviderKeyList, { first: 100 }, token, listed);
  for (const filter of [{ provider: 'BEDROCK' as const }, { organizationWide: true }, { organizationWide: false }, { gatewayKey: gatewayKeyId }]) {
    await run(`list ${JSON.stringify(filter)}`, 'list', ProviderKeyList, { first: 100, filter }, token, listed);
  }
  await run('list as reader', 'list', ProviderKeyList, { first: 100 }, reader, listed);
  await run('list as outsider', 'empty', ProviderKeyList, { first: 100 }, outsider.token, listed);
  for (const [provider, id] of Object.entries(ids)) {
    await run(`node ${provider}`, 'ProviderKey', ProviderKeyNode, { id }, token, (data) => data?.node?.__typename);
  }
  await run('gateway key resolution', 'GatewayKey', ProviderKeyGatewayKeyResolution, { id: gatewayKeyId }, token, (data) => data?.node?.__typename);
  await run('gateway keys resolution', 'list', ProviderKeyGatewayKeysResolution, { first: 100 }, token, (data) =>
    data?.gatewayKeys.edges.length ? 'list' : 'empty',
  );
  await run('providers', 'list', ProviderKeyProviders, {}, token, (data) => (data?.providers.length ? 'list' : 'empty'));
  await run('viewer', 'Viewer', Viewer, {}, token, (data) => (data?.viewer ? 'Viewer' : undefined));

  // Gateway key operations, which touch assignments.
  await run('update gateway key', 'GatewayKey', UpdateGatewayKey, { input: { id: gatewayKeyId, name: 'leak app renamed' } }, token, (data) =>
    data?.updateGatewayKey.__typename,
  );
  await run('regenerate gateway key', 'GatewayKeyWithSecret', RegenerateGatewayKeySecret, { id: gatewayKeyId }, token, (data) =>
    data?.regenerateGatewayKeySecret.__typename,
  );
  await run('list gateway keys', 'list', GatewayKeysPage, { first: 100 }, token, (data) => (data?.gatewayKeys.edges.length ? 'list' : 'empty'));

  // Deletes, some of them failing.
  await run('delete gateway key', 'DeletedGatewayKey', DeleteGatewayKey, { id: gatewayKeyId }, token, (data) => data?.deleteGatewayKey.__typename);
  await run('node BEDROCK without its gateway key', 'ProviderKey', ProviderKeyNode, { id: ids.BEDROCK! }, token, (data) => data?.node?.__typename);
  await run('delete ZAI', 'DeletedProviderKey', ProviderKeyDelete, { id: ids.ZAI! }, token, deleted);
  await run('delete ZAI again', 'NotFoundError', ProviderKeyDelete, { id: ids.ZAI! }, token, deleted);
  await run('foreign delete', 'NotFoundError', ProviderKeyDelete, { id: ids.XAI! }, outsider.token, deleted);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

/** Lists where each secret occurs in `texts`, as "secret label in place". */
function occurrences(texts: { place: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { label, text: needle } of secrets) {
    const hex = Buffer.from(needle, 'utf8').toString('hex');
    for (const { place, text } of texts) {
      if (text.includes(needle) || text.includes(hex)) found.push(`${label} in ${place}`);
    }
  }
  return found;
}

describe('secrets', () => {
  it('run through every operation', () => {
    expect(outcomes.filter((outcome) => outcome.actual !== outcome.expected)).toEqual([]);
    expect(secrets.length).toBeGreaterThan(30);
  });

  it('appear in no GraphQL response', () => {
    expect(occurrences(responses.map((text, index) => ({ place: `response ${index}`, text })))).toEqual([]);
  });

  it('appear in no log line', () => {
    expect(server.logs.lines.length).toBeGreaterThan(0);
    expect(occurrences(server.logs.lines.map((text, index) => ({ place: `log line ${index}`, text })))).toEqual([]);
  });

  it('appear in no column but the envelope', async () => {
    const values = await dumpDatabase(server.testDatabase.db);
    const searched = values.filter((value) => !(value.table === 'public.provider_keys' && value.column === 'credentials_envelope'));

    expect(searched.some((value) => value.table === 'public.audit_events')).toBe(true);
    expect(occurrences(searched.map((value) => ({ place: `${value.table}.${value.column}`, text: value.text })))).toEqual([]);
  });

  it('appear in the envelope only encrypted', async () => {
    const values = await dumpDatabase(server.testDatabase.db);
    const envelopes = values.filter((value) => value.table === 'public.provider_keys' && value.column === 'credentials_envelope');

    expect(envelopes.length).toBeGreaterThan(0);
    expect(occurrences(envelopes.map((value) => ({ place: 'credentials_envelope', text: value.text })))).toEqual([]);
  });
});

describe('invalid variables', () => {
  async function messageOf(variables: unknown): Promise<string | undefined> {
    const { token } = await server.createTenant('Invalid variables', 'write');
    const response = await postGraphql(server, { query: print(ProviderKeyCreate), variables }, { authorization: `Bearer ${token}` });
    return response.errors?.[0]?.message;
  }

  it('name the path without the value', async () => {
    const apiKey = fakeKeys.openAiProject();

    const message = await messageOf({
      input: { provider: 'OPENAI', name: 'x', credentials: { apiKey, vertexServiceAccount: '{}' }, assignment: { organization: true } },
    });

    expect(message).toBe(
      'Variable "$input" got an invalid value at "input.credentials"; Exactly one key must be specified for OneOf type "CredentialsInput".',
    );
  });

  it('keep the reason of a missing field', async () => {
    const message = await messageOf({ input: { provider: 'OPENAI', credentials: { apiKey: fakeKeys.openAiProject() }, assignment: { organization: true } } });

    expect(message).toBe('Variable "$input" got an invalid value; Field "name" of required type "String!" was not provided.');
  });

  it('hide a value repeated in the reason', async () => {
    const apiKey = fakeKeys.openAiProject();

    const message = await messageOf({
      input: { provider: 'OPENAI', name: 'x', enabled: apiKey, credentials: { apiKey: 'k7Qp2xZa9mW3vB1c' }, assignment: { organization: true } },
    });

    expect(message).toBe(
      'Variable "$input" got an invalid value at "input.enabled"; Boolean cannot represent a non boolean value: (value not shown)',
    );
  });
});
