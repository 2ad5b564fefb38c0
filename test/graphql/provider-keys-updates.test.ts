import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialsInput, UpdateProviderKeyInput } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createGatewayKey, execute, findTokenIdBySecret, missingGatewayKeyId } from './helpers.js';
import { ProviderKeyDelete, ProviderKeyUpdate } from './provider-keys.documents.js';
import {
  auditEventsOf,
  createProviderKey,
  decryptStoredCredentials,
  fakeAccessKeyId,
  fakeKeys,
  fakeSecretAccessKey,
  findProviderKeyRow,
  gatewayKeyRowId,
  narrow,
  providerKeyRowId,
  serviceAccount,
  updateProviderKey,
} from './provider-keys.helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

function newTenant() {
  return server.createTenant('Provider key updates', 'write');
}

/** Reads the envelope bytes and version, which an update that keeps the secret must leave unchanged. */
async function storedState(id: string) {
  const row = await findProviderKeyRow(server.testDatabase.db, providerKeyRowId(id));
  return { envelope: row.credentials_envelope.toString('hex'), version: row.credentials_version };
}

async function apiKeyFixture() {
  const tenant = await newTenant();
  const apiKey = fakeKeys.anthropic();
  const { providerKey } = await createProviderKey(server, tenant.token, {
    provider: 'ANTHROPIC',
    name: 'api key',
    credentials: { apiKey },
    assignment: { organization: true },
  });
  return { ...tenant, apiKey, providerKey };
}

async function bedrockFixture() {
  const tenant = await newTenant();
  const rows = [
    { region: 'us-east-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
    { region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
  ];
  const { providerKey } = await createProviderKey(server, tenant.token, {
    provider: 'BEDROCK',
    name: 'bedrock',
    credentials: { bedrockRegions: rows },
    assignment: { organization: true },
  });
  return { ...tenant, rows, providerKey };
}

async function vertexFixture() {
  const tenant = await newTenant();
  const account = serviceAccount();
  const { providerKey } = await createProviderKey(server, tenant.token, {
    provider: 'VERTEX_AI',
    name: 'vertex',
    credentials: { vertexServiceAccount: JSON.stringify(account) },
    assignment: { organization: true },
  });
  return { ...tenant, account, providerKey };
}

async function runUpdate(token: string, input: UpdateProviderKeyInput) {
  const response = await execute(server, ProviderKeyUpdate, { input }, token);
  return response.data?.updateProviderKey;
}

describe('masked values pasted back', () => {
  it('rejects a masked API key', async () => {
    const { token, providerKey } = await apiKeyFixture();
    const masked = narrow(providerKey.credentials, 'ApiKey').maskedKey;

    const result = await runUpdate(token, { id: providerKey.id, credentials: { apiKey: masked } });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'apiKey']]);
    expect(error.fieldErrors[0]?.message).toMatch(/leave the field empty/);
  });

  it('keeps the API key after a masked paste', async () => {
    const { token, organizationId, apiKey, providerKey } = await apiKeyFixture();
    const before = await storedState(providerKey.id);

    await runUpdate(token, { id: providerKey.id, credentials: { apiKey: narrow(providerKey.credentials, 'ApiKey').maskedKey } });

    expect(await storedState(providerKey.id)).toEqual(before);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({ kind: 'API_KEY', apiKey });
  });

  it('rejects a masked Bedrock row', async () => {
    const { token, providerKey } = await bedrockFixture();
    const [shown] = narrow(providerKey.credentials, 'BedrockRegions').regions;

    const result = await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: shown!.region, accessKeyId: shown!.accessKeyId, secretAccessKey: shown!.secretAccessKey }] },
    });

    const error = narrow(result, 'ValidationError');
    expect(shown!.accessKeyId).toMatch(/^AKIA…[A-Z0-9]{4}$/);
    expect(shown!.secretAccessKey).toBe('set');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([
      ['input', 'credentials', 'bedrockRegions', '0', 'accessKeyId'],
      ['input', 'credentials', 'bedrockRegions', '0', 'secretAccessKey'],
    ]);
    expect(error.fieldErrors[0]?.message).toMatch(/leave the field empty/);
    expect(error.fieldErrors[1]?.message).toMatch(/leave the field empty/);
  });

  it('rejects a masked access key id alone', async () => {
    const { token, providerKey } = await bedrockFixture();
    const [shown] = narrow(providerKey.credentials, 'BedrockRegions').regions;

    const result = await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: shown!.region, accessKeyId: shown!.accessKeyId }] },
    });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'bedrockRegions', '0', 'accessKeyId']]);
    expect(error.fieldErrors[0]?.message).toMatch(/leave the field empty/);
  });

  it('keeps the Bedrock rows after a masked paste', async () => {
    const { token, organizationId, rows, providerKey } = await bedrockFixture();
    const before = await storedState(providerKey.id);

    await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: `AKIA…${rows[0]!.accessKeyId.slice(-4)}`, secretAccessKey: 'set' }] },
    });

    expect(await storedState(providerKey.id)).toEqual(before);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: rows,
    });
  });

  it('rejects a service account with private_key "set"', async () => {
    const { token, account, providerKey } = await vertexFixture();

    const result = await runUpdate(token, {
      id: providerKey.id,
      credentials: { vertexServiceAccount: JSON.stringify({ ...account, private_key: 'set' }) },
    });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'vertexServiceAccount']]);
    expect(error.fieldErrors[0]?.message).toMatch(/private_key is a masked value; leave the credentials empty/);
  });

  it('rejects a service account with a masked private key id', async () => {
    const { token, account, providerKey } = await vertexFixture();
    const shown = narrow(providerKey.credentials, 'VertexServiceAccount');

    const result = await runUpdate(token, {
      id: providerKey.id,
      credentials: { vertexServiceAccount: JSON.stringify({ ...account, private_key_id: shown.privateKeyId }) },
    });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors[0]?.message).toMatch(/private_key_id is a masked value; leave the credentials empty/);
  });

  it('keeps the service account after a masked paste', async () => {
    const { token, organizationId, account, providerKey } = await vertexFixture();
    const before = await storedState(providerKey.id);

    await runUpdate(token, {
      id: providerKey.id,
      credentials: { vertexServiceAccount: JSON.stringify({ ...account, private_key: 'set' }) },
    });

    expect(await storedState(providerKey.id)).toEqual(before);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'VERTEX_SERVICE_ACCOUNT',
      serviceAccount: account,
    });
  });
});

