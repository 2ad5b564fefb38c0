import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeBedrockFrame } from '../support/fake-upstreams/bedrock.js';
import { anthropicClient, openAiClient, rejectionOf, waitForRequestLogRows } from './helpers.js';
import {
  claudeModelId,
  createBedrockTenant,
  llamaModelId,
  newBedrockRow,
  startBedrockProxyContext,
  type BedrockProxyContext,
  type BedrockTenant,
} from './bedrock-helpers.js';

// Bedrock errors as clients see them: exception frames inside an event stream, HTTP errors of
// each kind the mapping handles, the secrets that must appear in no response or log line, and the
// request log rows of Bedrock calls.

const messages = [{ role: 'user' as const, content: 'Hello there' }];
const claude = `bedrock/${claudeModelId}`;
const llama = `bedrock/${llamaModelId}`;

let context: BedrockProxyContext;
/** Rows in us-east-1 and a global row; default region us-east-1. */
let tenant: BedrockTenant;

beforeAll(async () => {
  context = await startBedrockProxyContext();
  tenant = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1'), newBedrockRow('global')], defaultRegion: 'us-east-1' });
});

afterAll(async () => {
  await context?.close();
});

/** Sends a raw request with the tenant's gateway key, for tests that read the exact status, headers and body. */
async function post(path: '/v1/chat/completions' | '/v1/messages', body: unknown, gatewayKey = tenant.gatewayKey.secret, headers: Record<string, string> = {}) {
  const response = await fetch(`${context.server.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gatewayKey}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Splits an SSE body into its events, each with its event name (if any) and its data. */
function sseEvents(text: string): { event: string | undefined; data: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
      const data = lines
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice('data: '.length))
        .join('\n');
      return { event, data };
    });
}

/** Returns Invoke stream frames that carry an Anthropic `error` event after one text delta, as Bedrock can send inside a chunk. */
function invokeErrorFrames(): FakeBedrockFrame[] {
  const chunk = (event: Record<string, unknown>): FakeBedrockFrame => ({ type: 'chunk', payload: { bytes: Buffer.from(JSON.stringify(event)).toString('base64') } });
  const message = { id: 'msg_bdrk_1', type: 'message', role: 'assistant', model: claudeModelId, content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 1 } };
  return [
    chunk({ type: 'message_start', message }),
    chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
    chunk({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
  ];
}

const throttlingFrame: FakeBedrockFrame = { messageType: 'exception', type: 'throttlingException', payload: { message: 'Too many tokens, please wait before trying again.' } };

describe('Bedrock stream exceptions', () => {
  it('exception alone is an HTTP error for Anthropic clients', async () => {
    context.bedrock.enqueue({ frames: [throttlingFrame] });

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.stream({ model: claude, max_tokens: 50, messages }).finalMessage(),
    );

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(429);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(error.message).toContain('Too many tokens');
    expect(error.headers?.get('x-keyroute-provider')).toBe('bedrock');
  });

  it('exception alone is an HTTP error for OpenAI clients', async () => {
    context.bedrock.enqueue({ frames: [{ messageType: 'exception', type: 'serviceUnavailableException', payload: { message: 'Bedrock is busy.' } }] });

    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: llama, messages, stream: true }),
    );

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(503);
    expect(error.message).toContain('ServiceUnavailableException');
  });

  it('error frame alone is an HTTP error', async () => {
    context.bedrock.enqueue({ frames: [{ messageType: 'error', type: 'ThrottlingException', errorMessage: 'Rate exceeded' }] });

    const response = await post('/v1/messages', { model: claude, max_tokens: 50, messages, stream: true });

    expect(response.status).toBe(429);
    expect(JSON.parse(response.text)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('mid-stream exception after deltas for Anthropic clients', async () => {
    context.bedrock.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'throttlingException', message: 'Too many tokens' } });

    const response = await post('/v1/messages', { model: claude, max_tokens: 50, messages, stream: true });
    const events = sseEvents(response.text);
    const names = events.map((event) => event.event);

    expect(response.status).toBe(200);
    expect(names.filter((name) => name === 'content_block_delta')).toHaveLength(2);
    expect(names.at(-1)).toBe('error');
    expect(names.indexOf('error')).toBeGreaterThan(names.lastIndexOf('content_block_delta'));
    expect(names).not.toContain('message_stop');
    expect(names).not.toContain('message_delta');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('mid-stream exception rejects the Anthropic stream', async () => {
    context.bedrock.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'modelStreamErrorException', message: 'The model failed' } });
    const stream = anthropicClient(context.server, tenant.gatewayKey.secret).messages.stream({ model: claude, max_tokens: 50, messages });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });

    const error = await rejectionOf<AnthropicApiError>(stream.finalMessage());

    expect(text).toBe('one two ');
    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.message).toContain('ModelStreamErrorException');
  });

  it('mid-stream exception after deltas for OpenAI clients', async () => {
    context.bedrock.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'throttlingException', message: 'Too many tokens' } });

    const response = await post('/v1/chat/completions', { model: llama, messages, stream: true });
    const events = sseEvents(response.text);
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data) as { choices: { delta: { content?: string }; finish_reason: string | null }[] });
    const last = events.at(-1)!;

    expect(response.status).toBe(200);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('one two ');
    expect(chunks.every((chunk) => chunk.choices[0]?.finish_reason == null)).toBe(true);
    expect(JSON.parse(last.data)).toMatchObject({ error: { type: 'rate_limit_error' } });
    expect(response.text).not.toContain('[DONE]');
  });

  it('mid-stream exception rejects the OpenAI stream', async () => {
    context.bedrock.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'internalServerException', message: 'Internal failure' } });
    const stream = openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.stream({ model: claude, messages });
    let text = '';
    stream.on('content.delta', ({ delta }) => {
      text += delta;
    });

    const error = await rejectionOf<Error>(stream.finalChatCompletion());

    expect(text).toBe('one two ');
    expect(error.message).toContain('had an internal error');
  });

  it('error chunk inside an Invoke stream', async () => {
    const frames = invokeErrorFrames();
    context.bedrock.enqueue({ frames }, { frames });

    const anthropicResponse = await post('/v1/messages', { model: claude, max_tokens: 50, messages, stream: true });
    const openAiResponse = await post('/v1/chat/completions', { model: claude, messages, stream: true });
    const anthropicEvents = sseEvents(anthropicResponse.text);
    const openAiEvents = sseEvents(openAiResponse.text);

    expect(anthropicEvents.map((event) => event.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'error']);
    expect(JSON.parse(anthropicEvents.at(-1)!.data)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(JSON.parse(openAiEvents.at(-1)!.data)).toMatchObject({ error: { message: expect.stringContaining('Overloaded') } });
    expect(openAiResponse.text).toContain('"content":"Hi"');
    expect(openAiResponse.text).not.toContain('[DONE]');
  });

  it('Converse usage after messageStop counted once', async () => {
    const usage = { inputTokens: 31, outputTokens: 7, totalTokens: 38 };
    context.bedrock.enqueue({
      frames: [
        { type: 'messageStart', payload: { role: 'assistant' } },
        { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Hi ' } } },
        { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'there.' } } },
        { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
        { type: 'messageStop', payload: { stopReason: 'end_turn' } },
        { type: 'metadata', payload: { usage, metrics: { latencyMs: 12 } } },
      ],
    });
    const counted = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1' });

    const response = await post('/v1/chat/completions', { model: llama, messages, stream: true, stream_options: { include_usage: true } }, counted.gatewayKey.secret);
    const chunks = sseEvents(response.text)
      .filter((event) => event.data !== '[DONE]')
      .map((event) => JSON.parse(event.data) as { choices: { finish_reason: string | null }[]; usage?: { prompt_tokens: number; completion_tokens: number } | null });
    const withUsage = chunks.filter((chunk) => chunk.usage);
    const [row] = await waitForRequestLogRows(context, context.server, counted.gatewayKey.id, 1);

    expect(response.status).toBe(200);
    expect(withUsage).toHaveLength(1);
    expect(withUsage[0]!.usage).toMatchObject({ prompt_tokens: 31, completion_tokens: 7 });
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
    expect(response.text).toContain('[DONE]');
    expect(Number(row?.input_uncached_tokens)).toBe(31);
    expect(Number(row?.output_tokens)).toBe(7);
  });

  it('Converse usage once for Anthropic clients', async () => {
    const usage = { inputTokens: 40, outputTokens: 9, totalTokens: 49 };
    context.bedrock.enqueue({
      frames: [
        { type: 'messageStart', payload: { role: 'assistant' } },
        { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Hi there.' } } },
        { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
        { type: 'messageStop', payload: { stopReason: 'end_turn' } },
        { type: 'metadata', payload: { usage } },
      ],
    });

    const final = await anthropicClient(context.server, tenant.gatewayKey.secret).messages.stream({ model: llama, max_tokens: 50, messages }).finalMessage();

    expect(final.usage.input_tokens).toBe(40);
    expect(final.usage.output_tokens).toBe(9);
    expect(final.stop_reason).toBe('end_turn');
  });
});

describe('Bedrock errors through the SDKs', () => {
  let wrongSecret: BedrockTenant;
  let unknownKey: BedrockTenant;

  beforeAll(async () => {
    wrongSecret = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1', wrongSecretRows: ['us-east-1'] });
    unknownKey = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1', unknownRows: ['us-east-1'] });
  });

  it('bad signature is a 502 naming the key', async () => {
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, wrongSecret.gatewayKey.secret).chat.completions.create({ model: claude, messages }),
    );

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain(`provider key ${wrongSecret.providerKey.globalId}`);
    expect(error.message).toContain('InvalidSignatureException');
    expect(error.message).toContain('us-east-1');
  });

  it('unknown key id is a 502 for Anthropic clients', async () => {
    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, unknownKey.gatewayKey.secret).messages.stream({ model: claude, max_tokens: 50, messages }).finalMessage(),
    );

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(502);
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.headers?.get('x-keyroute-provider-key-id')).toBe(unknownKey.providerKey.globalId);
    expect(error.message).toContain('UnrecognizedClientException');
    expect(error.message).toContain(unknownKey.providerKey.globalId);
  });

  it('IAM access denied is a 403', async () => {
    context.bedrock.enqueue({
      error: {
        status: 403,
        exception: 'AccessDeniedException',
        message: `User: arn:aws:iam::123456789012:user/keyroute is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/${claudeModelId}`,
      },
    });

    const error = await rejectionOf<OpenAiApiError>(openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: claude, messages }));

    expect(error.status).toBe(403);
    expect(error.type).toBe('permission_error');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.message).toContain('the IAM identity of provider key');
    expect(error.message).toContain('Grant it bedrock:InvokeModel');
  });

  it('model access denied is a 403', async () => {
    context.bedrock.enqueue({ error: { status: 403, exception: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." } });

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: claude, max_tokens: 50, messages }),
    );

    expect(error.status).toBe(403);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(error.message).toContain(`has no access to ${claudeModelId} in us-east-1`);
    expect(error.message).toContain('Model access page');
  });

  it('on-demand model id asks for a profile', async () => {
    context.bedrock.enqueue({
      error: {
        status: 400,
        exception: 'ValidationException',
        message: `Invocation of model ID ${claudeModelId} with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
      },
    });

    const error = await rejectionOf<OpenAiApiError>(openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: claude, messages }));

    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain('inference profile id');
    expect(error.message).toContain(`bedrock/us.${claudeModelId}`);
  });

  it('throttling is a 429 with retry-after', async () => {
    context.bedrock.enqueue({ error: { status: 429, exception: 'ThrottlingException', message: 'Too many requests', headers: { 'retry-after': '4' } } });

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, tenant.gatewayKey.secret).messages.create({ model: llama, max_tokens: 50, messages }),
    );

    expect(error.status).toBe(429);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(error.headers?.get('retry-after')).toBe('4');
  });

  it('unavailable is a 503', async () => {
    context.bedrock.enqueue({ error: { status: 503, exception: 'ServiceUnavailableException', message: 'Service is temporarily unavailable' } });

    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: llama, messages, stream: true }),
    );

    expect(error.status).toBe(503);
    expect(error.message).toContain('temporarily unavailable');
  });
});

