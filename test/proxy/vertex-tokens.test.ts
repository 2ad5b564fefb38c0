import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { createServer } from 'node:net';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeServiceAccount } from '../support/fake-upstreams/vertex.js';
import { anthropicClient, openAiClient, rejectionOf } from './helpers.js';
import { bearerOf, createVertexTenant, replaceServiceAccount, startVertexProxyContext, type VertexProxyContext, type VertexTenant } from './vertex-helpers.js';

// Access tokens of Vertex provider keys through the proxy: minted once and cached, replaced once
// after Vertex rejects one, never shared between organizations, and the token endpoint's failures
// mapped to the client's error. Each test uses a tenant of its own, so the token cache starts empty.

const messages = [{ role: 'user' as const, content: 'Hello there' }];
const claudeModel = 'vertex/claude-sonnet-4-5@20250929';

let context: VertexProxyContext;

beforeAll(async () => {
  context = await startVertexProxyContext();
});

afterAll(async () => {
  await context?.close();
});

function mints(tenant: VertexTenant): number {
  return context.tokens.mintCount(tenant.serviceAccount.account.client_email);
}

/** Returns the Vertex requests made with tokens of the tenant's account, in order. */
function vertexRequestsOf(tenant: VertexTenant) {
  const email = tenant.serviceAccount.account.client_email;
  return context.vertex.requests.filter((request) => context.tokens.mints.some((mint) => mint.clientEmail === email && mint.accessToken === bearerOf(request)));
}

describe('Vertex access token cache', () => {
  it('one mint for many requests', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    const anthropic = anthropicClient(context.server, tenant.gatewayKey.secret);

    await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    await openai.chat.completions.create({ model: claudeModel, messages });
    await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });
    await anthropic.messages.stream({ model: 'google/gemini-2.5-flash', max_tokens: 50, messages }).finalMessage();
    await anthropic.messages.countTokens({ model: claudeModel, messages });

    expect(mints(tenant)).toBe(1);
    const tokens = new Set(vertexRequestsOf(tenant).map((request) => bearerOf(request)));
    expect(vertexRequestsOf(tenant)).toHaveLength(5);
    expect(tokens.size).toBe(1);
  });

  it('one mint for concurrent first requests', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);

    const completions = await Promise.all(
      Array.from({ length: 8 }, () => openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages })),
    );

    expect(completions).toHaveLength(8);
    expect(mints(tenant)).toBe(1);
  });

  it('same key file in two organizations gets two tokens', async () => {
    const serviceAccount = createFakeServiceAccount();
    context.tokens.register(serviceAccount);
    const first = await createVertexTenant(context, { serviceAccount });
    const second = await createVertexTenant(context, { serviceAccount });

    await openAiClient(context.server, first.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    const firstToken = bearerOf(context.vertex.requests.at(-1)!);
    await openAiClient(context.server, second.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    const secondToken = bearerOf(context.vertex.requests.at(-1)!);
    await openAiClient(context.server, first.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    const firstAgain = bearerOf(context.vertex.requests.at(-1)!);

    expect(context.tokens.mintCount(serviceAccount.account.client_email)).toBe(2);
    expect(firstToken).toBeDefined();
    expect(secondToken).toBeDefined();
    expect(secondToken).not.toBe(firstToken);
    expect(firstAgain).toBe(firstToken);
  });

  it('new key file gets a new token', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    const replacement = createFakeServiceAccount({ projectId: tenant.project });
    context.tokens.register(replacement);
    context.projects[tenant.project]!.push(replacement.account.client_email);

    const version = await replaceServiceAccount(context, tenant, replacement);
    // The change notification reaches the proxy's credential cache asynchronously.
    let request = context.vertex.requests.at(-1)!;
    for (let attempt = 0; attempt < 40 && request.clientEmail !== replacement.account.client_email; attempt += 1) {
      await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
      request = context.vertex.requests.at(-1)!;
      if (request.clientEmail !== replacement.account.client_email) await new Promise((resolve) => setTimeout(resolve, 50));
    }

    expect(version).toBe(2);
    expect(request.clientEmail).toBe(replacement.account.client_email);
    expect(context.tokens.mintCount(replacement.account.client_email)).toBe(1);
    expect(mints(tenant)).toBe(1);
  });

  it('each organization uses its own account', async () => {
    const first = await createVertexTenant(context);
    const second = await createVertexTenant(context);

    await anthropicClient(context.server, first.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages });
    const firstRequest = context.vertex.requests.at(-1)!;
    await anthropicClient(context.server, second.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages });
    const secondRequest = context.vertex.requests.at(-1)!;

    expect(firstRequest.clientEmail).toBe(first.serviceAccount.account.client_email);
    expect(secondRequest.clientEmail).toBe(second.serviceAccount.account.client_email);
    expect(firstRequest.project).toBe(first.project);
    expect(secondRequest.project).toBe(second.project);
  });
});

