import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { Provider } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DeleteGatewayKey } from './documents.js';
import { createGatewayKey, execute } from './helpers.js';
import {
  ProviderKeyCreate,
  ProviderKeyDelete,
  ProviderKeyGatewayKeyResolution,
  ProviderKeyGatewayKeysResolution,
  ProviderKeyList,
  ProviderKeyNode,
  ProviderKeyUpdate,
} from './provider-keys.documents.js';
import { createProviderKey, fakeKeys, findProviderKeyRow, narrow, providerKeyRowId, updateProviderKey } from './provider-keys.helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

function newTenant(name = 'Resolution') {
  return server.createTenant(name, 'write');
}

async function anthropicKey(token: string, name: string, assignment: { organization: true } | { gatewayKeys: string[] }, enabled = true) {
  const { providerKey } = await createProviderKey(server, token, {
    provider: 'ANTHROPIC',
    name,
    enabled,
    credentials: { apiKey: fakeKeys.anthropic() },
    assignment,
  });
  return providerKey;
}

/** Fetches the credentialResolution row of one provider for a gateway key, as the API shows it. */
async function resolutionOf(token: string, gatewayKeyId: string, provider: Provider = 'ANTHROPIC') {
  const response = await execute(server, ProviderKeyGatewayKeyResolution, { id: gatewayKeyId }, token);
  const rows = narrow(response.data?.node, 'GatewayKey').credentialResolution;
  return rows.find((row) => row.provider === provider);
}

describe('credentialResolution', () => {
  it('uses an enabled key of the gateway key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const specific = await anthropicKey(token, 'specific', { gatewayKeys: [gatewayKey.id] });

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('USE');
    expect(row?.source).toBe('GATEWAY_KEY');
    expect(row?.providerKey?.id).toBe(specific.id);
  });

  it('prefers the gateway key over the organization', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    await anthropicKey(token, 'organization', { organization: true });
    const specific = await anthropicKey(token, 'specific', { gatewayKeys: [gatewayKey.id] });

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('USE');
    expect(row?.source).toBe('GATEWAY_KEY');
    expect(row?.providerKey?.id).toBe(specific.id);
  });

  it('refuses a disabled key of the gateway key, naming it', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const specific = await anthropicKey(token, 'specific off', { gatewayKeys: [gatewayKey.id] }, false);

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('DISABLED');
    expect(row?.source).toBe('GATEWAY_KEY');
    expect(row?.providerKey).toEqual({ id: specific.id, name: 'specific off', enabled: false });
  });

  it('refuses a disabled gateway key slot despite an enabled organization key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    await anthropicKey(token, 'organization', { organization: true });
    const specific = await anthropicKey(token, 'specific off', { gatewayKeys: [gatewayKey.id] }, false);

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('DISABLED');
    expect(row?.source).toBe('GATEWAY_KEY');
    expect(row?.providerKey?.id).toBe(specific.id);
  });

  it('uses the enabled organization key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const organization = await anthropicKey(token, 'organization', { organization: true });

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('USE');
    expect(row?.source).toBe('ORGANIZATION');
    expect(row?.providerKey?.id).toBe(organization.id);
  });

  it('refuses a disabled organization key, naming it', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const organization = await anthropicKey(token, 'organization off', { organization: true }, false);

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('DISABLED');
    expect(row?.source).toBe('ORGANIZATION');
    expect(row?.providerKey).toEqual({ id: organization.id, name: 'organization off', enabled: false });
  });

  it('reports none without a key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.outcome).toBe('NONE');
    expect(row?.source).toBeNull();
    expect(row?.providerKey).toBeNull();
  });

  it('ignores a key of another gateway key', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const other = (await createGatewayKey(server, token, { name: 'other' })).gatewayKey;
    const organization = await anthropicKey(token, 'organization', { organization: true });
    await anthropicKey(token, 'other only', { gatewayKeys: [other.id] });

    const row = await resolutionOf(token, gatewayKey.id);

    expect(row?.source).toBe('ORGANIZATION');
    expect(row?.providerKey?.id).toBe(organization.id);
  });

  it('has one row per provider', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    await anthropicKey(token, 'organization', { organization: true });

    const response = await execute(server, ProviderKeyGatewayKeyResolution, { id: gatewayKey.id }, token);

    const rows = narrow(response.data?.node, 'GatewayKey').credentialResolution;
    expect(rows.map((row) => row.provider)).toEqual(['ANTHROPIC', 'OPENAI', 'VERTEX_AI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI', 'BEDROCK']);
    expect(rows.filter((row) => row.outcome === 'NONE')).toHaveLength(7);
  });

  it('follows a key being disabled', async () => {
    const { token } = await newTenant();
    const { gatewayKey } = await createGatewayKey(server, token, { name: 'app' });
    const specific = await anthropicKey(token, 'specific', { gatewayKeys: [gatewayKey.id] });

    await updateProviderKey(server, token, { id: specific.id, enabled: false });

    expect((await resolutionOf(token, gatewayKey.id))?.outcome).toBe('DISABLED');
  });

  it('resolves each gateway key in a list', async () => {
    const { token } = await newTenant();
    const first = (await createGatewayKey(server, token, { name: 'first' })).gatewayKey;
    const second = (await createGatewayKey(server, token, { name: 'second' })).gatewayKey;
    const organization = await anthropicKey(token, 'organization', { organization: true });
    const specific = await anthropicKey(token, 'first only', { gatewayKeys: [first.id] });

    const response = await execute(server, ProviderKeyGatewayKeysResolution, { first: 10 }, token);

    const byName = new Map(
      response.data!.gatewayKeys.edges.map(({ node }) => [node.name, node.credentialResolution.find((row) => row.provider === 'ANTHROPIC')]),
    );
    expect(byName.get('first')?.providerKey?.id).toBe(specific.id);
    expect(byName.get('second')?.providerKey?.id).toBe(organization.id);
    expect(second.name).toBe('second');
  });
});