describe('Bedrock secret leaks', () => {
  /** Every response of the error paths below, with status, headers and body. */
  const seen: string[] = [];
  let wrongSecret: BedrockTenant;
  let unknownKey: BedrockTenant;

  /** Returns every credential value of the tenants these tests use. */
  function credentialValues(): string[] {
    return [tenant, wrongSecret, unknownKey].flatMap((each) => each.rows.flatMap((row) => [row.secretAccessKey, row.accessKeyId]));
  }

  async function record(path: '/v1/chat/completions' | '/v1/messages', body: unknown, gatewayKey?: string, headers?: Record<string, string>): Promise<number> {
    const response = await post(path, body, gatewayKey, headers);
    seen.push(`${response.status} ${JSON.stringify([...response.headers])} ${response.text}`);
    return response.status;
  }

  it('runs the error paths with an upstream that echoes secrets', async () => {
    wrongSecret = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1', wrongSecretRows: ['us-east-1'] });
    unknownKey = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1', unknownRows: ['us-east-1'] });
    const row = tenant.rows[0]!;
    const echo = `request signed with ${row.accessKeyId} and ${row.secretAccessKey}`;
    const openAiBody = { model: llama, messages };
    const anthropicBody = { model: claude, max_tokens: 50, messages };
    const statuses: number[] = [];

    const httpErrors = [
      { status: 403, exception: 'AccessDeniedException', message: `User is not authorized to perform: bedrock:InvokeModel; ${echo}` },
      { status: 403, exception: 'AccessDeniedException', message: `You don't have access to the model; ${echo}` },
      { status: 400, exception: 'ValidationException', message: `Invocation with on-demand throughput isn't supported; ${echo}` },
      { status: 400, exception: 'ValidationException', message: echo },
      { status: 429, exception: 'ThrottlingException', message: echo },
      { status: 503, exception: 'ServiceUnavailableException', message: echo },
      { status: 500, exception: 'InternalServerException', message: echo },
      { status: 404, exception: 'ResourceNotFoundException', message: echo },
      { status: 403, exception: 'UnrecognizedClientException', message: echo },
      { status: 418, exception: 'SomeNewException', message: echo },
    ];
    for (const error of httpErrors) {
      context.bedrock.enqueue({ error });
      statuses.push(await record('/v1/chat/completions', openAiBody));
      context.bedrock.enqueue({ error });
      statuses.push(await record('/v1/messages', { ...anthropicBody, stream: true }));
    }

    for (const exception of ['throttlingException', 'validationException', 'modelStreamErrorException', 'unknownException']) {
      context.bedrock.enqueue({ frames: [{ messageType: 'exception', type: exception, payload: { message: echo } }] });
      statuses.push(await record('/v1/messages', { ...anthropicBody, stream: true }));
      context.bedrock.enqueue({ reply: { text: 'one two three' }, streamException: { afterDeltas: 2, exception, message: echo } });
      statuses.push(await record('/v1/chat/completions', { ...openAiBody, stream: true }));
    }
    context.bedrock.enqueue({ frames: [{ messageType: 'error', type: 'InternalFailure', errorMessage: echo }] });
    statuses.push(await record('/v1/chat/completions', { ...openAiBody, stream: true }));

    statuses.push(await record('/v1/chat/completions', openAiBody, wrongSecret.gatewayKey.secret));
    statuses.push(await record('/v1/messages', { ...anthropicBody, stream: true }, unknownKey.gatewayKey.secret));

    // Requests rejected before anything is sent: no row for the region, a bad header or model id,
    // and a region that the test transport cannot reach.
    statuses.push(await record('/v1/chat/completions', openAiBody, wrongSecret.gatewayKey.secret, { 'x-keyroute-bedrock-region': 'eu-west-1' }));
    statuses.push(await record('/v1/chat/completions', openAiBody, undefined, { 'x-keyroute-bedrock-region': 'not a region' }));
    statuses.push(await record('/v1/chat/completions', openAiBody, undefined, { 'x-keyroute-bedrock-api': 'invoke' }));
    statuses.push(await record('/v1/messages', { ...anthropicBody, model: 'bedrock/arn:aws:bedrock:nowhere' }));
    statuses.push(await record('/v1/messages', anthropicBody, undefined, { 'x-keyroute-bedrock-region': 'sa-east-1' }));

    expect(statuses).toEqual([
      403, 403, 403, 403, 400, 400, 400, 400, 429, 429, 503, 503, 500, 500, 404, 404, 502, 502, 418, 418,
      429, 200, 400, 200, 502, 200, 502, 200,
      502,
      502, 502,
      400, 400, 400, 400, 502,
    ]);
  });

  it('no secret in responses', () => {
    const text = seen.join('\n');

    expect(seen).toHaveLength(36);
    // The fake quoted the key in every error, so the scrubbing ran on each message it kept.
    expect(text).toContain('[redacted]');
    for (const value of credentialValues()) expect(text).not.toContain(value);
  });

  it('no secret in log lines', () => {
    const logs = context.server.logs.text();

    expect(logs.length).toBeGreaterThan(0);
    for (const value of credentialValues()) expect(logs).not.toContain(value);
  });
});

