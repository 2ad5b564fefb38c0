import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type InProcessServer,
  type ProxyTestContext,
} from './helpers.js';

// Requests the proxy must reject itself: each gets a 4xx in the envelope of its route's dialect,
// and nothing reaches an upstream.

/** The body limit of the second server, the smallest value that PROXY_MAX_BODY_BYTES allows. */
const smallLimit = 1_024;
const defaultLimit = 32 * 1024 * 1024;

let context: ProxyTestContext;
let smallServer: InProcessServer;
let gatewayKey: CreatedGatewayKey;

beforeAll(async () => {
  context = await startProxyContext();
  smallServer = await context.startServer({ PROXY_MAX_BODY_BYTES: String(smallLimit) });
  gatewayKey = (await createTenant(context, ['OPENAI', 'ZAI', 'ANTHROPIC'])).gatewayKey;
});

afterAll(async () => {
  await context?.close();
});

/** Returns the number of requests that reached any fake so far. */
function upstreamRequestCount(): number {
  return Object.values(context.fakes).reduce((sum, fake) => sum + fake.requests.length, 0);
}

interface Exchange {
  status: number;
  body: Record<string, unknown>;
}

async function post(path: string, body: string | ReadableStream<Uint8Array>, options: { server?: InProcessServer; headers?: Record<string, string> } = {}): Promise<Exchange> {
  const response = await fetch(`${(options.server ?? context.server).baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gatewayKey.secret}`, ...options.headers },
    body,
    ...(typeof body !== 'string' && { duplex: 'half' }),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

/** Builds an OpenAI chat body of exactly `bytes` bytes, padded in the message text. */
function chatBodyOfSize(bytes: number): string {
  const empty = JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: '' }] });
  const body = JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(bytes - Buffer.byteLength(empty)) }] });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

function expectOpenAiError(exchange: Exchange, status: number, code: string): void {
  expect(exchange.status).toBe(status);
  expect(exchange.body.error).toMatchObject({ code });
  expect(typeof (exchange.body.error as { message?: unknown }).message).toBe('string');
}

function expectAnthropicError(exchange: Exchange, status: number, type: string): void {
  expect(exchange.status).toBe(status);
  expect(exchange.body.type).toBe('error');
  expect(exchange.body.error).toMatchObject({ type });
}

