import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { CredentialsInput, Provider, ProviderKeyFilter, ProviderKeySettingsInput } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createGatewayKey, execute } from './helpers.js';
import {
  ProviderKeyCreate,
  ProviderKeyDelete,
  ProviderKeyGatewayKeyResolution,
  ProviderKeyList,
  ProviderKeyNode,
  ProviderKeyProviders,
  ProviderKeyUpdate,
} from './provider-keys.documents.js';
import {
  createProviderKey,
  decryptStoredCredentials,
  expectedApiKeyMask,
  fakeAccessKeyId,
  fakeKeys,
  fakeSecretAccessKey,
  narrow,
  providerKeyRowId,
  revealedCharacters,
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

/** Creates an organization for one test, so organization-wide slots never collide between tests. */
function newTenant(name = 'Provider keys') {
  return server.createTenant(name, 'write');
}

async function countProviderKeyRows(id: string) {
  const rows = await server.testDatabase.db.selectFrom('provider_keys').select('id').where('id', '=', id).execute();
  return rows.length;
}

async function countAssignmentRows(id: string) {
  const rows = await server.testDatabase.db
    .selectFrom('provider_key_assignments')
    .select('provider_key_id')
    .where('provider_key_id', '=', id)
    .execute();
  return rows.length;
}

describe('API keys', () => {
  const cases: { provider: Provider; format: string; key: string; publicPrefix: string }[] = [
    { provider: 'ANTHROPIC', format: 'sk-ant-', key: fakeKeys.anthropic(), publicPrefix: 'sk-ant-' },
    { provider: 'OPENAI', format: 'sk-proj-', key: fakeKeys.openAiProject(), publicPrefix: 'sk-proj-' },
    { provider: 'OPENAI', format: 'legacy sk-', key: fakeKeys.openAiLegacy(), publicPrefix: 'sk-' },
    { provider: 'XAI', format: 'xai-', key: fakeKeys.xai(), publicPrefix: 'xai-' },
    { provider: 'MISTRAL', format: 'unprefixed', key: fakeKeys.mistral(), publicPrefix: '' },
    { provider: 'DEEPSEEK', format: 'sk-', key: fakeKeys.deepseek(), publicPrefix: 'sk-' },
    { provider: 'ZAI', format: 'id.secret', key: fakeKeys.zai(), publicPrefix: '' },
  ];

  it.each(cases)('creates a $provider key ($format)', async ({ provider, key }) => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider,
      name: `${provider} production`,
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    expect(providerKey.provider).toBe(provider);
    expect(providerKey.name).toBe(`${provider} production`);
    expect(providerKey.enabled).toBe(true);
    expect(providerKey.credentialsVersion).toBe(1);
    expect(providerKey.status).toBe('OK');
    expect(providerKey.statusErrorCode).toBeNull();
    expect(providerKey.credentials.__typename).toBe('ApiKey');
  });

  it.each(cases)('masks a $provider key ($format) by the rule', async ({ provider, key, publicPrefix }) => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider,
      name: 'masked',
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    const { maskedKey } = narrow(providerKey.credentials, 'ApiKey');
    expect(maskedKey).toBe(expectedApiKeyMask(key, publicPrefix));
    expect(maskedKey.startsWith(`${publicPrefix}…`)).toBe(true);
    expect(maskedKey.endsWith(key.slice(-4))).toBe(true);
    expect(revealedCharacters(maskedKey)).toBeLessThanOrEqual(key.length / 4);
  });

  it.each(cases)('stores a $provider key ($format) verbatim', async ({ provider, key }) => {
    const { token, organizationId } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider,
      name: 'stored',
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    const stored = await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id));
    expect(stored).toEqual({ kind: 'API_KEY', apiKey: key });
  });

  const shortKeys = [
    { length: 8, key: 'k7Qp2xZa', expected: '…' },
    { length: 15, key: 'k7Qp2xZa9mW3vB1', expected: '…' },
    { length: 16, key: 'k7Qp2xZa9mW3vB1c', expected: '…vB1c' },
  ];

  it.each(shortKeys)('masks a key of $length characters as $expected', async ({ key, expected }) => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'MISTRAL',
      name: 'short',
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    expect(narrow(providerKey.credentials, 'ApiKey').maskedKey).toBe(expected);
  });

  it('drops the prefix when it would exceed a quarter', async () => {
    const { token } = await newTenant();
    // 40 characters allow 10 to be shown: the last 4 fit, sk-ant- and the last 4 do not.
    const key = `sk-ant-${'x'.repeat(29)}Wq7Z`;

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'prefix budget',
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    expect(key).toHaveLength(40);
    expect(narrow(providerKey.credentials, 'ApiKey').maskedKey).toBe('…Wq7Z');
  });

  it('reads back the same masked key by node and list', async () => {
    const { token } = await newTenant();
    const key = fakeKeys.anthropic();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'read back',
      credentials: { apiKey: key },
      assignment: { organization: true },
    });

    const node = await execute(server, ProviderKeyNode, { id: providerKey.id }, token);
    const list = await execute(server, ProviderKeyList, { first: 10 }, token);

    const { __typename, ...fromNode } = narrow(node.data?.node, 'ProviderKey');
    expect(__typename).toBe('ProviderKey');
    expect(fromNode).toEqual(providerKey);
    expect(list.data?.providerKeys.edges.map((edge) => edge.node)).toEqual([providerKey]);
  });

  it('updates name and enabled without a credentials change', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'before',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, name: '  after  ', enabled: false });

    expect(updated.providerKey.name).toBe('after');
    expect(updated.providerKey.enabled).toBe(false);
    expect(updated.providerKey.credentialsVersion).toBe(1);
    expect(updated.providerKey.credentials).toEqual(providerKey.credentials);
  });

  it('rotates the key in place', async () => {
    const { token, organizationId } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'XAI',
      name: 'rotated',
      credentials: { apiKey: fakeKeys.xai() },
      assignment: { organization: true },
    });
    const replacement = fakeKeys.xai();

    const updated = await updateProviderKey(server, token, { id: providerKey.id, credentials: { apiKey: replacement } });

    expect(updated.providerKey.id).toBe(providerKey.id);
    expect(updated.providerKey.credentialsVersion).toBe(2);
    expect(narrow(updated.providerKey.credentials, 'ApiKey').maskedKey).toBe(expectedApiKeyMask(replacement, 'xai-'));
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'API_KEY',
      apiKey: replacement,
    });
  });

  it('deletes the key and its assignment', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'DEEPSEEK',
      name: 'deleted',
      credentials: { apiKey: fakeKeys.deepseek() },
      assignment: { organization: true },
    });
    const id = providerKeyRowId(providerKey.id);

    const response = await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    expect(narrow(response.data?.deleteProviderKey, 'DeletedProviderKey').deletedId).toBe(providerKey.id);
    expect(await countProviderKeyRows(id)).toBe(0);
    expect(await countAssignmentRows(id)).toBe(0);
  });

  it('reads a deleted key as null', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'DEEPSEEK',
      name: 'gone',
      credentials: { apiKey: fakeKeys.deepseek() },
      assignment: { organization: true },
    });
    await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    const node = await execute(server, ProviderKeyNode, { id: providerKey.id }, token);

    expect(node.data?.node).toBeNull();
  });

  it('reports a second delete as not found', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ZAI',
      name: 'twice',
      credentials: { apiKey: fakeKeys.zai() },
      assignment: { organization: true },
    });
    await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    const second = await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    expect(narrow(second.data?.deleteProviderKey, 'NotFoundError').id).toBe(providerKey.id);
  });

  it('frees the organization slot on delete', async () => {
    const { token } = await newTenant();
    const first = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'first',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { organization: true },
    });
    await execute(server, ProviderKeyDelete, { id: first.providerKey.id }, token);

    const second = await execute(
      server,
      ProviderKeyCreate,
      { input: { provider: 'ANTHROPIC', name: 'second', credentials: { apiKey: fakeKeys.anthropic() }, assignment: { organization: true } } },
      token,
    );

    expect(second.data?.createProviderKey.__typename).toBe('ProviderKeyPayload');
  });
});

