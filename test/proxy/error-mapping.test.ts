import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeBehaviour, FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import {
  createTenant,
  rejectionOf,
  startProxyContext,
  type CreatedGatewayKey,
  type CreatedProviderKey,
  type ProxyTestContext,
} from './helpers.js';

// Upstream errors through the official SDKs with their default retry policy (maxRetries 2, so at
// most three attempts). The SDKs retry 408, 409, 429 and 5xx unless the `x-should-retry` header
// is false. So the gateway must keep those statuses and their retry hints, and mark a rejected
// stored credential as not retryable. Secrets that an upstream echoes must reach neither the
// client nor the logs.

const messages = [{ role: 'user' as const, content: 'Hello' }];
/** A short retry delay, so that three attempts take milliseconds. The gateway forwards this header too. */
const quickRetry = { 'retry-after-ms': '20' };

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;
let providerKeys: Partial<Record<string, CreatedProviderKey>>;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  context = await startProxyContext();
  const tenant = await createTenant(context, ['OPENAI', 'MISTRAL', 'ANTHROPIC']);
  gatewayKey = tenant.gatewayKey;
  providerKeys = tenant.providerKeys;
  // The SDKs' default retry policy, which these tests are about.
  openai = new OpenAI({ apiKey: gatewayKey.secret, baseURL: `${context.server.baseUrl}/v1` });
  anthropic = new Anthropic({ apiKey: gatewayKey.secret, baseURL: context.server.baseUrl });
});

afterAll(async () => {
  await context?.close();
});

/** Queues the behaviour `times` times and returns a function that counts the requests since. */
function script(fake: FakeUpstream, behaviour: FakeBehaviour, times: number): () => number {
  const before = fake.requests.length;
  for (let index = 0; index < times; index += 1) fake.enqueue(behaviour);
  return () => fake.requests.length - before;
}

describe('OpenAI errors through the openai SDK', () => {
  const chat = () => openai.chat.completions.create({ model: 'openai/gpt-4o', messages });

  it('400 kept, not retried', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 400, message: "Invalid value for 'temperature'." } }, 1);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain("OpenAI: Invalid value for 'temperature'.");
    expect(attempts()).toBe(1);
  });

  it('401 becomes 502, not retried', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 401, message: 'Incorrect API key provided.' } }, 1);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(providerKeys.OPENAI!.globalId);
    expect(attempts()).toBe(1);
  });

  it('404 kept, not retried', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 404, code: 'model_not_found' } }, 1);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(attempts()).toBe(1);
  });

  it('422 kept, not retried', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 422 } }, 1);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(422);
    expect(attempts()).toBe(1);
  });

  it('429 kept with retry-after, retried twice', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 429, headers: { 'retry-after': '1', ...quickRetry } } }, 3);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(error.headers?.get('retry-after-ms')).toBe('20');
    expect(attempts()).toBe(3);
  });

  it('insufficient quota not retried', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 429, code: 'insufficient_quota', message: 'You exceeded your current quota.' } }, 1);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(429);
    expect(error.code).toBe('insufficient_quota');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(attempts()).toBe(1);
  });

  it('500 kept, retried twice', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 500, headers: quickRetry } }, 3);

    const error = await rejectionOf<APIError>(chat());

    expect(error.status).toBe(500);
    expect(attempts()).toBe(3);
  });

  it('retry succeeds after one 500', async () => {
    const attempts = script(context.fakes.openai, { error: { status: 500, headers: quickRetry } }, 1);

    const completion = await chat();

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake OpenAI.');
    expect(attempts()).toBe(2);
  });
});