describe('credentials kept', () => {
  const keeping: { name: string; credentials: CredentialsInput | null | undefined }[] = [
    { name: 'omitted', credentials: undefined },
    { name: 'null', credentials: null },
    { name: 'an empty apiKey', credentials: { apiKey: '' } },
  ];

  it.each(keeping)('keeps the API key when credentials are $name', async ({ credentials }) => {
    const { token, organizationId, apiKey, providerKey } = await apiKeyFixture();
    const before = await storedState(providerKey.id);

    const result = await runUpdate(token, { id: providerKey.id, name: 'renamed', credentials });

    expect(narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion).toBe(1);
    expect(await storedState(providerKey.id)).toEqual(before);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({ kind: 'API_KEY', apiKey });
  });

  it('keeps Bedrock rows for an empty row list', async () => {
    const { token, providerKey } = await bedrockFixture();
    const before = await storedState(providerKey.id);

    const result = await runUpdate(token, { id: providerKey.id, credentials: { bedrockRegions: [] } });

    expect(narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion).toBe(1);
    expect(await storedState(providerKey.id)).toEqual(before);
  });

  it('keeps the service account for an empty value', async () => {
    const { token, providerKey } = await vertexFixture();
    const before = await storedState(providerKey.id);

    const result = await runUpdate(token, { id: providerKey.id, credentials: { vertexServiceAccount: '' } });

    expect(narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion).toBe(1);
    expect(await storedState(providerKey.id)).toEqual(before);
  });

  it('keeps a Bedrock row sent with only its region', async () => {
    const { token, organizationId, rows, providerKey } = await bedrockFixture();

    const result = await runUpdate(token, { id: providerKey.id, credentials: { bedrockRegions: [{ region: 'us-east-1' }] } });

    expect(narrow(result, 'ProviderKeyPayload').providerKey.credentialsVersion).toBe(2);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: [rows[0]],
    });
  });

  it('keeps the access key id when only the secret changes', async () => {
    const { token, organizationId, rows, providerKey } = await bedrockFixture();
    const secretAccessKey = fakeSecretAccessKey();

    await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1', secretAccessKey }, { region: 'global' }] },
    });

    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: [{ ...rows[0], secretAccessKey }, rows[1]],
    });
  });

  it('keeps the secret when the same access key id is sent', async () => {
    const { token, organizationId, rows, providerKey } = await bedrockFixture();

    await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: rows[0]!.accessKeyId }, { region: 'global' }] },
    });

    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: rows,
    });
  });
});