describe('Bedrock regions', () => {
  it('creates rows per region', async () => {
    const { token } = await newTenant();
    const east = fakeAccessKeyId();
    const fallback = fakeAccessKeyId();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'aws',
      credentials: {
        bedrockRegions: [
          { region: 'us-east-1', accessKeyId: east, secretAccessKey: fakeSecretAccessKey() },
          { region: 'global', accessKeyId: fallback, secretAccessKey: fakeSecretAccessKey() },
        ],
      },
      assignment: { organization: true },
    });

    expect(narrow(providerKey.credentials, 'BedrockRegions').regions).toEqual([
      { region: 'us-east-1', accessKeyId: `AKIA…${east.slice(-4)}`, secretAccessKey: 'set' },
      { region: 'global', accessKeyId: `AKIA…${fallback.slice(-4)}`, secretAccessKey: 'set' },
    ]);
  });

  it('shows AKIA and the last 4 of an access key id', async () => {
    const { token } = await newTenant();
    const accessKeyId = fakeAccessKeyId();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'mask',
      credentials: { bedrockRegions: [{ region: 'eu-west-1', accessKeyId, secretAccessKey: fakeSecretAccessKey() }] },
      assignment: { organization: true },
    });

    const [row] = narrow(providerKey.credentials, 'BedrockRegions').regions;
    expect(row?.accessKeyId).toBe(`${accessKeyId.slice(0, 4)}…${accessKeyId.slice(16)}`);
    expect(row?.accessKeyId.startsWith('AKIA…')).toBe(true);
    expect(row?.secretAccessKey).toBe('set');
  });

  it('stores every row', async () => {
    const { token, organizationId } = await newTenant();
    const rows = [
      { region: 'us-west-2', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
      { region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() },
    ];

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'stored',
      credentials: { bedrockRegions: rows },
      assignment: { organization: true },
    });

    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: rows,
    });
  });

  it('replaces the rows on update', async () => {
    const { token, organizationId } = await newTenant();
    const east = { region: 'us-east-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() };
    const fallback = { region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() };
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'replaced',
      credentials: { bedrockRegions: [east, fallback] },
      assignment: { organization: true },
    });
    const ireland = { region: 'eu-west-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() };

    const updated = await updateProviderKey(server, token, {
      id: providerKey.id,
      credentials: { bedrockRegions: [{ region: 'us-east-1' }, ireland] },
    });

    expect(narrow(updated.providerKey.credentials, 'BedrockRegions').regions.map((row) => row.region)).toEqual(['us-east-1', 'eu-west-1']);
    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'BEDROCK_REGIONS',
      regions: [east, ireland],
    });
  });

  it('deletes the key', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'deleted',
      credentials: { bedrockRegions: [{ region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() }] },
      assignment: { organization: true },
    });

    const response = await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    expect(response.data?.deleteProviderKey.__typename).toBe('DeletedProviderKey');
    expect(await countProviderKeyRows(providerKeyRowId(providerKey.id))).toBe(0);
  });
});

