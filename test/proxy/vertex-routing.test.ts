import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicClient, openAiClient, rejectionOf } from './helpers.js';
import { createVertexTenant, lastVertexRequest, startVertexProxyContext, type VertexProxyContext } from './vertex-helpers.js';

// Where a Vertex request goes. The location comes from the X-Keyroute-Vertex-Location header,
// else the provider key's location setting, else `global`. The project comes from the key's
// project setting, else the key file's. The Vertex fake rejects a location sent to another
// location's host.

const messages = [{ role: 'user' as const, content: 'Hello there' }];
const claudeModel = 'vertex/claude-sonnet-4-5@20250929';
const locationHeader = 'X-Keyroute-Vertex-Location';

let context: VertexProxyContext;

beforeAll(async () => {
  context = await startVertexProxyContext();
});

afterAll(async () => {
  await context?.close();
});

describe('Vertex location and project', () => {
  it('global without a setting or header', async () => {
    const tenant = await createVertexTenant(context);

    await openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.headers.host).toBe('aiplatform.googleapis.com');
    expect(request.location).toBe('global');
    expect(request.project).toBe(tenant.project);
  });

  it('header picks the regional host', async () => {
    const tenant = await createVertexTenant(context);
    const client = openAiClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: { [locationHeader]: 'us-east5' } });

    await client.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.headers.host).toBe('us-east5-aiplatform.googleapis.com');
    expect(request.path).toBe(`/v1/projects/${tenant.project}/locations/us-east5/endpoints/openapi/chat/completions`);
    expect(request.headers['x-keyroute-vertex-location']).toBeUndefined();
  });

  it('header picks the region for Claude', async () => {
    const tenant = await createVertexTenant(context);
    const client = anthropicClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: { [locationHeader]: 'us-east5' } });

    await client.messages.create({ model: claudeModel, max_tokens: 50, messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.headers.host).toBe('us-east5-aiplatform.googleapis.com');
    expect(request.path).toBe(`/v1/projects/${tenant.project}/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`);
  });

  it('key location setting used', async () => {
    const tenant = await createVertexTenant(context, { location: 'europe-west1' });

    await anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.headers.host).toBe('europe-west1-aiplatform.googleapis.com');
    expect(request.location).toBe('europe-west1');
  });

  it('header overrides the key setting', async () => {
    const tenant = await createVertexTenant(context, { location: 'europe-west1' });
    const client = openAiClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: { [locationHeader]: 'us-east5' } });

    await client.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });

    expect(lastVertexRequest(context).headers.host).toBe('us-east5-aiplatform.googleapis.com');
  });

  it('multi-region eu host', async () => {
    const tenant = await createVertexTenant(context, { location: 'eu' });

    await anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.headers.host).toBe('aiplatform.eu.rep.googleapis.com');
    expect(request.location).toBe('eu');
  });

  it('key project setting used', async () => {
    const tenant = await createVertexTenant(context, { projectId: 'shared-ml-project', extraProjects: ['shared-ml-project'] });

    await openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages });

    const request = lastVertexRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.project).toBe('shared-ml-project');
    expect(request.path).toBe('/v1/projects/shared-ml-project/locations/global/endpoints/openapi/chat/completions');
  });

  it.each(['us-east5.evil.example', '../global', 'US-EAST5', ''])('invalid header %j is a 400', async (value) => {
    const tenant = await createVertexTenant(context);
    const before = context.vertex.requests.length;
    const client = openAiClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: { [locationHeader]: value } });

    const error = await rejectionOf<OpenAiApiError>(client.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe('x-keyroute-vertex-location');
    expect(error.message).toContain('X-Keyroute-Vertex-Location');
    expect(context.vertex.requests.length).toBe(before);
    expect(context.tokens.mintCount(tenant.serviceAccount.account.client_email)).toBe(0);
  });

  it('invalid header is a 400 for anthropic clients', async () => {
    const tenant = await createVertexTenant(context);
    const client = anthropicClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: { [locationHeader]: 'mars-north1.example' } });

    const error = await rejectionOf<AnthropicApiError>(client.messages.create({ model: claudeModel, max_tokens: 50, messages }));

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(error.message).toContain('X-Keyroute-Vertex-Location');
    expect(error.message).toContain('mars-north1.example');
  });
});
