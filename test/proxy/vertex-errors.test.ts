import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicClient, openAiClient, rejectionOf, waitForRequestLogRows } from './helpers.js';
import {
  createVertexTenant,
  knownSecrets,
  leakedPieces,
  startVertexProxyContext,
  type VertexProxyContext,
  type VertexTenant,
} from './vertex-helpers.js';

// Vertex errors as clients see them, the secrets that must appear nowhere a client or an operator
// looks, and the request log rows of Vertex calls.

const messages = [{ role: 'user' as const, content: 'Hello there' }];
const claudeModel = 'vertex/claude-sonnet-4-5@20250929';

let context: VertexProxyContext;
let tenant: VertexTenant;

beforeAll(async () => {
  context = await startVertexProxyContext();
  tenant = await createVertexTenant(context);
});

afterAll(async () => {
  await context?.close();
});

describe('Vertex errors through the SDKs', () => {
  it('403 kept, names the fix', async () => {
    context.vertex.enqueue({ error: { status: 403, code: 'SERVICE_DISABLED', message: 'Vertex AI API has not been used in project 123 before or it is disabled.' } });

    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }),
    );

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(403);
    expect(error.type).toBe('permission_error');
    expect(error.code).toBe('SERVICE_DISABLED');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(`is not enabled in project ${tenant.project}`);
  });

  it('403 for anthropic clients', async () => {
    context.vertex.enqueue({ error: { status: 403, code: 'IAM_PERMISSION_DENIED', message: "Permission 'aiplatform.endpoints.predict' denied." } });

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: claudeModel, max_tokens: 50, messages }),
    );

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(403);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(error.message).toContain('aiplatform.endpoints.predict');
    expect(error.message).toContain('roles/aiplatform.user');
  });

  it('404 names model, location and project', async () => {
    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: 'vertex/claude-sonnet-9@20990101', max_tokens: 50, messages }),
    );

    expect(error.status).toBe(404);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(error.message).toContain('claude-sonnet-9@20990101');
    expect(error.message).toContain('location global');
    expect(error.message).toContain(`project ${tenant.project}`);
  });

  it('404 for openai clients', async () => {
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-0.1-nano', messages }),
    );

    expect(error.status).toBe(404);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain('google/gemini-0.1-nano');
  });

  it('429 kept with retry-after', async () => {
    context.vertex.enqueue({ error: { status: 429, headers: { 'retry-after': '7' } } });

    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }),
    );

    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.code).toBe('RESOURCE_EXHAUSTED');
    expect(error.headers?.get('retry-after')).toBe('7');
  });

  it('429 on a stream before its first event', async () => {
    context.vertex.enqueue({ error: { status: 429, headers: { 'retry-after': '3' } } });

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.stream({ model: claudeModel, max_tokens: 50, messages }).finalMessage(),
    );

    expect(error.status).toBe(429);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(error.headers?.get('retry-after')).toBe('3');
  });
});

describe('Vertex secret leaks', () => {
  /** What a client received and what the server logged, for every error path below. */
  const seen: string[] = [];

  /** Sends a raw request, so the exact body and every header are recorded. */
  async function call(path: '/v1/chat/completions' | '/v1/messages', body: unknown, headers: Record<string, string> = {}): Promise<number> {
    const response = await fetch(`${context.server.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.gatewayKey.secret}`, ...headers },
      body: JSON.stringify(body),
    });
    seen.push(`${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`);
    return response.status;
  }

  it('runs the error paths with upstreams that echo secrets', async () => {
    const privateKey = tenant.serviceAccount.account.private_key;
    const chat = { model: 'vertex/gemini-2.5-flash', messages };
    const claude = { model: claudeModel, max_tokens: 50, messages };
    const claudeStream = { ...claude, stream: true };
    const statuses: number[] = [];

    for (const status of [403, 404, 429]) {
      const error = { status, message: `failed with key ${privateKey}`, echoCredential: true };
      context.vertex.enqueue({ error });
      statuses.push(await call('/v1/chat/completions', chat));
      context.vertex.enqueue({ error });
      statuses.push(await call('/v1/messages', claude));
      context.vertex.enqueue({ error });
      statuses.push(await call('/v1/messages', claudeStream));
    }
    context.vertex.enqueue({ error: { status: 401, echoCredential: true } }, { error: { status: 401, echoCredential: true } });
    statuses.push(await call('/v1/chat/completions', chat));

    // A new tenant whose first mint fails at a token endpoint that quotes the assertion back.
    const rejected = await createVertexTenant(context);
    context.tokens.enqueue({ error: { echoAssertion: true } });
    const rejectedResponse = await fetch(`${context.server.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rejected.gatewayKey.secret}` },
      body: JSON.stringify(claude),
    });
    seen.push(`${rejectedResponse.status} ${JSON.stringify([...rejectedResponse.headers])} ${await rejectedResponse.text()}`);
    statuses.push(rejectedResponse.status);

    expect(statuses).toEqual([403, 403, 403, 404, 404, 404, 429, 429, 429, 502, 502]);
  });

  it('no secret in responses', () => {
    const secrets = knownSecrets(context, [tenant.serviceAccount]);

    expect(context.tokens.mints.length).toBeGreaterThan(0);
    expect(seen.length).toBe(11);
    // The fakes quoted the key and token in every Vertex error, so the scrubbing ran on each.
    expect(seen.filter((text) => text.includes('[redacted]')).length).toBeGreaterThanOrEqual(9);
    expect(leakedPieces(seen.join('\n'), secrets)).toEqual([]);
  });

  it('no secret in log lines', () => {
    const secrets = knownSecrets(context, [tenant.serviceAccount]);
    const logs = context.server.logs.text();

    expect(logs).toContain('Vertex AI rejected the access token');
    expect(leakedPieces(logs, secrets)).toEqual([]);
    expect(logs).not.toContain('PRIVATE KEY');
  });
});