describe('Vertex 401 retry', () => {
  it('one new mint and one retry after a 401', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    const before = context.vertex.requests.length;

    context.vertex.enqueue({ error: { status: 401 } });
    const completion = await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake Gemini on Vertex.');
    expect(mints(tenant)).toBe(2);
    const [rejected, retried] = context.vertex.requests.slice(before);
    expect(context.vertex.requests.length - before).toBe(2);
    expect(bearerOf(rejected!)).toBe(context.tokens.mints.filter((mint) => mint.clientEmail === tenant.serviceAccount.account.client_email)[0]?.accessToken);
    expect(bearerOf(retried!)).toBe(context.tokens.mints.at(-1)?.accessToken);
    expect(retried!.rawBody).toBe(rejected!.rawBody);
  });

  it('new token kept after the retry', async () => {
    const tenant = await createVertexTenant(context);
    const anthropic = anthropicClient(context.server, tenant.gatewayKey.secret);
    await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });
    const first = bearerOf(context.vertex.requests.at(-1)!)!;

    // A revoked token gets 401 on every use, as after Google revoked it.
    context.vertex.revoke(first);
    await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });
    const second = bearerOf(context.vertex.requests.at(-1)!);
    await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });

    expect(second).not.toBe(first);
    expect(bearerOf(context.vertex.requests.at(-1)!)).toBe(second);
    expect(mints(tenant)).toBe(2);
  });

  it('one new mint for concurrent 401s', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    await openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });
    context.vertex.revoke(bearerOf(context.vertex.requests.at(-1)!)!);

    const completions = await Promise.all(
      Array.from({ length: 6 }, () => openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages })),
    );

    expect(completions.map((completion) => completion.choices[0]?.finish_reason)).toEqual(Array(6).fill('stop'));
    expect(mints(tenant)).toBe(2);
  });

  it('stream retried after a 401', async () => {
    const tenant = await createVertexTenant(context);
    const anthropic = anthropicClient(context.server, tenant.gatewayKey.secret);
    await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });

    context.vertex.enqueue({ error: { status: 401 } });
    const final = await anthropic.messages.stream({ model: claudeModel, max_tokens: 50, messages }).finalMessage();

    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Claude on Vertex.' });
    expect(mints(tenant)).toBe(2);
  });

  it('second 401 is a 502 for openai clients', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    const before = context.vertex.requests.length;

    context.vertex.enqueue({ error: { status: 401 } }, { error: { status: 401 } });
    const error = await rejectionOf<OpenAiApiError>(openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(tenant.providerKey.globalId);
    expect(context.vertex.requests.length - before).toBe(2);
    expect(mints(tenant)).toBe(2);
  });

  it('second 401 is a 502 for anthropic clients', async () => {
    const tenant = await createVertexTenant(context);
    const anthropic = anthropicClient(context.server, tenant.gatewayKey.secret);

    context.vertex.enqueue({ error: { status: 401 } }, { error: { status: 401 } });
    const error = await rejectionOf<AnthropicApiError>(anthropic.messages.stream({ model: claudeModel, max_tokens: 50, messages }).finalMessage());

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(tenant.providerKey.globalId);
    expect(error.message).toContain('Google Vertex AI rejected the stored credential');
    expect(mints(tenant)).toBe(2);
  });
});

describe('Vertex token endpoint failures', () => {
  it('invalid_grant is a 502 naming the key', async () => {
    const tenant = await createVertexTenant(context);
    const before = context.vertex.requests.length;

    context.tokens.enqueue({ error: { error: 'invalid_grant', description: 'Invalid grant: account not found' } });
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }),
    );

    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(tenant.providerKey.globalId);
    expect(error.message).toContain('invalid_grant');
    expect(context.vertex.requests.length).toBe(before);
  });

  it('deleted key is a 502 for anthropic clients', async () => {
    const tenant = await createVertexTenant(context);
    context.tokens.deleteKey(tenant.serviceAccount);

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages }),
    );

    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(tenant.providerKey.globalId);
    expect(error.message).toContain('Invalid JWT Signature.');
  });

  it('token endpoint 503 is a 503', async () => {
    const tenant = await createVertexTenant(context);

    context.tokens.enqueue({ error: { status: 503, error: 'backend_error', description: 'The service is currently unavailable.' } });
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }),
    );

    expect(error.status).toBe(503);
    expect(error.code).toBe('credential_unavailable');
    expect(error.message).toContain(tenant.providerKey.globalId);
  });

  it('failed mint not repeated within the retry interval', async () => {
    const tenant = await createVertexTenant(context);
    const openai = openAiClient(context.server, tenant.gatewayKey.secret);
    context.tokens.enqueue({ error: { status: 503, error: 'backend_error' } });
    await rejectionOf(openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));
    const tokenRequests = context.tokens.requests.length;

    const error = await rejectionOf<OpenAiApiError>(openai.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));

    expect(error.status).toBe(503);
    expect(context.tokens.requests.length).toBe(tokenRequests);
  });

  it('unreachable token endpoint is a 503', async () => {
    // A port that was free a moment ago, so the connection is refused.
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const overrides = context.overrides.replace(/https:\/\/oauth2\.googleapis\.com=[^,]+/, `https://oauth2.googleapis.com=http://127.0.0.1:${closedPort}`);
    expect(overrides).toContain(`http://127.0.0.1:${closedPort}`);
    const server = await context.startServer({ UPSTREAM_OVERRIDES: overrides });
    const tenant = await createVertexTenant(context);

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(server, tenant.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages }),
    );

    expect(error.status).toBe(503);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(error.message).toContain(tenant.providerKey.globalId);
    expect(mints(tenant)).toBe(0);
  });
});
