import type Anthropic from '@anthropic-ai/sdk';
import type { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyFor, corruptEnvelope, writePlatformCredentialsFile } from '../proxy-directory/helpers.js';
import {
  anthropicClient,
  createGatewayKey,
  createOrganization,
  createProviderKey,
  lastRequest,
  newUpstreamSecrets,
  openAiClient,
  rejectionOf,
  startProxyContext,
  type ProxyTestContext,
} from './helpers.js';

// Every row of the resolution table, through the proxy. For gateway key G of organization O and
// provider P, the first matching row wins. The rows are a specific key for (G, P), enabled or
// disabled, then the organization-wide key for (O, P), enabled or disabled, then the operator's
// platform credentials when O may use them, else no credential. A chosen key that cannot be
// decrypted is a 503 and never falls through to a later row.
//
// The OpenAI fake accepts one secret only. The key that should win holds it and every other
// candidate holds a decoy, so a request served by the wrong row fails at the fake.

const secrets = newUpstreamSecrets();
const messages = [{ role: 'user' as const, content: 'Hello' }];

let context: ProxyTestContext;
let platformFile: Awaited<ReturnType<typeof writePlatformCredentialsFile>>;

beforeAll(async () => {
  platformFile = await writePlatformCredentialsFile({
    OPENAI: { kind: 'API_KEY', apiKey: secrets.OPENAI },
    ANTHROPIC: { kind: 'API_KEY', apiKey: secrets.ANTHROPIC },
  });
  context = await startProxyContext({ PLATFORM_CREDENTIALS_FILE: platformFile.path }, secrets);
});

afterAll(async () => {
  await context?.close();
  await platformFile?.remove();
});

function chat(secret: string) {
  return openAiClient(context.server, secret).chat.completions.create({ model: 'openai/gpt-4o', messages }).withResponse();
}

function chatError(secret: string): Promise<APIError> {
  return rejectionOf<APIError>(chat(secret));
}

describe('resolution table', () => {
  it('specific enabled key wins over organization-wide', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    const organizationWide = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: apiKeyFor('OPENAI'),
      assignment: { organization: true },
    });
    const specific = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { gatewayKeyIds: [key.id] },
    });

    const { response } = await chat(key.secret);

    expect(response.headers.get('x-keyroute-provider-key-id')).toBe(specific.globalId);
    expect(response.headers.get('x-keyroute-credential-source')).toBe('GATEWAY_KEY');
    expect(lastRequest(context.fakes.openai).headers.authorization).toBe(`Bearer ${secrets.OPENAI}`);

    // Another gateway key of the organization gets the organization-wide key. The fake rejects its
    // decoy secret, which shows that this key really is a different credential.
    const other = await createGatewayKey(context.server, organizationId);
    const error = await chatError(other.secret);
    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.message).toContain(organizationWide.globalId);
  });

  it('specific disabled key is 403 despite organization-wide', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    await createProviderKey(context.server, organizationId, { provider: 'OPENAI', apiKey: secrets.OPENAI, assignment: { organization: true } });
    const disabled = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { gatewayKeyIds: [key.id] },
      enabled: false,
      name: 'Disabled for this app',
    });
    const before = context.fakes.openai.requests.length;

    const error = await chatError(key.secret);

    expect(error.status).toBe(403);
    expect(error.code).toBe('provider_key_disabled');
    expect(error.type).toBe('permission_error');
    expect(error.message).toContain('Disabled for this app');
    expect(error.message).toContain(disabled.globalId);
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('organization-wide enabled key serves', async () => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    const organizationWide = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { organization: true },
    });

    const { data, response } = await chat(key.secret);

    expect(data.choices[0]?.message.content).toBe('Hello from the fake OpenAI.');
    expect(response.headers.get('x-keyroute-provider-key-id')).toBe(organizationWide.globalId);
    expect(response.headers.get('x-keyroute-credential-source')).toBe('ORGANIZATION');
  });

  it('organization-wide disabled key is 403', async () => {
    // Platform credentials for OpenAI exist and the organization may use them, but the disabled key stops the search.
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    const disabled = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { organization: true },
      enabled: false,
    });
    const before = context.fakes.openai.requests.length;

    const error = await chatError(key.secret);

    expect(error.status).toBe(403);
    expect(error.code).toBe('provider_key_disabled');
    expect(error.message).toContain(disabled.globalId);
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('organization-wide disabled key is 403 for Anthropic clients', async () => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    const disabled = await createProviderKey(context.server, organizationId, {
      provider: 'ANTHROPIC',
      apiKey: secrets.ANTHROPIC,
      assignment: { organization: true },
      enabled: false,
    });

    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(
      anthropicClient(context.server, key.secret).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages }),
    );

    expect(error.status).toBe(403);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(error.message).toContain(disabled.globalId);
  });

  it('platform credentials when the organization is allowed', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);

    const { data, response } = await chat(key.secret);

    expect(data.choices[0]?.message.content).toBe('Hello from the fake OpenAI.');
    expect(response.headers.get('x-keyroute-credential-source')).toBe('PLATFORM');
    expect(response.headers.get('x-keyroute-provider-key-id')).toBe('platform');
    expect(lastRequest(context.fakes.openai).headers.authorization).toBe(`Bearer ${secrets.OPENAI}`);
  });

  it('no platform credentials when not allowed', async () => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    const before = context.fakes.openai.requests.length;

    const error = await chatError(key.secret);

    expect(error.status).toBe(400);
    expect(error.code).toBe('no_provider_credential');
    expect(error.message).toContain('OPENAI');
    expect(error.message).toContain('createProviderKey');
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('no credential for a provider without platform credentials', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    const before = context.fakes.mistral.requests.length;

    const error = await rejectionOf<APIError>(
      openAiClient(context.server, key.secret).chat.completions.create({ model: 'mistral/mistral-large-latest', messages }),
    );

    expect(error.status).toBe(400);
    expect(error.code).toBe('no_provider_credential');
    expect(error.message).toContain('MISTRAL');
    expect(context.fakes.mistral.requests.length).toBe(before);
  });

  it('undecryptable specific key is 503, never the next row', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    await createProviderKey(context.server, organizationId, { provider: 'OPENAI', apiKey: secrets.OPENAI, assignment: { organization: true } });
    const broken = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { gatewayKeyIds: [key.id] },
    });
    await corruptEnvelope(context.database.db, broken.id);
    const before = context.fakes.openai.requests.length;

    const error = await chatError(key.secret);

    expect(error.status).toBe(503);
    expect(error.code).toBe('credential_unavailable');
    expect(error.message).toContain(broken.globalId);
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(context.fakes.openai.requests.length).toBe(before);
  });

  it('undecryptable organization-wide key is 503, never platform', async () => {
    const organizationId = await createOrganization(context.server, { platformCredentialsAllowed: true });
    const key = await createGatewayKey(context.server, organizationId);
    const broken = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: secrets.OPENAI,
      assignment: { organization: true },
    });
    await corruptEnvelope(context.database.db, broken.id);
    const before = context.fakes.openai.requests.length;

    const error = await chatError(key.secret);

    expect(error.status).toBe(503);
    expect(error.code).toBe('credential_unavailable');
    expect(error.message).toContain(broken.globalId);
    expect(context.fakes.openai.requests.length).toBe(before);
  });
});
