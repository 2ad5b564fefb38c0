import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  lastRequest,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type InProcessServer,
  type ProxyTestContext,
  startProxyContext,
} from './helpers.js';

// OpenAI-format requests to every OpenAI-compatible provider: usage in the request log row for
// complete and streamed responses, with and without stream_options.include_usage, and responses
// that the gateway relays byte for byte when it has nothing to rewrite.

type Provider = 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI';
type Mode = 'complete' | 'stream' | 'stream with usage';

const models: Record<Provider, string> = {
  OPENAI: 'openai/gpt-4o',
  MISTRAL: 'mistral/mistral-large-latest',
  DEEPSEEK: 'deepseek/deepseek-chat',
  XAI: 'xai/grok-4',
  ZAI: 'zai/glm-4.6',
};

const messages = [{ role: 'user', content: 'Hello there' }];

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;

beforeAll(async () => {
  context = await startProxyContext();
  ({ gatewayKey } = await createTenant(context, ['OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI']));
});

afterAll(async () => {
  await context?.close();
});

async function chat(server: InProcessServer, key: string, body: Record<string, unknown>): Promise<{ status: number; text: string; requestId: string }> {
  const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text(), requestId: response.headers.get('x-request-id') ?? '' };
}

/** Returns the data of each SSE event in `text`, without the `data:` prefix. */
function eventData(text: string): string[] {
  return text
    .split(/\n\n/)
    .flatMap((block) => block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).replace(/^ /, '')));
}

function bodyOf(provider: Provider, mode: Mode): Record<string, unknown> {
  const body: Record<string, unknown> = { model: models[provider], messages };
  if (mode !== 'complete') body.stream = true;
  if (mode === 'stream with usage') body.stream_options = { include_usage: true };
  return body;
}

describe('OpenAI-format usage in the request log', () => {
  const cases = (['OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI'] as Provider[]).flatMap((provider) =>
    (['complete', 'stream', 'stream with usage'] as Mode[]).map((mode) => [provider, mode] as const),
  );

  it.each(cases)('%s %s', async (provider, mode) => {
    const { status, text, requestId } = await chat(context.server, gatewayKey.secret, bodyOf(provider, mode));
    expect(status, text).toBe(200);

    const rows = await waitForRequestLogRows(context, context.server, gatewayKey.id, 1);
    const row = rows.find((candidate) => candidate.request_id === requestId);
    expect(row).toBeDefined();
    expect(row!.provider).toBe(provider);
    expect(Number(row!.input_uncached_tokens) + Number(row!.cache_read_tokens)).toBeGreaterThan(0);
    expect(Number(row!.output_tokens)).toBeGreaterThan(0);
    expect(row!.raw_usage).not.toBeNull();

    const usageEvents = eventData(text).filter((data) => /"usage"\s*:\s*\{/.test(data));
    if (mode === 'stream') expect(usageEvents).toHaveLength(0);
    if (mode === 'stream with usage') expect(usageEvents).toHaveLength(1);
  });
});

describe('Mistral tool call ids', () => {
  it('restores ids in a stream that also hides usage', async () => {
    const fake = context.fakes.mistral;
    fake.enqueue({ reply: { toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }] } });
    const original = 'call_0123456789abcdefghij';
    const { status, text } = await chat(context.server, gatewayKey.secret, {
      model: models.MISTRAL,
      stream: true,
      messages: [
        { role: 'user', content: 'look it up' },
        { role: 'assistant', content: null, tool_calls: [{ id: original, type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: original, content: 'found' },
      ],
    });
    expect(status, text).toBe(200);

    const sent = lastRequest(fake).body as { messages: { tool_calls?: { id: string }[]; tool_call_id?: string }[] };
    const sentId = sent.messages[1]!.tool_calls![0]!.id;
    expect(sentId).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(sent.messages[2]!.tool_call_id).toBe(sentId);
    expect(text).not.toContain(sentId);
    expect(eventData(text).filter((data) => /"usage"\s*:\s*\{/.test(data))).toHaveLength(0);
  });
});

/**
 * An upstream for every OpenAI-compatible provider that sends canned bytes, so that a test can
 * compare what the client receives. It returns 401 unless the request carries the provider key of
 * the provider whose real host it names.
 */
class CannedUpstream {
  readonly server: Server;
  completeBody = '';
  streamEvents: string[] = [];

  constructor(authorizationByHost: ReadonlyMap<string, string>) {
    this.server = createServer((request, response) => {
      const expected = authorizationByHost.get(request.headers.host ?? '');
      if (expected === undefined || request.headers.authorization !== expected) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: `unexpected credential for host ${request.headers.host}` } }));
        return;
      }
      let raw = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
      request.on('end', () => {
        const body = JSON.parse(raw) as { stream?: boolean };
        if (body.stream) {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.end(this.streamEvents.map((data) => `data: ${data}\n\n`).join(''));
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(this.completeBody);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('responses that need no rewrite', () => {
  const origins: Record<Provider, string> = {
    OPENAI: 'https://api.openai.com',
    MISTRAL: 'https://api.mistral.ai',
    DEEPSEEK: 'https://api.deepseek.com',
    XAI: 'https://api.x.ai',
    ZAI: 'https://api.z.ai',
  };
  let canned: CannedUpstream;
  let server: InProcessServer;
  let key: CreatedGatewayKey;

  beforeAll(async () => {
    const providers = Object.keys(origins) as Provider[];
    canned = new CannedUpstream(new Map(providers.map((provider) => [new URL(origins[provider]).host, `Bearer ${context.secrets[provider]}`])));
    const address = await canned.listen();
    const overrides = providers.map((provider) => `${origins[provider]}=${address}`).join(',');
    server = await context.startServer({ UPSTREAM_OVERRIDES: overrides });
    ({ gatewayKey: key } = await createTenant({ server, secrets: context.secrets }, ['OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI']));
  });

  afterAll(async () => {
    await canned?.close();
  });

  // Spacing, key order and \u escapes that a parse and stringify would change.
  const completeBody =
    '{ "id" : "chatcmpl-1", "object":"chat.completion", "model":"m", "choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9 \\/ ok"},"finish_reason":"stop"}],\n "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "prompt_tokens_details": {"cached_tokens": 2}}, "extra":1.0}';

  it.each(['OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI'] as Provider[])('%s complete body byte for byte', async (provider) => {
    canned.completeBody = completeBody;

    const { status, text, requestId } = await chat(server, key.secret, bodyOf(provider, 'complete'));

    expect(status, text).toBe(200);
    expect(text).toBe(completeBody);
    const rows = await waitForRequestLogRows(context, server, key.id, 1);
    const row = rows.find((candidate) => candidate.request_id === requestId);
    expect(Number(row!.output_tokens)).toBe(7);
  });

  it.each(['OPENAI', 'DEEPSEEK', 'XAI'] as Provider[])('%s stream with usage event for event', async (provider) => {
    canned.streamEvents = [
      '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"caf\\u00e9"}}],"usage":null}',
      '{ "id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}], "usage" : null }',
      '{"id":"c","object":"chat.completion.chunk","choices":[], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}',
      '[DONE]',
    ];

    const { status, text, requestId } = await chat(server, key.secret, bodyOf(provider, 'stream with usage'));

    expect(status, text).toBe(200);
    expect(eventData(text)).toEqual(canned.streamEvents);
    const rows = await waitForRequestLogRows(context, server, key.id, 1);
    const row = rows.find((candidate) => candidate.request_id === requestId);
    expect(Number(row!.output_tokens)).toBe(7);
  });
});