describe('Bedrock request log', () => {
  it('rows show provider, region, key and client tokens', async () => {
    const logged = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1'), newBedrockRow('eu-central-1')], defaultRegion: 'us-east-1' });
    const anthropic = anthropicClient(context.server, logged.gatewayKey.secret);
    const openai = openAiClient(context.server, logged.gatewayKey.secret);

    const invoked = await anthropic.messages.create({ model: claude, max_tokens: 50, messages });
    const streamed = await anthropic.messages.stream({ model: `bedrock/eu.${claudeModelId}`, max_tokens: 50, messages }).finalMessage();
    const translated = await openai.chat.completions.create({ model: claude, messages });
    const conversed = await openai.chat.completions.stream({ model: llama, messages, stream_options: { include_usage: true } }).finalChatCompletion();
    const rows = await waitForRequestLogRows(context, context.server, logged.gatewayKey.id, 4);

    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.provider).toBe('BEDROCK');
      expect(row.provider_key_id).toBe(logged.providerKey.id);
      expect(row.credential_source).toBe('ORGANIZATION');
      expect(row.status).toBe(200);
      expect(row.error_code).toBeNull();
    }
    const [invokedRow, streamedRow, translatedRow, conversedRow] = rows;
    expect(invokedRow!.region).toBe('us-east-1');
    expect(invokedRow!.model).toBe(claude);
    expect(Number(invokedRow!.input_uncached_tokens)).toBe(invoked.usage.input_tokens);
    expect(Number(invokedRow!.output_tokens)).toBe(invoked.usage.output_tokens);
    expect(Number(invokedRow!.cost_micro_usd)).toBeGreaterThan(0);
    expect(streamedRow!.region).toBe('eu-central-1');
    expect(streamedRow!.stream).toBe(true);
    expect(Number(streamedRow!.input_uncached_tokens)).toBe(streamed.usage.input_tokens);
    expect(Number(streamedRow!.output_tokens)).toBe(streamed.usage.output_tokens);
    expect(Number(translatedRow!.input_uncached_tokens)).toBe(translated.usage!.prompt_tokens);
    expect(Number(translatedRow!.output_tokens)).toBe(translated.usage!.completion_tokens);
    expect(conversedRow!.model).toBe(llama);
    expect(conversedRow!.stream).toBe(true);
    expect(Number(conversedRow!.input_uncached_tokens)).toBe(conversed.usage!.prompt_tokens);
    expect(Number(conversedRow!.output_tokens)).toBe(conversed.usage!.completion_tokens);
    expect(conversedRow!.upstream_request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('error rows show region and exception', async () => {
    const logged = await createBedrockTenant(context, { rows: [newBedrockRow('global')], defaultRegion: 'eu-west-1' });
    context.bedrock.enqueue({ error: { status: 429, exception: 'ThrottlingException', message: 'Too many requests' } });
    await rejectionOf(openAiClient(context.server, logged.gatewayKey.secret).chat.completions.create({ model: claude, messages }));
    context.bedrock.enqueue({ reply: { text: 'one two three' }, streamException: { afterDeltas: 1, exception: 'throttlingException' } });
    await post('/v1/messages', { model: claude, max_tokens: 50, messages, stream: true }, logged.gatewayKey.secret);

    const [rejected, failedStream] = await waitForRequestLogRows(context, context.server, logged.gatewayKey.id, 2);

    expect(rejected?.status).toBe(429);
    expect(rejected?.provider).toBe('BEDROCK');
    expect(rejected?.region).toBe('eu-west-1');
    expect(rejected?.provider_key_id).toBe(logged.providerKey.id);
    expect(rejected?.error_code).toBe('ThrottlingException');
    expect(failedStream?.status).toBe(429);
    expect(failedStream?.stream).toBe(true);
    expect(failedStream?.region).toBe('eu-west-1');
    expect(failedStream?.error_code).toBe('ThrottlingException');
  });
});