describe('Vertex service accounts', () => {
  it('shows project, email and masked private key id', async () => {
    const { token } = await newTenant();
    const account = serviceAccount();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'vertex',
      credentials: { vertexServiceAccount: JSON.stringify(account) },
      assignment: { organization: true },
    });

    expect(narrow(providerKey.credentials, 'VertexServiceAccount')).toEqual({
      __typename: 'VertexServiceAccount',
      projectId: account.project_id,
      clientEmail: account.client_email,
      privateKeyId: `${account.private_key_id.slice(0, 4)}…${account.private_key_id.slice(-4)}`,
      privateKey: 'set',
    });
  });

  it('shows at most a quarter of the private key id', async () => {
    const { token } = await newTenant();
    const account = serviceAccount();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'quarter',
      credentials: { vertexServiceAccount: JSON.stringify(account) },
      assignment: { organization: true },
    });

    const { privateKeyId } = narrow(providerKey.credentials, 'VertexServiceAccount');
    expect(revealedCharacters(privateKeyId)).toBeLessThanOrEqual(account.private_key_id.length / 4);
  });

  it('stores the whole key file', async () => {
    const { token, organizationId } = await newTenant();
    const account = serviceAccount();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'stored',
      credentials: { vertexServiceAccount: JSON.stringify(account) },
      assignment: { organization: true },
    });

    expect(await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id))).toEqual({
      kind: 'VERTEX_SERVICE_ACCOUNT',
      serviceAccount: account,
    });
  });

  it('replaces the service account on update', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'replaced',
      credentials: { vertexServiceAccount: JSON.stringify(serviceAccount()) },
      assignment: { organization: true },
    });
    const replacement = serviceAccount({ project_id: 'keyroute-replacement' });

    const updated = await updateProviderKey(server, token, {
      id: providerKey.id,
      credentials: { vertexServiceAccount: JSON.stringify(replacement) },
    });

    const credentials = narrow(updated.providerKey.credentials, 'VertexServiceAccount');
    expect(updated.providerKey.credentialsVersion).toBe(2);
    expect(credentials.projectId).toBe('keyroute-replacement');
    expect(credentials.clientEmail).toBe(replacement.client_email);
  });

  it('deletes the key', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'deleted',
      credentials: { vertexServiceAccount: JSON.stringify(serviceAccount()) },
      assignment: { organization: true },
    });

    const response = await execute(server, ProviderKeyDelete, { id: providerKey.id }, token);

    expect(response.data?.deleteProviderKey.__typename).toBe('DeletedProviderKey');
    expect(await countProviderKeyRows(providerKeyRowId(providerKey.id))).toBe(0);
  });
});