describe('Vertex request log', () => {
  it('rows show provider, key and client tokens', async () => {
    const logged = await createVertexTenant(context);
    const openai = openAiClient(context.server, logged.gatewayKey.secret);
    const anthropic = anthropicClient(context.server, logged.gatewayKey.secret);

    const gemini = await openai.chat.completions.create({ model: 'google/gemini-2.5-flash', messages });
    const claude = await anthropic.messages.create({ model: claudeModel, max_tokens: 50, messages });
    const streamed = await anthropic.messages.stream({ model: claudeModel, max_tokens: 50, messages }).finalMessage();
    const rows = await waitForRequestLogRows(context, context.server, logged.gatewayKey.id, 3);

    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.provider).toBe('VERTEX_AI');
      expect(row.provider_key_id).toBe(logged.providerKey.id);
      expect(row.credential_source).toBe('ORGANIZATION');
      expect(row.status).toBe(200);
    }
    const [geminiRow, claudeRow, streamRow] = rows;
    expect(geminiRow!.model).toBe('vertex/gemini-2.5-flash');
    expect(Number(geminiRow!.input_uncached_tokens)).toBe(gemini.usage!.prompt_tokens);
    expect(Number(geminiRow!.output_tokens)).toBe(gemini.usage!.completion_tokens);
    expect(claudeRow!.model).toBe(claudeModel);
    expect(Number(claudeRow!.input_uncached_tokens)).toBe(claude.usage.input_tokens);
    expect(Number(claudeRow!.output_tokens)).toBe(claude.usage.output_tokens);
    expect(streamRow!.stream).toBe(true);
    expect(Number(streamRow!.input_uncached_tokens)).toBe(streamed.usage.input_tokens);
    expect(Number(streamRow!.output_tokens)).toBe(streamed.usage.output_tokens);
    expect(Number(claudeRow!.cost_micro_usd)).toBeGreaterThan(0);
  });

  it('error rows show the provider key', async () => {
    const logged = await createVertexTenant(context);
    context.vertex.enqueue({ error: { status: 429 } });
    await rejectionOf(openAiClient(context.server, logged.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));
    context.tokens.deleteKey(logged.serviceAccount);
    const second = await createVertexTenant(context, { serviceAccount: logged.serviceAccount });
    await rejectionOf(openAiClient(context.server, second.gatewayKey.secret).chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages }));

    const [rateLimited] = await waitForRequestLogRows(context, context.server, logged.gatewayKey.id, 1);
    const [rejected] = await waitForRequestLogRows(context, context.server, second.gatewayKey.id, 1);

    expect(rateLimited?.status).toBe(429);
    expect(rateLimited?.provider).toBe('VERTEX_AI');
    expect(rateLimited?.provider_key_id).toBe(logged.providerKey.id);
    expect(rateLimited?.error_code).toBe('RESOURCE_EXHAUSTED');
    expect(rejected?.status).toBe(502);
    expect(rejected?.provider_key_id).toBe(second.providerKey.id);
    expect(rejected?.error_code).toBe('provider_authentication_error');
  });
});
