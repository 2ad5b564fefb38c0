import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type Anthropic from '@anthropic-ai/sdk';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicClient,
  createGatewayKey,
  createOrganization,
  createProviderKey,
  createTenant,
  openAiClient,
  rejectionOf,
  startProxyContext,
  type CreatedGatewayKey,
  type CreatedProviderKey,
  type ProxyTestContext,
} from './helpers.js';

// How the proxy finds and checks the gateway key, the headers it adds to responses, and the
// model list of a gateway key.

let context: ProxyTestContext;
let organizationId: string;
let gatewayKey: CreatedGatewayKey;
let openAiKey: CreatedProviderKey;
let anthropicKey: CreatedProviderKey;

beforeAll(async () => {
  context = await startProxyContext();
  const tenant = await createTenant(context, ['OPENAI', 'ANTHROPIC']);
  organizationId = tenant.organizationId;
  gatewayKey = tenant.gatewayKey;
  openAiKey = tenant.providerKeys.OPENAI!;
  anthropicKey = tenant.providerKeys.ANTHROPIC!;
});

afterAll(async () => {
  await context?.close();
});

/** Returns a secret in the gateway key format that belongs to no key. */
function unknownSecret(): string {
  return `kr_${randomBytes(24).toString('base64url')}`;
}

function basic(userName: string): string {
  return `Basic ${Buffer.from(`${userName}:`).toString('base64')}`;
}

async function listModelsStatus(headers: Record<string, string>): Promise<number> {
  const response = await fetch(`${context.server.baseUrl}/v1/models`, { headers });
  await response.arrayBuffer();
  return response.status;
}

describe('gateway key headers', () => {
  const forms: [string, (secret: string) => Record<string, string>][] = [
    ['x-keyroute-api-key', (secret) => ({ 'x-keyroute-api-key': secret })],
    ['x-edgee-api-key', (secret) => ({ 'x-edgee-api-key': secret })],
    ['x-api-key', (secret) => ({ 'x-api-key': secret })],
    ['Bearer', (secret) => ({ authorization: `Bearer ${secret}` })],
    ['Basic user name', (secret) => ({ authorization: basic(secret) })],
  ];

  it.each(forms)('%s alone authenticates', async (_name, header) => {
    expect(await listModelsStatus(header(gatewayKey.secret))).toBe(200);
  });

  // Each pair sends the key in the earlier form and a wrong one in the later form, then the reverse:
  // only the earlier form is read.
  const pairs = [
    [forms[0]!, forms[1]!],
    [forms[1]!, forms[2]!],
    [forms[2]!, forms[3]!],
    [forms[2]!, forms[4]!],
  ] as const;

  it.each(pairs.map(([first, second]) => [first[0], second[0], first[1], second[1]] as const))(
    '%s read before %s',
    async (_first, _second, firstHeader, secondHeader) => {
      expect(await listModelsStatus({ ...secondHeader(unknownSecret()), ...firstHeader(gatewayKey.secret) })).toBe(200);
      expect(await listModelsStatus({ ...secondHeader(gatewayKey.secret), ...firstHeader(unknownSecret()) })).toBe(401);
    },
  );
});