describe('assignment', () => {
  it('shows the organization of an organization-wide key', async () => {
    const { token, organizationId } = await newTenant('Organization assignment');

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'MISTRAL',
      name: 'everyone',
      credentials: { apiKey: fakeKeys.mistral() },
      assignment: { organization: true },
    });

    const { organization } = narrow(providerKey.assignment, 'OrganizationAssignment');
    expect(organization.id).toBe(encodeGlobalID('Organization', organizationId));
    expect(organization.name).toBe('Organization assignment');
  });

  it('stores one row without a gateway key for the organization', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'MISTRAL',
      name: 'everyone',
      credentials: { apiKey: fakeKeys.mistral() },
      assignment: { organization: true },
    });

    const rows = await server.testDatabase.db
      .selectFrom('provider_key_assignments')
      .select(['gateway_key_id', 'provider'])
      .where('provider_key_id', '=', providerKeyRowId(providerKey.id))
      .execute();
    expect(rows).toEqual([{ gateway_key_id: null, provider: 'MISTRAL' }]);
  });

  it('lists one gateway key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'app only',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { gatewayKeys: [gatewayKey.id] },
    });

    expect(narrow(providerKey.assignment, 'GatewayKeysAssignment').gatewayKeys).toEqual([{ id: gatewayKey.id, name: 'app' }]);
  });

  it('lists several gateway keys', async () => {
    const { token } = await newTenant();
    const keys = [
      (await createGatewayKey(server, token, { name: 'one' })).gatewayKey,
      (await createGatewayKey(server, token, { name: 'two' })).gatewayKey,
      (await createGatewayKey(server, token, { name: 'three' })).gatewayKey,
    ];

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'three apps',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { gatewayKeys: keys.map((key) => key.id) },
    });

    const listed = narrow(providerKey.assignment, 'GatewayKeysAssignment').gatewayKeys.map((key) => key.id);
    expect([...listed].sort()).toEqual(keys.map((key) => key.id).sort());
  });

  it('lists a repeated gateway key once', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'repeated' });

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'repeat',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { gatewayKeys: [gatewayKey.id, gatewayKey.id] },
    });

    expect(narrow(providerKey.assignment, 'GatewayKeysAssignment').gatewayKeys).toHaveLength(1);
  });

  it('shows the key on its gateway keys', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'shown' });
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'specific',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { gatewayKeys: [gatewayKey.id] },
    });

    const response = await execute(server, ProviderKeyGatewayKeyResolution, { id: gatewayKey.id }, token);

    expect(narrow(response.data?.node, 'GatewayKey').providerKeys).toEqual([{ id: providerKey.id, name: 'specific' }]);
  });

  it('moves from the organization to gateway keys', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'target' });
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'moved',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { organization: true },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, assignment: { gatewayKeys: [gatewayKey.id] } });

    expect(narrow(updated.providerKey.assignment, 'GatewayKeysAssignment').gatewayKeys.map((key) => key.id)).toEqual([gatewayKey.id]);
    expect(await countAssignmentRows(providerKeyRowId(providerKey.id))).toBe(1);
  });

  it('moves from gateway keys to the organization', async () => {
    const { token } = await newTenant();
    const first = (await createGatewayKey(server, token, { name: 'first' })).gatewayKey;
    const second = (await createGatewayKey(server, token, { name: 'second' })).gatewayKey;
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'widened',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { gatewayKeys: [first.id, second.id] },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, assignment: { organization: true } });

    expect(updated.providerKey.assignment.__typename).toBe('OrganizationAssignment');
    expect(await countAssignmentRows(providerKeyRowId(providerKey.id))).toBe(1);
  });

  it('keeps the assignment when the update omits it', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'kept' });
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'MISTRAL',
      name: 'kept',
      credentials: { apiKey: fakeKeys.mistral() },
      assignment: { gatewayKeys: [gatewayKey.id] },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, name: 'renamed' });

    expect(updated.providerKey.assignment).toEqual(providerKey.assignment);
  });

  it('rejects an empty gateway key list', async () => {
    const { token } = await newTenant();

    const response = await execute(
      server,
      ProviderKeyCreate,
      { input: { provider: 'MISTRAL', name: 'nobody', credentials: { apiKey: fakeKeys.mistral() }, assignment: { gatewayKeys: [] } } },
      token,
    );

    const error = narrow(response.data?.createProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'assignment', 'gatewayKeys']]);
  });

  it('rejects organization false', async () => {
    const { token } = await newTenant();

    const response = await execute(
      server,
      ProviderKeyCreate,
      { input: { provider: 'MISTRAL', name: 'nobody', credentials: { apiKey: fakeKeys.mistral() }, assignment: { organization: false } } },
      token,
    );

    const error = narrow(response.data?.createProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'assignment']]);
  });
});

