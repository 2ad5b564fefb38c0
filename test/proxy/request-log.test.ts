import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicClient,
  createGatewayKey,
  createOrganization,
  createProviderKey,
  createTenant,
  lastRequest,
  openAiClient,
  requestLogRows,
  startProxyContext,
  type CreatedGatewayKey,
  type CreatedProviderKey,
  type ProxyTestContext,
} from './helpers.js';

// The request log row of each proxied request: the tokens reported to the client, the cost at list
// price, the provider key and credential source that served it, and the tags of the request.

const messages = [{ role: 'user' as const, content: 'Hello there' }];

let context: ProxyTestContext;

beforeAll(async () => {
  context = await startProxyContext();
});

afterAll(async () => {
  await context?.close();
});

async function tenant(): Promise<{ gatewayKey: CreatedGatewayKey; providerKeys: Partial<Record<string, CreatedProviderKey>> }> {
  return createTenant(context, ['OPENAI', 'MISTRAL', 'ANTHROPIC']);
}

async function onlyRow(gatewayKey: CreatedGatewayKey) {
  const rows = await requestLogRows(context, context.server, gatewayKey.id);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** Micro-USD at the catalog's list prices: a price per million tokens is micro-USD per token. */
function listCost(model: string, counts: { input: number; output: number }): number {
  const entry = context.server.config.models.catalog.list().find((candidate) => candidate.id === model);
  if (!entry?.prices) throw new Error(`no catalog prices for ${model}`);
  return Math.round(counts.input * entry.prices.inputPerMillion + counts.output * entry.prices.outputPerMillion);
}

describe('request log tokens and cost', () => {
  it('chat completion', async () => {
    const { gatewayKey, providerKeys } = await tenant();

    const completion = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages });
    const row = await onlyRow(gatewayKey);

    const usage = completion.usage!;
    expect(row.status).toBe(200);
    expect(row.stream).toBe(false);
    expect(row.provider).toBe('OPENAI');
    expect(row.model).toBe('openai/gpt-4o');
    expect(Number(row.input_uncached_tokens)).toBe(usage.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(usage.completion_tokens);
    expect(Number(row.cache_read_tokens)).toBe(0);
    expect(Number(row.cost_micro_usd)).toBe(listCost('openai/gpt-4o', { input: usage.prompt_tokens, output: usage.completion_tokens }));
    expect(row.price_table_version).not.toBeNull();
    expect(row.provider_key_id).toBe(providerKeys.OPENAI!.id);
    expect(row.credential_source).toBe('ORGANIZATION');
  });

  it('stream with usage asked for', async () => {
    const { gatewayKey } = await tenant();

    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({
      model: 'openai/gpt-4o',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const row = await onlyRow(gatewayKey);

    expect(usage).toBeDefined();
    expect(row.stream).toBe(true);
    expect(Number(row.input_uncached_tokens)).toBe(usage!.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(usage!.completion_tokens);
    expect(Number(row.cost_micro_usd)).toBe(listCost('openai/gpt-4o', { input: usage!.prompt_tokens, output: usage!.completion_tokens }));
  });

  it('stream without usage asked for still logs it', async () => {
    const { gatewayKey } = await tenant();

    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const row = await onlyRow(gatewayKey);

    // The fake counts one token per four characters of the JSON of what it received and sent.
    const sentMessages = (lastRequest(context.fakes.openai).body as { messages: unknown }).messages;
    expect(Number(row.input_uncached_tokens)).toBe(Math.ceil(JSON.stringify(sentMessages).length / 4));
    expect(Number(row.output_tokens)).toBe(Math.ceil(JSON.stringify(text).length / 4));
  });

  it('Mistral stream usage from the last chunk', async () => {
    const { gatewayKey } = await tenant();

    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({
      model: 'mistral/mistral-large-latest',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const row = await onlyRow(gatewayKey);

    expect(Number(row.input_uncached_tokens)).toBe(usage!.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(usage!.completion_tokens);
  });

  it('Anthropic stream', async () => {
    const { gatewayKey, providerKeys } = await tenant();

    const final = await anthropicClient(context.server, gatewayKey.secret)
      .messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 50, messages })
      .finalMessage();
    const row = await onlyRow(gatewayKey);

    expect(row.model).toBe('anthropic/claude-sonnet-4-5');
    expect(row.stream).toBe(true);
    expect(Number(row.input_uncached_tokens)).toBe(final.usage.input_tokens);
    expect(Number(row.output_tokens)).toBe(final.usage.output_tokens);
    expect(Number(row.cost_micro_usd)).toBe(
      listCost('anthropic/claude-sonnet-4-5', { input: final.usage.input_tokens, output: final.usage.output_tokens }),
    );
    expect(row.provider_key_id).toBe(providerKeys.ANTHROPIC!.id);
  });

  it('usage in spaced JSON', async () => {
    const { gatewayKey } = await tenant();
    const chunk = (fields: Record<string, unknown>) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-spaced', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', ...fields }, null, 1)
        .replace(/\n\s*/g, ' ')}\n\n`;
    // An upstream whose JSON has spaces after colons, as Python's json.dumps writes it.
    context.fakes.openai.enqueue({
      error: {
        status: 200,
        body:
          chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } }) +
          'data: [DONE]\n\n',
        headers: { 'content-type': 'text/event-stream' },
      },
    });

    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({
      model: 'openai/gpt-4o',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const received of stream) usage = received.usage ?? usage;
    const row = await onlyRow(gatewayKey);

    expect(usage?.prompt_tokens).toBe(11);
    expect(Number(row.input_uncached_tokens)).toBe(11);
    expect(Number(row.output_tokens)).toBe(3);
  });

  it('credential error', async () => {
    const { gatewayKey, providerKeys } = await tenant();
    context.fakes.openai.enqueue({ error: { status: 401 } });

    await expect(openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages })).rejects.toThrow();
    const row = await onlyRow(gatewayKey);

    expect(row.status).toBe(502);
    expect(row.error_code).toBe('provider_authentication_error');
    expect(row.provider_key_id).toBe(providerKeys.OPENAI!.id);
    expect(row.input_uncached_tokens).toBeNull();
    expect(row.cost_micro_usd).toBeNull();
  });
});

describe('request log keys and ids', () => {
  it('specific key logged with its source', async () => {
    const organizationId = await createOrganization(context.server);
    const gatewayKey = await createGatewayKey(context.server, organizationId);
    const specific = await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: context.secrets.OPENAI,
      assignment: { gatewayKeyIds: [gatewayKey.id] },
    });

    await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages });
    const row = await onlyRow(gatewayKey);

    expect(row.provider_key_id).toBe(specific.id);
    expect(row.credential_source).toBe('GATEWAY_KEY');
  });

  it('request ids of client, gateway and upstream', async () => {
    const { gatewayKey } = await tenant();

    const { response } = await openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/gpt-4o', messages }, { headers: { 'x-request-id': 'client-trace-42' } })
      .withResponse();
    const row = await onlyRow(gatewayKey);

    expect(row.client_request_id).toBe('client-trace-42');
    expect(row.request_id).toBe(response.headers.get('x-request-id'));
    expect(row.upstream_request_id).toBe(response.headers.get('x-upstream-request-id'));
    expect(row.upstream_request_id).toMatch(/^req_/);
  });
});

describe('request log tags', () => {
  it('tags from X-Keyroute-Tags', async () => {
    const { gatewayKey } = await tenant();

    await openAiClient(context.server, gatewayKey.secret).chat.completions.create(
      { model: 'openai/gpt-4o', messages },
      { headers: { 'x-keyroute-tags': 'team-search, nightly ,team-search' } },
    );
    const row = await onlyRow(gatewayKey);

    expect(row.tags).toEqual(['team-search', 'nightly']);
    expect(lastRequest(context.fakes.openai).headers['x-keyroute-tags']).toBeUndefined();
  });

  it('tags from X-Edgee-Tags', async () => {
    const { gatewayKey } = await tenant();

    await anthropicClient(context.server, gatewayKey.secret).messages.create(
      { model: 'claude-sonnet-4-5', max_tokens: 10, messages },
      { headers: { 'x-edgee-tags': 'migration' } },
    );
    const row = await onlyRow(gatewayKey);

    expect(row.tags).toEqual(['migration']);
  });

  it('body tags logged, never sent upstream', async () => {
    const { gatewayKey } = await tenant();
    const body = { model: 'openai/gpt-4o', messages, tags: ['batch', 'eval-7'] } as ChatCompletionCreateParamsNonStreaming;

    await openAiClient(context.server, gatewayKey.secret).chat.completions.create(body);
    const row = await onlyRow(gatewayKey);

    expect(row.tags).toEqual(['batch', 'eval-7']);
    expect(lastRequest(context.fakes.openai).body).not.toHaveProperty('tags');
  });

  it('body tags of Anthropic requests never sent upstream', async () => {
    const { gatewayKey } = await tenant();

    await anthropicClient(context.server, gatewayKey.secret).messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages,
      // @ts-expect-error `tags` is a gateway field that the SDK's types do not know.
      tags: ['claude-code'],
    });
    const row = await onlyRow(gatewayKey);

    expect(row.tags).toEqual(['claude-code']);
    expect(lastRequest(context.fakes.anthropic).body).not.toHaveProperty('tags');
  });

  it('body tags stripped for strict Mistral', async () => {
    const { gatewayKey } = await tenant();
    const body = { model: 'mistral/mistral-large-latest', messages, tags: ['strict'] } as ChatCompletionCreateParamsNonStreaming;

    const completion = await openAiClient(context.server, gatewayKey.secret).chat.completions.create(body);
    const row = await onlyRow(gatewayKey);

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake Mistral.');
    expect(row.tags).toEqual(['strict']);
  });
});