describe('credentials rejected on update', () => {
  it('rejects a new access key id without a secret', async () => {
    const { token, providerKey } = await bedrockFixture();
    const before = await storedState(providerKey.id);

    const result = await runUpdate(token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: fakeAccessKeyId() }] },
    });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'bedrockRegions', '0', 'secretAccessKey']]);
    expect(error.fieldErrors[0]?.message).toMatch(/new access key id needs its secret access key/);
    expect(await storedState(providerKey.id)).toEqual(before);
  });

  it('rejects a new region sent with only its name', async () => {
    const { token, providerKey } = await bedrockFixture();

    const result = await runUpdate(token, { id: providerKey.id, credentials: { bedrockRegions: [{ region: 'eu-west-1' }] } });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'bedrockRegions', '0']]);
    expect(error.fieldErrors[0]?.message).toMatch(/no stored credentials for eu-west-1/);
  });

  it('rejects credentials of another kind', async () => {
    const { token, providerKey } = await bedrockFixture();

    const result = await runUpdate(token, { id: providerKey.id, credentials: { apiKey: fakeKeys.mistral() } });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'credentials', 'apiKey']]);
    expect(error.fieldErrors[0]?.message).toMatch(/takes bedrockRegions/);
  });

  it('reports an unknown id as not found', async () => {
    const { token, providerKey } = await apiKeyFixture();
    await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    const result = await runUpdate(token, { id: providerKey.id, name: 'ghost' });

    expect(narrow(result, 'NotFoundError').id).toBe(providerKey.id);
  });

  it('rejects the id of a gateway key', async () => {
    const { token } = await newTenant();

    const result = await runUpdate(token, { id: missingGatewayKeyId(), name: 'wrong type' });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'id']]);
  });
});

describe('credentialsVersion', () => {
  it('increments by exactly 1 on each change', async () => {
    const { token, providerKey } = await apiKeyFixture();

    const versions: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const result = await updateProviderKey(server, token, { id: providerKey.id, credentials: { apiKey: fakeKeys.anthropic() } });
      versions.push(result.providerKey.credentialsVersion);
    }

    expect(versions).toEqual([2, 3, 4]);
  });

  it('stays for name, enabled, settings and assignment changes', async () => {
    const tenant = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, tenant.token, { name: 'target' });
    const { providerKey } = await createProviderKey(server, tenant.token, {
      provider: 'OPENAI',
      name: 'openai',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
    });

    const result = await updateProviderKey(server, tenant.token, {
      id: providerKey.id,
      name: 'renamed',
      enabled: false,
      settings: { openAi: { projectId: 'proj_Abc' } },
      assignment: { gatewayKeys: [gatewayKey.id] },
    });

    expect(result.providerKey.credentialsVersion).toBe(1);
    expect(result.providerKey.credentialsUpdatedAt).toBe(providerKey.credentialsUpdatedAt);
  });

  it('moves credentialsUpdatedAt with the credentials', async () => {
    const { token, providerKey } = await apiKeyFixture();

    const result = await updateProviderKey(server, token, { id: providerKey.id, credentials: { apiKey: fakeKeys.anthropic() } });

    expect(Date.parse(result.providerKey.credentialsUpdatedAt)).toBeGreaterThan(Date.parse(providerKey.credentialsUpdatedAt));
  });

  it('bumps for each Bedrock change', async () => {
    const { token, providerKey } = await bedrockFixture();

    const first = await updateProviderKey(server, token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1', secretAccessKey: fakeSecretAccessKey() }, { region: 'global' }] },
    });
    const second = await updateProviderKey(server, token, {
      id: providerKey.id,
      credentials: {
        bedrockRegions: [{ region: 'us-east-1' }, { region: 'eu-west-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() }],
      },
    });

    expect(first.providerKey.credentialsVersion).toBe(2);
    expect(second.providerKey.credentialsVersion).toBe(3);
  });
});