describe('deleted gateway keys', () => {
  it('drop out of an assignment', async () => {
    const { token } = await newTenant();
    const kept = (await createGatewayKey(server, token, { name: 'kept' })).gatewayKey;
    const removed = (await createGatewayKey(server, token, { name: 'removed' })).gatewayKey;
    const providerKey = await anthropicKey(token, 'two apps', { gatewayKeys: [kept.id, removed.id] });

    await execute(server, DeleteGatewayKey, { id: removed.id }, token);

    const node = await execute(server, ProviderKeyNode, { id: providerKey.id }, token);
    const assignment = narrow(narrow(node.data?.node, 'ProviderKey').assignment, 'GatewayKeysAssignment');
    expect(assignment.gatewayKeys.map((key) => key.id)).toEqual([kept.id]);
  });

  it('leave an empty list that serves nobody', async () => {
    const { token } = await newTenant();
    const removed = (await createGatewayKey(server, token, { name: 'removed' })).gatewayKey;
    const bystander = (await createGatewayKey(server, token, { name: 'bystander' })).gatewayKey;
    const providerKey = await anthropicKey(token, 'orphan', { gatewayKeys: [removed.id] });

    await execute(server, DeleteGatewayKey, { id: removed.id }, token);

    const node = await execute(server, ProviderKeyNode, { id: providerKey.id }, token);
    const assignment = narrow(narrow(node.data?.node, 'ProviderKey').assignment, 'GatewayKeysAssignment');
    expect(assignment.gatewayKeys).toEqual([]);
    expect((await resolutionOf(token, bystander.id))?.outcome).toBe('NONE');
  });

  it('keep the provider key itself', async () => {
    const { token } = await newTenant();
    const removed = (await createGatewayKey(server, token, { name: 'removed' })).gatewayKey;
    const providerKey = await anthropicKey(token, 'orphan', { gatewayKeys: [removed.id] });

    await execute(server, DeleteGatewayKey, { id: removed.id }, token);

    const list = await execute(server, ProviderKeyList, { first: 10, filter: { organizationWide: false } }, token);
    expect(list.data?.providerKeys.edges.map((edge) => edge.node.id)).toEqual([providerKey.id]);
  });
});