describe('listing filters', () => {
  it('filters by provider, gateway key and organization-wide', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'filtered' });
    const organizationWide = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'organization',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { organization: true },
    });
    const specific = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'specific',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { gatewayKeys: [gatewayKey.id] },
    });
    const idsOf = async (filter: ProviderKeyFilter) => {
      const response = await execute(server, ProviderKeyList, { first: 10, filter }, token);
      return response.data?.providerKeys.edges.map((edge) => edge.node.id);
    };

    expect(await idsOf({ provider: 'OPENAI' })).toEqual([specific.providerKey.id]);
    expect(await idsOf({ gatewayKey: gatewayKey.id })).toEqual([specific.providerKey.id]);
    expect(await idsOf({ organizationWide: true })).toEqual([organizationWide.providerKey.id]);
    expect(await idsOf({ organizationWide: false })).toEqual([specific.providerKey.id]);
  });
});

describe('settings', () => {
  it('stores OpenAI organization and project ids', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'openai',
      credentials: { apiKey: fakeKeys.openAiProject() },
      settings: { openAi: { organizationId: 'org-Abc123', projectId: 'proj_Xyz789' } },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toEqual({ __typename: 'OpenAiSettings', organizationId: 'org-Abc123', projectId: 'proj_Xyz789' });
  });

  it('defaults OpenAI settings to null', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'openai',
      credentials: { apiKey: fakeKeys.openAiProject() },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toEqual({ __typename: 'OpenAiSettings', organizationId: null, projectId: null });
  });

  it('defaults Vertex location to global', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'vertex',
      credentials: { vertexServiceAccount: JSON.stringify(serviceAccount()) },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toEqual({ __typename: 'VertexAiSettings', location: 'global', vertexProjectId: null });
  });

  it('stores Vertex location and project', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'vertex',
      credentials: { vertexServiceAccount: JSON.stringify(serviceAccount()) },
      settings: { vertexAi: { location: 'us-central1', projectId: 'billing-project-1' } },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toEqual({ __typename: 'VertexAiSettings', location: 'us-central1', vertexProjectId: 'billing-project-1' });
  });

  it('restores the Vertex location default with null', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'vertex',
      credentials: { vertexServiceAccount: JSON.stringify(serviceAccount()) },
      settings: { vertexAi: { location: 'europe-west4', projectId: 'billing-project-1' } },
      assignment: { organization: true },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, settings: { vertexAi: { location: null } } });

    expect(updated.providerKey.settings).toEqual({ __typename: 'VertexAiSettings', location: 'global', vertexProjectId: 'billing-project-1' });
  });

  it('defaults the zAI endpoint to INTERNATIONAL', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ZAI',
      name: 'zai',
      credentials: { apiKey: fakeKeys.zai() },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toEqual({ __typename: 'ZaiSettings', endpoint: 'INTERNATIONAL' });
  });

  it('stores the zAI endpoint and restores the default with null', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ZAI',
      name: 'zai',
      credentials: { apiKey: fakeKeys.zai() },
      settings: { zai: { endpoint: 'CODING_PLAN' } },
      assignment: { organization: true },
    });

    const restored = await updateProviderKey(server, token, { id: providerKey.id, settings: { zai: { endpoint: null } } });

    expect(providerKey.settings).toEqual({ __typename: 'ZaiSettings', endpoint: 'CODING_PLAN' });
    expect(restored.providerKey.settings).toEqual({ __typename: 'ZaiSettings', endpoint: 'INTERNATIONAL' });
  });

  it('stores the Bedrock default region and clears it with null', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'bedrock',
      credentials: { bedrockRegions: [{ region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() }] },
      settings: { bedrock: { defaultRegion: 'eu-central-1' } },
      assignment: { organization: true },
    });

    const cleared = await updateProviderKey(server, token, { id: providerKey.id, settings: { bedrock: { defaultRegion: null } } });

    expect(providerKey.settings).toEqual({ __typename: 'BedrockSettings', defaultRegion: 'eu-central-1' });
    expect(cleared.providerKey.settings).toEqual({ __typename: 'BedrockSettings', defaultRegion: null });
  });

  it('keeps an omitted settings field on update', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'OPENAI',
      name: 'openai',
      credentials: { apiKey: fakeKeys.openAiProject() },
      settings: { openAi: { organizationId: 'org-Abc123', projectId: 'proj_Xyz789' } },
      assignment: { organization: true },
    });

    const updated = await updateProviderKey(server, token, { id: providerKey.id, settings: { openAi: { organizationId: 'org-Other9' } } });

    expect(updated.providerKey.settings).toEqual({ __typename: 'OpenAiSettings', organizationId: 'org-Other9', projectId: 'proj_Xyz789' });
  });

  it('shows no settings for providers without any', async () => {
    const { token } = await newTenant();

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'ANTHROPIC',
      name: 'anthropic',
      credentials: { apiKey: fakeKeys.anthropic() },
      assignment: { organization: true },
    });

    expect(providerKey.settings).toBeNull();
  });

  const wrongProvider: { provider: Provider; credentials: CredentialsInput; settings: ProviderKeySettingsInput; path: string[]; message: RegExp }[] = [
    {
      provider: 'OPENAI',
      credentials: { apiKey: fakeKeys.openAiProject() },
      settings: { zai: { endpoint: 'CHINA' } },
      path: ['input', 'settings', 'zai'],
      message: /does not match the provider OPENAI; use settings\.openAi/,
    },
    {
      provider: 'ANTHROPIC',
      credentials: { apiKey: fakeKeys.anthropic() },
      settings: { openAi: { organizationId: 'org-Abc123' } },
      path: ['input', 'settings', 'openAi'],
      message: /does not match the provider ANTHROPIC, which has no settings; omit settings/,
    },
  ];

  it.each(wrongProvider)('rejects $path.2 settings for $provider', async ({ provider, credentials, settings, path, message }) => {
    const { token } = await newTenant();

    const response = await execute(
      server,
      ProviderKeyCreate,
      { input: { provider, name: 'wrong settings', credentials, settings, assignment: { organization: true } } },
      token,
    );

    const error = narrow(response.data?.createProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([path]);
    expect(error.fieldErrors[0]?.message).toMatch(message);
  });

  it('rejects settings of another provider on update', async () => {
    const { token } = await newTenant();
    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'bedrock',
      credentials: { bedrockRegions: [{ region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() }] },
      assignment: { organization: true },
    });

    const response = await execute(
      server,
      ProviderKeyUpdate,
      { input: { id: providerKey.id, settings: { vertexAi: { location: 'us-central1' } } } },
      token,
    );

    const error = narrow(response.data?.updateProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'settings', 'vertexAi']]);
  });

  const invalidValues: { provider: Provider; settings: ProviderKeySettingsInput; path: string[] }[] = [
    { provider: 'OPENAI', settings: { openAi: { organizationId: 'acme' } }, path: ['input', 'settings', 'openAi', 'organizationId'] },
    { provider: 'OPENAI', settings: { openAi: { projectId: 'proj-with-dash' } }, path: ['input', 'settings', 'openAi', 'projectId'] },
    { provider: 'VERTEX_AI', settings: { vertexAi: { location: 'Mars' } }, path: ['input', 'settings', 'vertexAi', 'location'] },
    { provider: 'VERTEX_AI', settings: { vertexAi: { projectId: 'X' } }, path: ['input', 'settings', 'vertexAi', 'projectId'] },
    { provider: 'BEDROCK', settings: { bedrock: { defaultRegion: 'https://bedrock.example' } }, path: ['input', 'settings', 'bedrock', 'defaultRegion'] },
  ];

  it.each(invalidValues)('rejects an invalid value at $path', async ({ provider, settings, path }) => {
    const { token } = await newTenant();
    const credentials: CredentialsInput =
      provider === 'VERTEX_AI'
        ? { vertexServiceAccount: JSON.stringify(serviceAccount()) }
        : provider === 'BEDROCK'
          ? { bedrockRegions: [{ region: 'global', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() }] }
          : { apiKey: fakeKeys.openAiProject() };

    const response = await execute(
      server,
      ProviderKeyCreate,
      { input: { provider, name: 'invalid settings', credentials, settings, assignment: { organization: true } } },
      token,
    );

    const error = narrow(response.data?.createProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([path]);
  });
});