describe('Anthropic errors through the Anthropic SDK', () => {
  const create = () => anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages });
  type AnthropicError = InstanceType<typeof Anthropic.APIError>;

  it('400 kept, not retried', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 400, message: 'max_tokens: must be positive' } }, 1);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'Anthropic: max_tokens: must be positive' } });
    expect(attempts()).toBe(1);
  });

  it('401 becomes 502, not retried', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 401, message: 'invalid x-api-key' } }, 1);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(502);
    expect(error.type).toBe('api_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(providerKeys.ANTHROPIC!.globalId);
    expect(attempts()).toBe(1);
  });

  it('404 kept, not retried', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 404, message: 'model: claude-unknown' } }, 1);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(404);
    expect(error.type).toBe('not_found_error');
    expect(attempts()).toBe(1);
  });

  it('422 kept, not retried', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 422 } }, 1);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(422);
    expect(attempts()).toBe(1);
  });

  it('429 kept with retry-after, retried twice', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 429, headers: { 'retry-after': '1', ...quickRetry } } }, 3);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(attempts()).toBe(3);
  });

  it('500 kept, retried twice', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 500, headers: quickRetry } }, 3);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(500);
    expect(error.type).toBe('api_error');
    expect(attempts()).toBe(3);
  });

  it('529 kept, retried twice', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 529, headers: quickRetry } }, 3);

    const error = await rejectionOf<AnthropicError>(create());

    expect(error.status).toBe(529);
    expect(error.type).toBe('overloaded_error');
    expect(attempts()).toBe(3);
  });

  it('streamed request gets the HTTP error', async () => {
    const attempts = script(context.fakes.anthropic, { error: { status: 529, headers: quickRetry } }, 3);

    const error = await rejectionOf<AnthropicError>(
      anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 10, messages }).finalMessage(),
    );

    expect(error.status).toBe(529);
    expect(attempts()).toBe(3);
  });
});

describe('secrets in upstream errors', () => {
  /** Sends a raw request and returns everything the client received, as text. */
  async function rawExchange(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${context.server.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gatewayKey.secret}` },
      body: JSON.stringify(body),
    });
    const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
    return { status: response.status, text: `${headers}\n\n${await response.text()}` };
  }

  function expectNoSecret(text: string): void {
    for (const secret of [...Object.values(context.secrets), gatewayKey.secret]) expect(text).not.toContain(secret);
  }

  const careless = (secret: string): FakeBehaviour => ({
    error: {
      status: 400,
      echoCredential: true,
      message: `See https://api.example.com/v1/keys?api_key=${secret}&check=1 for details.`,
      headers: { 'x-echo-api-key': secret, 'set-cookie': `session=${secret}`, link: `<https://api.example.com/?key=${secret}>` },
    },
  });

  it('echoed OpenAI key removed', async () => {
    context.fakes.openai.enqueue(careless(context.secrets.OPENAI));

    const { status, text } = await rawExchange('/v1/chat/completions', { model: 'openai/gpt-4o', messages });

    expect(status).toBe(400);
    expect(text).toContain('[redacted]');
    expectNoSecret(text);
    expectNoSecret(context.server.logs.text());
  });

  it('echoed Mistral key removed', async () => {
    // A Mistral key has no recognizable shape, so only the exact value can find it.
    context.fakes.mistral.enqueue(careless(context.secrets.MISTRAL));

    const { status, text } = await rawExchange('/v1/chat/completions', { model: 'mistral/mistral-large-latest', messages });

    expect(status).toBe(400);
    expect(text).toContain('[redacted]');
    expectNoSecret(text);
    expectNoSecret(context.server.logs.text());
  });

  it('echoed Anthropic key removed', async () => {
    context.fakes.anthropic.enqueue(careless(context.secrets.ANTHROPIC));

    const { status, text } = await rawExchange('/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10, messages });

    expect(status).toBe(400);
    expect(text).toContain('[redacted]');
    expectNoSecret(text);
    expectNoSecret(context.server.logs.text());
  });

  it('echoed key removed from a credential error', async () => {
    context.fakes.mistral.enqueue({ error: { status: 401, echoCredential: true, headers: { 'x-echo-api-key': context.secrets.MISTRAL } } });

    const { status, text } = await rawExchange('/v1/chat/completions', { model: 'mistral/mistral-large-latest', messages });

    expect(status).toBe(502);
    expectNoSecret(text);
    expectNoSecret(context.server.logs.text());
  });

  it('echoed key removed from a stream error event', async () => {
    const secret = context.secrets.MISTRAL;
    // A stream that fails with an error event whose message quotes the credential.
    context.fakes.mistral.enqueue({
      error: {
        status: 200,
        body: `data: ${JSON.stringify({ object: 'error', message: `Key ${secret} was revoked.`, type: 'invalid_request_error' })}\n\n`,
        headers: { 'content-type': 'text/event-stream' },
      },
    });

    const { status, text } = await rawExchange('/v1/chat/completions', { model: 'mistral/mistral-large-latest', messages, stream: true });

    expect(status).toBe(200);
    expectNoSecret(text);
    expectNoSecret(context.server.logs.text());
  });
});
