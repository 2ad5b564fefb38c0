import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { JWT } from 'google-auth-library';
import OpenAI from 'openai';
import { fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestGoogleAccessToken } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { prepareVertexChatRequest } from '../../src/proxy/upstream/vertex/vertex-chat.js';
import { prepareVertexClaudeRequest } from '../../src/proxy/upstream/vertex/vertex-claude.js';
import { dispatchVertexModel } from '../../src/proxy/upstream/vertex/vertex-dispatch.js';
import { resolveVertexTarget } from '../../src/proxy/upstream/vertex/vertex-endpoints.js';
import { readUpstreamText } from '../../src/proxy/upstream/transport.js';
import { createFakeServiceAccount, type FakeServiceAccount, type VertexRecordedRequest } from '../support/fake-upstreams/vertex.js';
import { startVertexFakes, type VertexFakes } from './helpers.js';

/**
 * The official clients, unchanged, against the fakes: @anthropic-ai/vertex-sdk with a
 * google-auth-library JWT client for Claude, and the openai SDK for the OpenAI-compatible
 * endpoint. Their fetch goes through the test transport, which connects only to the fakes while
 * keeping the real URLs and Host headers, so the fakes see what Google would see. The gateway's
 * own requests then go to the same fakes, so the fakes and the gateway both follow the SDKs.
 */

type Json = Record<string, unknown>;