describe('audit', () => {
  it('records a create with actor and non-secret fields', async () => {
    const { token, providerKey } = await apiKeyFixture();
    const tokenId = await findTokenIdBySecret(server.testDatabase.db, token);

    const [event] = await auditEventsOf(server.testDatabase.db, providerKeyRowId(providerKey.id));

    expect(event?.action).toBe('provider_key.created');
    expect(event?.subject_type).toBe('ProviderKey');
    expect(event?.actor_token_id).toBe(tokenId);
    expect(event?.actor_label).toBe('test write');
    expect(event?.request_id).toEqual(expect.any(String));
    expect(event?.changes).toEqual({
      provider: 'ANTHROPIC',
      name: 'api key',
      enabled: true,
      settings: {},
      assignment: { organization: true },
    });
  });

  it('records an update as a diff', async () => {
    const { token, providerKey } = await apiKeyFixture();

    await updateProviderKey(server, token, { id: providerKey.id, name: 'renamed', enabled: false, credentials: { apiKey: fakeKeys.anthropic() } });

    const events = await auditEventsOf(server.testDatabase.db, providerKeyRowId(providerKey.id));
    expect(events.map((event) => event.action)).toEqual(['provider_key.created', 'provider_key.updated']);
    expect(events[1]?.changes).toEqual({
      name: { from: 'api key', to: 'renamed' },
      enabled: { from: true, to: false },
      credentialsVersion: { from: 1, to: 2 },
    });
  });

  it('records an assignment change', async () => {
    const tenant = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, tenant.token, { name: 'audited' });
    const { providerKey } = await createProviderKey(server, tenant.token, {
      provider: 'MISTRAL',
      name: 'mistral',
      credentials: { apiKey: fakeKeys.mistral() },
      assignment: { organization: true },
    });

    await updateProviderKey(server, tenant.token, { id: providerKey.id, assignment: { gatewayKeys: [gatewayKey.id] } });

    const events = await auditEventsOf(server.testDatabase.db, providerKeyRowId(providerKey.id));
    expect(events[1]?.changes).toEqual({ assignment: { gatewayKeyIds: [gatewayKeyRowId(gatewayKey.id)] } });
  });

  it('records a delete', async () => {
    const { token, providerKey } = await apiKeyFixture();

    await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    const events = await auditEventsOf(server.testDatabase.db, providerKeyRowId(providerKey.id));
    expect(events.map((event) => event.action)).toEqual(['provider_key.created', 'provider_key.deleted']);
    expect(events[1]?.changes).toEqual({ provider: 'ANTHROPIC', name: 'api key' });
  });

  it('records nothing for a rejected update', async () => {
    const { token, providerKey } = await apiKeyFixture();

    await runUpdate(token, { id: providerKey.id, credentials: { apiKey: 'has whitespace inside' } });

    const events = await auditEventsOf(server.testDatabase.db, providerKeyRowId(providerKey.id));
    expect(events.map((event) => event.action)).toEqual(['provider_key.created']);
  });

  it('holds no secret', async () => {
    const { token, organizationId, apiKey, providerKey } = await apiKeyFixture();
    const rotated = fakeKeys.anthropic();
    await updateProviderKey(server, token, { id: providerKey.id, credentials: { apiKey: rotated } });
    const bedrock = await bedrockFixture();
    const vertex = await vertexFixture();
    const secrets = [
      apiKey,
      rotated,
      ...bedrock.rows.flatMap((row) => [row.accessKeyId, row.secretAccessKey]),
      vertex.account.private_key_id,
      vertex.account.private_key.split('\n')[5]!,
    ];

    const events = await server.testDatabase.db
      .selectFrom('audit_events')
      .selectAll()
      .where('organization_id', 'in', [organizationId, bedrock.organizationId, vertex.organizationId])
      .execute();
    const text = JSON.stringify(events);

    expect(events.length).toBeGreaterThanOrEqual(4);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