describe('isolation', () => {
  async function twoOrganizations() {
    const first = await newTenant('First');
    const second = await newTenant('Second');
    const firstGatewayKey = (await createGatewayKey(server, first.token, { name: 'first app' })).gatewayKey;
    const organizationKey = await anthropicKey(first.token, 'first organization', { organization: true });
    const specificKey = await anthropicKey(first.token, 'first specific', { gatewayKeys: [firstGatewayKey.id] });
    return { first, second, firstGatewayKey, organizationKey, specificKey };
  }

  it('lists none of another organization', async () => {
    const { second } = await twoOrganizations();

    const list = await execute(server, ProviderKeyList, { first: 100 }, second.token);

    expect(list.data?.providerKeys.edges).toEqual([]);
  });

  it('filters by a foreign gateway key to nothing', async () => {
    const { second, firstGatewayKey } = await twoOrganizations();

    const list = await execute(server, ProviderKeyList, { first: 100, filter: { gatewayKey: firstGatewayKey.id } }, second.token);

    expect(list.data?.providerKeys.edges).toEqual([]);
  });

  it('reads a foreign key as null', async () => {
    const { second, organizationKey } = await twoOrganizations();

    const node = await execute(server, ProviderKeyNode, { id: organizationKey.id }, second.token);

    expect(node.data?.node).toBeNull();
    expect(node.errors).toBeUndefined();
  });

  it('reports an update of a foreign key as not found', async () => {
    const { second, organizationKey } = await twoOrganizations();

    const response = await execute(server, ProviderKeyUpdate, { input: { id: organizationKey.id, name: 'taken over', enabled: false } }, second.token);

    expect(narrow(response.data?.updateProviderKey, 'NotFoundError').id).toBe(organizationKey.id);
    const row = await findProviderKeyRow(server.testDatabase.db, providerKeyRowId(organizationKey.id));
    expect(row.name).toBe('first organization');
    expect(row.enabled).toBe(true);
  });

  it('reports a delete of a foreign key as not found', async () => {
    const { second, organizationKey } = await twoOrganizations();

    const response = await execute(server, ProviderKeyDelete, { id: organizationKey.id }, second.token);

    expect(narrow(response.data?.deleteProviderKey, 'NotFoundError').id).toBe(organizationKey.id);
    expect((await findProviderKeyRow(server.testDatabase.db, providerKeyRowId(organizationKey.id))).id).toBe(
      providerKeyRowId(organizationKey.id),
    );
  });

  it('rejects a foreign gateway key on create', async () => {
    const { second, firstGatewayKey } = await twoOrganizations();
    const own = (await createGatewayKey(server, second.token, { name: 'own' })).gatewayKey;

    const response = await execute(
      server,
      ProviderKeyCreate,
      {
        input: {
          provider: 'OPENAI',
          name: 'cross',
          credentials: { apiKey: fakeKeys.openAiProject() },
          assignment: { gatewayKeys: [own.id, firstGatewayKey.id] },
        },
      },
      second.token,
    );

    const error = narrow(response.data?.createProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'assignment', 'gatewayKeys', '1']]);
    expect(error.fieldErrors[0]?.message).toBe('is not a gateway key of this organization');
  });

  it('rejects a foreign gateway key on update', async () => {
    const { second, firstGatewayKey } = await twoOrganizations();
    const own = await anthropicKey(second.token, 'second organization', { organization: true });

    const response = await execute(
      server,
      ProviderKeyUpdate,
      { input: { id: own.id, assignment: { gatewayKeys: [firstGatewayKey.id] } } },
      second.token,
    );

    const error = narrow(response.data?.updateProviderKey, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'assignment', 'gatewayKeys', '0']]);
  });

  it('never resolves to a foreign key', async () => {
    const { second } = await twoOrganizations();
    const own = (await createGatewayKey(server, second.token, { name: 'second app' })).gatewayKey;

    const response = await execute(server, ProviderKeyGatewayKeysResolution, { first: 100 }, second.token);

    const rows = response.data!.gatewayKeys.edges.flatMap(({ node }) => node.credentialResolution);
    expect(response.data!.gatewayKeys.edges.map(({ node }) => node.id)).toEqual([own.id]);
    expect(rows.every((row) => row.outcome === 'NONE')).toBe(true);
  });

  it('reads a foreign gateway key as null', async () => {
    const { second, firstGatewayKey } = await twoOrganizations();

    const response = await execute(server, ProviderKeyGatewayKeyResolution, { id: firstGatewayKey.id }, second.token);

    expect(response.data?.node).toBeNull();
  });
});

describe('ids', () => {
  it('reads a provider key id that is no UUID as null', async () => {
    const { token } = await newTenant();

    const node = await execute(server, ProviderKeyNode, { id: encodeGlobalID('ProviderKey', 'not-a-uuid') }, token);

    expect(node.data?.node).toBeNull();
    expect(node.errors).toBeUndefined();
  });
});