const project = 'fidelity-project';
const claudeModel = 'claude-sonnet-4-5@20250929';
const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('Vertex SDK fidelity', () => {
  let fakes: VertexFakes;
  let serviceAccount: FakeServiceAccount;
  let fetchThroughTransport: typeof fetch;

  beforeAll(async () => {
    serviceAccount = createFakeServiceAccount({ projectId: project });
    fakes = await startVertexFakes({ projects: { [project]: [serviceAccount.account.client_email] } });
    fakes.tokens.register(serviceAccount);
    // undici's fetch with the transport's dispatcher: only overridden origins are reachable.
    fetchThroughTransport = ((input: string | URL, init?: UndiciRequestInit) =>
      undiciFetch(input, { ...init, dispatcher: fakes.transport.dispatcher })) as unknown as typeof fetch;
  });
  afterAll(async () => {
    await fakes.close();
  });

  /** Builds a google-auth-library client that signs with the service account and requests tokens from the fake token endpoint. */
  function googleAuthClient(): JWT {
    return new JWT({
      email: serviceAccount.account.client_email,
      key: serviceAccount.account.private_key,
      keyId: serviceAccount.account.private_key_id,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      transporterOptions: { fetchImplementation: fetchThroughTransport },
    });
  }

  function vertexClient(region: string): AnthropicVertex {
    return new AnthropicVertex({ region, projectId: project, authClient: googleAuthClient(), fetch: fetchThroughTransport, maxRetries: 0 });
  }

  function lastRequest(): VertexRecordedRequest {
    return fakes.vertex.requests.at(-1)!;
  }

  describe('@anthropic-ai/vertex-sdk', () => {
    it('creates a message', async () => {
      const message = await vertexClient('us-central1').messages.create({ model: claudeModel, max_tokens: 64, messages });
      const received = lastRequest();

      expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Claude on Vertex.' });
      expect(received.rejection).toBeUndefined();
      expect(received.headers.host).toBe('us-central1-aiplatform.googleapis.com');
      expect(received.path).toBe(`/v1/projects/${project}/locations/us-central1/publishers/anthropic/models/${claudeModel}:rawPredict`);
      expect(received.clientEmail).toBe(serviceAccount.account.client_email);
    });

    it('obtains its token from the fake token endpoint', async () => {
      const before = fakes.tokens.mintCount(serviceAccount.account.client_email);
      await vertexClient('us-central1').messages.create({ model: claudeModel, max_tokens: 64, messages });
      const mint = fakes.tokens.mints.at(-1)!;

      expect(fakes.tokens.mintCount(serviceAccount.account.client_email)).toBe(before + 1);
      expect(lastRequest().headers.authorization).toBe(`Bearer ${mint.accessToken}`);
      // google-auth-library 10 signs without a kid header.
      expect(mint.keyId).toBeNull();
    });

    it('streams a message', async () => {
      const stream = vertexClient('us-central1').messages.stream({ model: claudeModel, max_tokens: 64, messages });
      const text = await stream.finalText();
      const received = lastRequest();

      expect(text).toBe('Hello from the fake Claude on Vertex.');
      expect(received.path.endsWith(`${claudeModel}:streamRawPredict`)).toBe(true);
      expect((received.body as Json).stream).toBe(true);
    });

    it('counts tokens', async () => {
      const counted = await vertexClient('us-central1').messages.countTokens({ model: claudeModel, messages });
      const received = lastRequest();

      expect(counted.input_tokens).toBeGreaterThan(0);
      expect(received.rejection).toBeUndefined();
      expect(received.path).toBe(`/v1/projects/${project}/locations/us-central1/publishers/anthropic/models/count-tokens:rawPredict`);
      expect((received.body as Json).model).toBe(claudeModel);
    });

    it('uses the global host', async () => {
      await vertexClient('global').messages.create({ model: claudeModel, max_tokens: 64, messages });
      expect(lastRequest().headers.host).toBe('aiplatform.googleapis.com');
      expect(lastRequest().path).toContain('/locations/global/');
    });

    it('sends betas as the anthropic-beta header', async () => {
      await vertexClient('us-central1').beta.messages.create({ model: claudeModel, max_tokens: 64, messages, betas: ['context-1m-2025-08-07'] });
      const received = lastRequest();
      expect(received.rejection).toBeUndefined();
      expect(received.headers['anthropic-beta']).toBe('context-1m-2025-08-07');
      expect(received.body).not.toHaveProperty('betas');
    });

    it('sends no anthropic-version header', async () => {
      await vertexClient('us-central1').messages.create({ model: claudeModel, max_tokens: 64, messages });
      expect(lastRequest().headers['anthropic-version']).toBeUndefined();
      expect(typeof (lastRequest().body as Json).anthropic_version).toBe('string');
    });

    it('copies its version header into the body', async () => {
      // Pins the installed vertex-sdk 1.1.5 behind the NOTE in vertex-claude.ts: it sends the
      // first-party API version, where Anthropic's documentation names vertex-2023-10-16.
      await vertexClient('us-central1').messages.create({ model: claudeModel, max_tokens: 64, messages });
      expect((lastRequest().body as Json).anthropic_version).toBe('2026-10-21');
    });

    it('gets a 404 for an unknown model', async () => {
      const error = await vertexClient('us-central1')
        .messages.create({ model: 'claude-unknown@20990101', max_tokens: 64, messages })
        .catch((rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(AnthropicVertex.NotFoundError);
    });

    it('gets a 403 for a project the account may not use', async () => {
      const client = new AnthropicVertex({ region: 'us-central1', projectId: 'someone-else', authClient: googleAuthClient(), fetch: fetchThroughTransport, maxRetries: 0 });
      const error = await client.messages.create({ model: claudeModel, max_tokens: 64, messages }).catch((rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(AnthropicVertex.PermissionDeniedError);
    });
  });

  describe('openai SDK', () => {
    async function openAiClient(location: string): Promise<OpenAI> {
      const token = await requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 2_000 });
      const host = location === 'global' ? 'aiplatform.googleapis.com' : `${location}-aiplatform.googleapis.com`;
      return new OpenAI({
        apiKey: token.token,
        baseURL: `https://${host}/v1/projects/${project}/locations/${location}/endpoints/openapi`,
        fetch: fetchThroughTransport,
        maxRetries: 0,
      });
    }

    it('creates a chat completion', async () => {
      const client = await openAiClient('us-central1');
      const completion = await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages });
      const received = lastRequest();

      expect(completion.choices[0]?.message.content).toBe('Hello from the fake Gemini on Vertex.');
      expect(received.rejection).toBeUndefined();
      expect(received.path).toBe(`/v1/projects/${project}/locations/us-central1/endpoints/openapi/chat/completions`);
    });

    it('streams a chat completion with usage', async () => {
      const client = await openAiClient('global');
      const stream = await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages, stream: true });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe('Hello from the fake Gemini on Vertex.');
      expect(usage?.total_tokens).toBeGreaterThan(0);
      expect(lastRequest().headers.host).toBe('aiplatform.googleapis.com');
    });

    it('gets a 400 for a model without a publisher', async () => {
      const client = await openAiClient('us-central1');
      const error = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages }).catch((rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(lastRequest().rejection).toContain('publisher/model');
    });
  });

  describe('gateway requests', () => {
    const settings = { location: 'us-central1', projectId: null };

    async function send(prepared: { url: URL; headers: Record<string, string>; body: Json }) {
      const response = await fakes.transport.request({ url: prepared.url, method: 'POST', headers: prepared.headers, body: JSON.stringify(prepared.body) });
      return { status: response.statusCode, text: await readUpstreamText(response.body) };
    }

    async function accessToken(): Promise<string> {
      return (await requestGoogleAccessToken(fakes.transport, serviceAccount.account, { now: fakes.clock.now, timeoutMs: 2_000 })).token;
    }

    async function claudeRequest(operation: 'messages' | 'count_tokens', clientBody: Json, anthropicBeta?: string) {
      const target = resolveVertexTarget({ settings, serviceAccount: serviceAccount.account, locationHeader: undefined });
      const route = dispatchVertexModel(String(clientBody.model));
      return prepareVertexClaudeRequest({ operation, target, model: route.model, clientBody, clientHeaders: { anthropicBeta }, accessToken: await accessToken() });
    }

    it('sends a message the fake accepts', async () => {
      const result = await send(await claudeRequest('messages', { model: claudeModel, max_tokens: 64, messages, tags: ['t'] }));
      expect(result.status).toBe(200);
      expect(lastRequest().rejection).toBeUndefined();
    });

    it('matches the SDK request shape', async () => {
      await vertexClient('us-central1').beta.messages.create({ model: claudeModel, max_tokens: 64, messages, betas: ['context-1m-2025-08-07'] });
      const fromSdk = lastRequest();
      await send(await claudeRequest('messages', { model: claudeModel, max_tokens: 64, messages }, 'context-1m-2025-08-07'));
      const fromGateway = lastRequest();

      expect(fromGateway.path).toBe(fromSdk.path);
      expect(fromGateway.headers['anthropic-beta']).toBe(fromSdk.headers['anthropic-beta']);
      expect(fromGateway.headers['anthropic-version']).toBe(fromSdk.headers['anthropic-version']);
      expect(Object.keys(fromGateway.body as Json).sort()).toEqual(Object.keys(fromSdk.body as Json).sort());
      expect((fromGateway.body as Json).anthropic_version).toBe('vertex-2023-10-16');
    });

    it('streams a message the fake accepts', async () => {
      const result = await send(await claudeRequest('messages', { model: claudeModel, max_tokens: 64, messages, stream: true }));
      expect(result.status).toBe(200);
      expect(result.text).toContain('event: message_stop');
    });

    it('counts tokens like the SDK', async () => {
      await vertexClient('us-central1').messages.countTokens({ model: claudeModel, messages });
      const fromSdk = lastRequest();
      const result = await send(await claudeRequest('count_tokens', { model: claudeModel, messages }));
      const fromGateway = lastRequest();

      expect(result.status).toBe(200);
      expect(fromGateway.path).toBe(fromSdk.path);
      expect(Object.keys(fromGateway.body as Json).sort()).toEqual(Object.keys(fromSdk.body as Json).sort());
    });

    it('sends a chat completion the fake accepts', async () => {
      const target = resolveVertexTarget({ settings, serviceAccount: serviceAccount.account, locationHeader: 'global' });
      const route = dispatchVertexModel('gemini-2.5-flash');
      const prepared = prepareVertexChatRequest({ target, model: route.model, clientBody: { model: 'vertex/gemini-2.5-flash', messages }, accessToken: await accessToken() });
      const result = await send(prepared);
      expect(result.status).toBe(200);
      expect((JSON.parse(result.text) as Json).model).toBe('google/gemini-2.5-flash');
    });
  });
});