describe('invalid bodies', () => {
  it('non-JSON body, OpenAI envelope', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', '{"model": "openai/gpt-4o", "messages": [');

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toMatch(/not valid JSON/);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('non-JSON body, Anthropic envelope', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/messages', 'model=claude-sonnet-4-5');

    expectAnthropicError(exchange, 400, 'invalid_request_error');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('JSON array body', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', '[{"model": "openai/gpt-4o"}]');

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('missing model', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { param: unknown }).param).toBe('model');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('missing model, Anthropic envelope', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/messages', JSON.stringify({ max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] }));

    expectAnthropicError(exchange, 400, 'invalid_request_error');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('unknown provider prefix', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model: 'nowhere/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toContain('nowhere');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('unknown bare model', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-unknown-9', messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toContain('gpt-unknown-9');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('10,000-character model', async () => {
    const before = upstreamRequestCount();
    const model = `openai/${'m'.repeat(10_000 - 'openai/'.length)}`;

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    // The message names the length instead of quoting the value.
    expect((exchange.body.error as { message: string }).message.length).toBeLessThan(500);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('10,000-character bare model', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/messages', JSON.stringify({ model: 'c'.repeat(10_000), max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] }));

    expectAnthropicError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message.length).toBeLessThan(500);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('Anthropic format field OpenAI cannot honour', async () => {
    const before = upstreamRequestCount();

    const exchange = await post(
      '/v1/messages',
      JSON.stringify({ model: 'openai/gpt-4o', max_tokens: 10, top_k: 5, messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expectAnthropicError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toMatch(/top_k/);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('empty messages to a translated upstream', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model: 'anthropic/claude-sonnet-4-5', messages: [] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { param: unknown }).param).toBe('messages');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('OpenAI format field Anthropic cannot honour', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model: 'anthropic/claude-sonnet-4-5', n: 2, messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { param: unknown }).param).toBe('n');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('count_tokens for OpenAI is 404', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/messages/count_tokens', JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }));

    expectAnthropicError(exchange, 404, 'not_found_error');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('field the upstream rejects', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', JSON.stringify({ model: 'zai/glm-4.6', seed: 7, messages: [{ role: 'user', content: 'Hello' }] }));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { param: unknown }).param).toBe('seed');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('JSON 5,000 levels deep, OpenAI envelope', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', chatBodyWithMetadataDepth('openai/gpt-4o', 5_000));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toMatch(/deeper than 512 levels/);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('JSON 5,000 levels deep, Anthropic envelope', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/messages', chatBodyWithMetadataDepth('claude-sonnet-4-5', 5_000));

    expectAnthropicError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { message: string }).message).toMatch(/deeper than 512 levels/);
    expect(upstreamRequestCount()).toBe(before);
  });

  it('JSON at the depth limit accepted', async () => {
    const exchange = await post('/v1/chat/completions', chatBodyWithMetadataDepth('openai/gpt-4o', 512));

    expect(exchange.status).toBe(200);
  });

  it('brackets inside strings not counted', async () => {
    const text = `"\\${'[{'.repeat(1_000)}`;
    const body = JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: text }] });

    const exchange = await post('/v1/chat/completions', body);

    expect(exchange.status).toBe(200);
  });

  it('JSON one level over the depth limit', async () => {
    const exchange = await post('/v1/chat/completions', chatBodyWithMetadataDepth('openai/gpt-4o', 513));

    expectOpenAiError(exchange, 400, 'invalid_request_error');
  });

  it('negative temperature to Claude', async () => {
    const before = upstreamRequestCount();

    const exchange = await post(
      '/v1/chat/completions',
      JSON.stringify({ model: 'anthropic/claude-sonnet-4-5', temperature: -1, messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expectOpenAiError(exchange, 400, 'invalid_request_error');
    expect((exchange.body.error as { param: unknown }).param).toBe('temperature');
    expect((exchange.body.error as { message: string }).message).toMatch(/-1/);
    expect(upstreamRequestCount()).toBe(before);
  });
});

/**
 * Builds a chat body whose deepest value is `depth` levels deep, counting the body object as
 * level 1: a `metadata` object nested `depth - 1` times.
 */
function chatBodyWithMetadataDepth(model: string, depth: number): string {
  const levels = depth - 1;
  const metadata = '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
  return `{"model":${JSON.stringify(model)},"max_tokens":10,"messages":[{"role":"user","content":"Hello"}],"metadata":${metadata}}`;
}

describe('routes and methods', () => {
  it('unknown route is 404', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/completions', JSON.stringify({ model: 'openai/gpt-4o', prompt: 'Hello' }));

    expectOpenAiError(exchange, 404, 'not_found_error');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('wrong method is 405', async () => {
    const response = await fetch(`${context.server.baseUrl}/v1/chat/completions`, { headers: { authorization: `Bearer ${gatewayKey.secret}` } });
    const body = (await response.json()) as { error: { code: string } };

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(body.error.code).toBe('invalid_request_error');
  });
});

describe('body size limit', () => {
  it('body at the limit accepted', async () => {
    const before = context.fakes.openai.requests.length;

    const exchange = await post('/v1/chat/completions', chatBodyOfSize(smallLimit), { server: smallServer });

    expect(exchange.status).toBe(200);
    expect(context.fakes.openai.requests.length).toBe(before + 1);
  });

  it('one byte over the limit is 413', async () => {
    const before = upstreamRequestCount();

    const exchange = await post('/v1/chat/completions', chatBodyOfSize(smallLimit + 1), { server: smallServer });

    expectOpenAiError(exchange, 413, 'request_too_large');
    expect((exchange.body.error as { message: string }).message).toContain(String(smallLimit));
    expect(upstreamRequestCount()).toBe(before);
  });

  it('one byte over in the Anthropic envelope', async () => {
    const before = upstreamRequestCount();
    const empty = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: '' }] });
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x'.repeat(smallLimit + 1 - Buffer.byteLength(empty)) }],
    });

    const exchange = await post('/v1/messages', body, { server: smallServer });

    expectAnthropicError(exchange, 413, 'request_too_large');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('chunked body one byte over is 413', async () => {
    const before = upstreamRequestCount();
    const bytes = Buffer.from(chatBodyOfSize(smallLimit + 1));
    // Without Content-Length the server finds the size only while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 100) controller.enqueue(bytes.subarray(offset, offset + 100));
        controller.close();
      },
    });

    const exchange = await post('/v1/chat/completions', stream, { server: smallServer });

    expectOpenAiError(exchange, 413, 'request_too_large');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('default limit: 32 MiB accepted, one byte more 413', async () => {
    const atLimit = chatBodyOfSize(defaultLimit);
    const before = context.fakes.openai.requests.length;

    const accepted = await post('/v1/chat/completions', atLimit);
    expect(accepted.status).toBe(200);
    expect(context.fakes.openai.requests.length).toBe(before + 1);

    const rejected = await post('/v1/chat/completions', chatBodyOfSize(defaultLimit + 1));
    expectOpenAiError(rejected, 413, 'request_too_large');
    expect(context.fakes.openai.requests.length).toBe(before + 1);
  }, 60_000);
});

describe('incomplete body', () => {
  it('client leaving mid-body logs no error', async () => {
    const key = (await createTenant(context, ['OPENAI'])).gatewayKey;
    const before = upstreamRequestCount();
    const errorLines = () => context.server.logs.lines.filter((line) => line.includes('"level":"error"')).length;
    const errorsBefore = errorLines();
    const url = new URL(`${context.server.baseUrl}/v1/chat/completions`);

    // Declares 1,000 bytes, sends a few and closes the connection.
    const partial = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '1000', authorization: `Bearer ${key.secret}` },
    });
    partial.on('error', () => undefined);
    partial.write('{"model": "openai/gpt-4o", ');
    await new Promise((resolve) => setTimeout(resolve, 100));
    partial.destroy();
    const rows = await waitForRequestLogRows(context, context.server, key.id, 1);

    expect(rows[0]?.status).toBe(499);
    expect(errorLines()).toBe(errorsBefore);
    expect(upstreamRequestCount()).toBe(before);
  });
});

describe('header size limit', () => {
  const oneMegabyte = 'h'.repeat(1024 * 1024);

  it('1 MB header is 431 in the OpenAI envelope', async () => {
    const before = upstreamRequestCount();

    const response = await fetch(`${context.server.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gatewayKey.secret}`, 'x-filler': oneMegabyte },
      body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    const body = (await response.json()) as { error: { code: string; message: string } };

    expect(response.status).toBe(431);
    expect(body.error.code).toBe('request_header_too_large');
    expect(upstreamRequestCount()).toBe(before);
  });

  it('1 MB header is 431 in the Anthropic envelope', async () => {
    const response = await fetch(`${context.server.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': gatewayKey.secret, 'x-filler': oneMegabyte },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    const body = (await response.json()) as Record<string, unknown>;

    expect(response.status).toBe(431);
    expect(body.type).toBe('error');
    expect(body.error).toMatchObject({ type: 'request_too_large' });
  });
});