describe('providers query', () => {
  it('describes each credential kind', async () => {
    const { token } = await newTenant();

    const response = await execute(server, ProviderKeyProviders, {}, token);

    const kinds = Object.fromEntries(response.data!.providers.map((entry) => [entry.provider, entry.credentialsKind]));
    expect(kinds).toEqual({
      ANTHROPIC: 'API_KEY',
      OPENAI: 'API_KEY',
      VERTEX_AI: 'VERTEX_SERVICE_ACCOUNT',
      MISTRAL: 'API_KEY',
      DEEPSEEK: 'API_KEY',
      XAI: 'API_KEY',
      ZAI: 'API_KEY',
      BEDROCK: 'BEDROCK_REGIONS',
    });
  });

  it('describes the settings fields', async () => {
    const { token } = await newTenant();

    const response = await execute(server, ProviderKeyProviders, {}, token);

    const byProvider = new Map(response.data!.providers.map((entry) => [entry.provider, entry]));
    expect(byProvider.get('ZAI')?.settingsFields).toEqual([
      { name: 'endpoint', description: expect.any(String), enumValues: ['INTERNATIONAL', 'CODING_PLAN', 'CHINA'], defaultValue: 'INTERNATIONAL' },
    ]);
    expect(byProvider.get('VERTEX_AI')?.settingsFields.find((field) => field.name === 'location')?.defaultValue).toBe('global');
    expect(byProvider.get('ANTHROPIC')?.settingsInputField).toBeNull();
    expect(byProvider.get('BEDROCK')?.settingsInputField).toBe('bedrock');
  });
});