describe('gateway key checks', () => {
  it('missing key is 401 in the OpenAI envelope', async () => {
    const response = await fetch(`${context.server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    const body = (await response.json()) as { error: { type: string; code: string; message: string } };

    expect(response.status).toBe(401);
    expect(body.error.type).toBe('authentication_error');
    expect(body.error.code).toBe('authentication_error');
    expect(body.error.message).toMatch(/missing gateway key/i);
  });

  it('missing key is 401 in the Anthropic envelope', async () => {
    const response = await fetch(`${context.server.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };

    expect(response.status).toBe(401);
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('authentication_error');
  });

  it('unknown key is 401', async () => {
    const before = context.fakes.openai.requests.length;
    const error = await rejectionOf<APIError>(
      openAiClient(context.server, unknownSecret()).chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('authentication_error');
    expect(error.message).toMatch(/unknown gateway key/i);
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('inactive key is 403', async () => {
    const inactive = await createGatewayKey(context.server, organizationId, { active: false });
    const error = await rejectionOf<APIError>(
      openAiClient(context.server, inactive.secret).chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(error.status).toBe(403);
    expect(error.code).toBe('permission_error');
    expect(error.message).toContain(inactive.name);
    expect(error.message).toMatch(/inactive/);
  });

  it('expired key is 403', async () => {
    const expiring = await createGatewayKey(context.server, organizationId);
    await context.database.db
      .updateTable('gateway_keys')
      .set({ expires_at: sql`now() - interval '1 minute'` })
      .where('id', '=', expiring.id)
      .execute();

    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(
      anthropicClient(context.server, expiring.secret).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(error.status).toBe(403);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(error.message).toMatch(/expired/);
  });

  it('key expiring while cached is 403', async () => {
    const expiresAt = new Date(Date.now() + 1_500);
    const expiring = await createGatewayKey(context.server, organizationId, { expiresAt });
    const client = openAiClient(context.server, expiring.secret);
    await expect(client.models.list()).resolves.toBeDefined();

    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 50));
    const error = await rejectionOf<APIError>(client.models.list());

    expect(error.status).toBe(403);
    expect(error.message).toMatch(/expired/);
  });

  it('model outside the allow-list is 403', async () => {
    const limited = await createGatewayKey(context.server, organizationId, { modelAllowList: ['openai/gpt-4o-mini', 'anthropic/*'] });
    const before = context.fakes.openai.requests.length;
    const error = await rejectionOf<APIError>(
      openAiClient(context.server, limited.secret).chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(error.status).toBe(403);
    expect(error.code).toBe('permission_error');
    expect(error.param).toBe('model');
    expect(error.message).toContain('openai/gpt-4o');
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('model inside the allow-list passes', async () => {
    const limited = await createGatewayKey(context.server, organizationId, { modelAllowList: ['openai/gpt-4o-mini', 'anthropic/*'] });

    const completion = await openAiClient(context.server, limited.secret).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    const message = await anthropicClient(context.server, limited.secret).messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hello' }],
    });

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake OpenAI.');
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
  });
});

describe('gateway response headers', () => {
  it('chat completion names provider, key and source', async () => {
    const { response } = await openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })
      .withResponse();

    expect(response.headers.get('x-keyroute-provider')).toBe('openai');
    expect(response.headers.get('x-keyroute-provider-key-id')).toBe(openAiKey.globalId);
    expect(response.headers.get('x-keyroute-credential-source')).toBe('ORGANIZATION');
  });

  it('stream names provider, key and source', async () => {
    const { data: stream, response } = await openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }], stream: true })
      .withResponse();
    for await (const chunk of stream) expect(chunk.object).toBe('chat.completion.chunk');

    expect(response.headers.get('x-keyroute-provider')).toBe('openai');
    expect(response.headers.get('x-keyroute-provider-key-id')).toBe(openAiKey.globalId);
    expect(response.headers.get('x-keyroute-credential-source')).toBe('ORGANIZATION');
  });

  it('message names provider, key and source', async () => {
    const { response } = await anthropicClient(context.server, gatewayKey.secret)
      .messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] })
      .withResponse();

    expect(response.headers.get('x-keyroute-provider')).toBe('anthropic');
    expect(response.headers.get('x-keyroute-provider-key-id')).toBe(anthropicKey.globalId);
    expect(response.headers.get('x-keyroute-credential-source')).toBe('ORGANIZATION');
    // Anthropic's own request id comes through beside the gateway's x-request-id.
    expect(response.headers.get('request-id')).toMatch(/^req_/);
  });

  it('upstream error names provider, key and source', async () => {
    context.fakes.openai.enqueue({ error: { status: 400, message: 'Invalid value for messages.' } });
    const error = await rejectionOf<APIError>(
      openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(error.status).toBe(400);
    expect(error.headers?.get('x-keyroute-provider')).toBe('openai');
    expect(error.headers?.get('x-keyroute-provider-key-id')).toBe(openAiKey.globalId);
    expect(error.headers?.get('x-keyroute-credential-source')).toBe('ORGANIZATION');
  });
});

describe('model list', () => {
  const catalogIds = (prefixes: string[]) =>
    context.server.config.models.catalog
      .list()
      .map((entry) => entry.id)
      .filter((id) => prefixes.some((prefix) => id.startsWith(`${prefix}/`)))
      .sort();

  it('lists models of configured providers only', async () => {
    const models = await openAiClient(context.server, gatewayKey.secret).models.list();
    const ids = models.data.map((model) => model.id).sort();

    expect(ids).toEqual(catalogIds(['openai', 'anthropic']));
    expect(ids).toContain('openai/gpt-4o');
    expect(ids).toContain('anthropic/claude-sonnet-4-5');
    expect(ids).not.toContain('mistral/mistral-large-latest');
  });

  it('lists within the allow-list', async () => {
    const limited = await createGatewayKey(context.server, organizationId, { modelAllowList: ['openai/gpt-4o', 'anthropic/*', 'mistral/*'] });

    const models = await openAiClient(context.server, limited.secret).models.list();
    const ids = models.data.map((model) => model.id).sort();

    expect(ids).toEqual(['openai/gpt-4o', ...catalogIds(['anthropic'])].sort());
    expect(models.data.find((model) => model.id === 'openai/gpt-4o')?.owned_by).toBe('openai');
  });

  it('skips disabled and other keys', async () => {
    const otherOrganization = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, otherOrganization);
    const neighbour = await createGatewayKey(context.server, otherOrganization);
    await createProviderKey(context.server, otherOrganization, {
      provider: 'MISTRAL',
      apiKey: context.secrets.MISTRAL,
      assignment: { organization: true },
      enabled: false,
    });
    await createProviderKey(context.server, otherOrganization, {
      provider: 'DEEPSEEK',
      apiKey: context.secrets.DEEPSEEK,
      assignment: { gatewayKeyIds: [neighbour.id] },
    });
    await createProviderKey(context.server, otherOrganization, {
      provider: 'XAI',
      apiKey: context.secrets.XAI,
      assignment: { gatewayKeyIds: [key.id] },
    });

    const models = await openAiClient(context.server, key.secret).models.list();

    expect(models.data.map((model) => model.id).sort()).toEqual(catalogIds(['xai']));
  });

  it('empty for a key without credentials', async () => {
    const bare = await createGatewayKey(context.server, await createOrganization(context.server));

    const models = await openAiClient(context.server, bare.secret).models.list();

    expect(models.data).toEqual([]);
  });
});
