import Anthropic from '@anthropic-ai/sdk';
import type { Message, MessageParam, TextBlock, ThinkingBlock, Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, type FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import {
  anthropicClient,
  clientAuthHeaders,
  createGatewayKey,
  createOrganization,
  createProviderKey,
  createTenant,
  lastRequest,
  rejectionOf,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type Fakes,
  type ProxyTestContext,
} from './helpers.js';

// The official @anthropic-ai/sdk calling models of other providers through /v1/messages. OpenAI,
// Mistral and xAI get the request translated to chat completions, and their response or stream comes
// back in Anthropic's format. DeepSeek and zAI get it natively on their Anthropic-compatible
// endpoints, with the key in x-api-key.

type Json = Record<string, any>;

const messages: MessageParam[] = [{ role: 'user', content: 'What is the weather like in Paris and Rome?' }];
const system = 'You answer briefly.';
const weatherTool: Tool = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const twoCalls = [
  { name: 'get_weather', arguments: { city: 'Paris' } },
  { name: 'get_weather', arguments: { city: 'Rome' } },
];
const pngData = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

interface TranslatedCase {
  provider: 'OPENAI' | 'MISTRAL' | 'XAI';
  fake: keyof Fakes;
  model: string;
  upstreamModel: string;
  host: string;
  path: string;
  label: string;
  /** Whether the gateway requests stream usage from the upstream. Mistral rejects the option and sends usage anyway. */
  takesStreamOptions: boolean;
}

const translatedCases: TranslatedCase[] = [
  { provider: 'OPENAI', fake: 'openai', model: 'openai/gpt-4o', upstreamModel: 'gpt-4o', host: 'api.openai.com', path: '/v1/chat/completions', label: 'OpenAI', takesStreamOptions: true },
  { provider: 'MISTRAL', fake: 'mistral', model: 'mistral/mistral-large-latest', upstreamModel: 'mistral-large-latest', host: 'api.mistral.ai', path: '/v1/chat/completions', label: 'Mistral', takesStreamOptions: false },
  { provider: 'XAI', fake: 'xai', model: 'xai/grok-4', upstreamModel: 'grok-4', host: 'api.x.ai', path: '/v1/chat/completions', label: 'xAI', takesStreamOptions: true },
];

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;
let client: Anthropic;

beforeAll(async () => {
  context = await startProxyContext();
  gatewayKey = (await createTenant(context, ['OPENAI', 'MISTRAL', 'XAI', 'DEEPSEEK', 'ZAI'])).gatewayKey;
  client = anthropicClient(context.server, gatewayKey.secret);
});

afterAll(async () => {
  await context?.close();
});

function bodyOf(fake: FakeUpstream): Json {
  return lastRequest(fake).body as Json;
}

function textOf(message: Message): string {
  return message.content.flatMap((block) => (block.type === 'text' ? [(block as TextBlock).text] : [])).join('');
}

function toolUses(message: Message): ToolUseBlock[] {
  return message.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
}

describe.each(translatedCases)('Anthropic client to $label', (translated) => {
  const fake = () => context.fakes[translated.fake];
  const greeting = `Hello from the fake ${translated.label}.`;

  it('message', async () => {
    const message = await client.messages.create({ model: translated.model, max_tokens: 100, system, messages });
    const upstream = lastRequest(fake());

    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    expect(message.model).toBe(translated.model);
    expect(message.content).toEqual([{ type: 'text', text: greeting }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBe(countTokens(bodyOf(fake()).messages));
    expect(message.usage.output_tokens).toBe(countTokens(greeting));
    expect(upstream.rejection).toBeUndefined();
    expect(upstream.path).toBe(translated.path);
    expect(upstream.headers.host).toBe(translated.host);
    expect(upstream.headers.authorization).toBe(`Bearer ${context.secrets[translated.provider]}`);
    expect(upstream.headers['x-api-key']).toBeUndefined();
    for (const header of clientAuthHeaders) expect(upstream.headers[header]).toBeUndefined();
  });

  it('request translated to chat completions', async () => {
    // @anthropic-ai/sdk 1.17 has no temperature in its types, but the Messages API takes it.
    const params = { model: translated.model, max_tokens: 100, system, messages, stop_sequences: ['END'], temperature: 0.3 };
    await client.messages.create(params as Anthropic.MessageCreateParamsNonStreaming);
    const body = bodyOf(fake());

    expect(body.model).toBe(translated.upstreamModel);
    expect(body.messages).toEqual([
      { role: 'system', content: system },
      { role: 'user', content: 'What is the weather like in Paris and Rome?' },
    ]);
    expect(body.max_tokens).toBe(100);
    expect(body.stop).toEqual(['END']);
    expect(body.temperature).toBe(0.3);
    expect(body).not.toHaveProperty('system');
    expect(body).not.toHaveProperty('stop_sequences');
  });

  it('stream finalMessage', async () => {
    const stream = client.messages.stream({ model: translated.model, max_tokens: 100, system, messages });
    let deltas = 0;
    stream.on('text', () => {
      deltas += 1;
    });
    const final = await stream.finalMessage();
    const body = bodyOf(fake());

    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: greeting });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.model).toBe(translated.model);
    expect(deltas).toBe(greeting.split(' ').length);
    expect(final.usage.input_tokens).toBe(countTokens(body.messages));
    expect(final.usage.output_tokens).toBe(countTokens(greeting));
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual(translated.takesStreamOptions ? { include_usage: true } : undefined);
  });

  it('two tool calls', async () => {
    fake().enqueue({ reply: { toolCalls: twoCalls } });
    const message = await client.messages.create({ model: translated.model, max_tokens: 100, messages, tools: [weatherTool] });
    const uses = toolUses(message);

    expect(message.stop_reason).toBe('tool_use');
    expect(uses).toHaveLength(2);
    expect(uses.map((use) => use.name)).toEqual(['get_weather', 'get_weather']);
    expect(uses.map((use) => use.input)).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    expect(new Set(uses.map((use) => use.id)).size).toBe(2);
    expect(bodyOf(fake()).tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Current weather of a city', parameters: weatherTool.input_schema } },
    ]);
  });

  it('two tool calls streamed', async () => {
    fake().enqueue({ reply: { toolCalls: twoCalls } });
    const stream = client.messages.stream({ model: translated.model, max_tokens: 100, messages, tools: [weatherTool] });
    const final = await stream.finalMessage();
    const uses = toolUses(final);

    expect(final.stop_reason).toBe('tool_use');
    expect(uses.map((use) => use.input)).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('tool results sent back as tool messages', async () => {
    fake().enqueue({ reply: { toolCalls: twoCalls } });
    const first = await client.messages.create({ model: translated.model, max_tokens: 100, messages, tools: [weatherTool] });
    const [paris, rome] = toolUses(first);

    const second = await client.messages.create({
      model: translated.model,
      max_tokens: 100,
      tools: [weatherTool],
      messages: [
        ...messages,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: paris!.id, content: 'Sunny' },
            { type: 'tool_result', tool_use_id: rome!.id, content: 'Rain' },
          ],
        },
      ],
    });
    const sent = bodyOf(fake()).messages as Json[];

    expect(lastRequest(fake()).rejection).toBeUndefined();
    expect(textOf(second)).toBe(greeting);
    expect(sent.map((message) => message.role)).toEqual(['user', 'assistant', 'tool', 'tool']);
    expect(sent[1]!.tool_calls.map((call: Json) => call.id)).toEqual([paris!.id, rome!.id]);
    expect(sent.slice(2).map((message) => [message.tool_call_id, message.content])).toEqual([
      [paris!.id, 'Sunny'],
      [rome!.id, 'Rain'],
    ]);
  });

  it('image as a data URL', async () => {
    await client.messages.create({
      model: translated.model,
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
          ],
        },
      ],
    });

    expect(bodyOf(fake()).messages[0].content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${pngData}` } });
  });
});

describe('Anthropic client options for OpenAI', () => {
  it('tool choice, parallel calls and user mapped', async () => {
    await client.messages.create({
      model: 'openai/gpt-4o',
      max_tokens: 100,
      messages,
      tools: [weatherTool],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'user-1234' },
    });
    const body = bodyOf(context.fakes.openai);

    expect(body.tool_choice).toBe('required');
    expect(body.parallel_tool_calls).toBe(false);
    expect(body.user).toBe('user-1234');
    expect(body).not.toHaveProperty('metadata');
  });

  it('max_tokens as max_completion_tokens for o-series', async () => {
    await client.messages.create({ model: 'openai/o3', max_tokens: 100, messages });
    const body = bodyOf(context.fakes.openai);

    expect(body.max_completion_tokens).toBe(100);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('interleaved parallel calls assembled whole', async () => {
    context.fakes.openai.enqueue({ reply: { interleaveToolCalls: true, toolCalls: twoCalls } });
    const final = await client.messages.stream({ model: 'openai/gpt-4o', max_tokens: 100, messages, tools: [weatherTool] }).finalMessage();

    expect(final.stop_reason).toBe('tool_use');
    expect(toolUses(final).map((use) => use.input)).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
  });

  it('count_tokens not available', async () => {
    const before = context.fakes.openai.requests.length;
    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(client.messages.countTokens({ model: 'openai/gpt-4o', messages }));

    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(error.message).toContain('count_tokens');
    expect(context.fakes.openai.requests.length).toBe(before);
  });
});

describe('Mistral tool call ids for Anthropic clients', () => {
  // The conversation began on Claude, so its tool ids are Anthropic's, which Mistral rejects.
  const history: MessageParam[] = [
    ...messages,
    {
      role: 'assistant',
      content: [
        { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_01B77x55yz11ab223344cd5', name: 'get_weather', input: { city: 'Rome' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: 'Sunny' },
        { type: 'tool_result', tool_use_id: 'toolu_01B77x55yz11ab223344cd5', content: 'Rain' },
      ],
    },
  ];
  const model = 'mistral/mistral-large-latest';

  it('9-character ids upstream', async () => {
    const message = await client.messages.create({ model, max_tokens: 100, messages: history, tools: [weatherTool] });
    const sent = bodyOf(context.fakes.mistral).messages as Json[];
    const callIds = sent[1]!.tool_calls.map((call: Json) => call.id as string);

    expect(lastRequest(context.fakes.mistral).rejection).toBeUndefined();
    expect(textOf(message)).toBe('Hello from the fake Mistral.');
    for (const id of callIds) expect(id).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(new Set(callIds).size).toBe(2);
    expect(sent[2]!.tool_call_id).toBe(callIds[0]);
    expect(sent[3]!.tool_call_id).toBe(callIds[1]);
  });

  it('client ids restored in the response', async () => {
    await client.messages.create({ model, max_tokens: 100, messages: history, tools: [weatherTool] });
    const rewritten = bodyOf(context.fakes.mistral).messages[1].tool_calls[0].id as string;

    // The same conversation gets the same ids, so a reply that names one comes back with the client's id.
    context.fakes.mistral.enqueue({ reply: { toolCalls: [{ id: rewritten, name: 'get_weather', arguments: { city: 'Paris' } }] } });
    const message = await client.messages.create({ model, max_tokens: 100, messages: history, tools: [weatherTool] });

    expect(toolUses(message)[0]?.id).toBe('toolu_01A09q90qw90lq917835lq9');
  });

  it('client ids restored in a stream', async () => {
    await client.messages.create({ model, max_tokens: 100, messages: history, tools: [weatherTool] });
    const rewritten = bodyOf(context.fakes.mistral).messages[1].tool_calls[1].id as string;

    context.fakes.mistral.enqueue({ reply: { toolCalls: [{ id: rewritten, name: 'get_weather', arguments: { city: 'Rome' } }] } });
    const final = await client.messages.stream({ model, max_tokens: 100, messages: history, tools: [weatherTool] }).finalMessage();

    expect(toolUses(final)[0]?.id).toBe('toolu_01B77x55yz11ab223344cd5');
  });

  it('new Mistral ids reach the client unchanged', async () => {
    context.fakes.mistral.enqueue({ reply: { toolCalls: [{ id: 'aB3dE6gH9', name: 'get_weather', arguments: { city: 'Oslo' } }] } });
    const message = await client.messages.create({ model, max_tokens: 100, messages, tools: [weatherTool] });

    expect(toolUses(message)[0]?.id).toBe('aB3dE6gH9');
  });
});

describe('reasoning for Anthropic clients', () => {
  it('xAI reasoning_content as a thinking block', async () => {
    context.fakes.xai.enqueue({ reply: { reasoning: 'Grok thinks first.' } });
    const message = await client.messages.create({ model: 'xai/grok-3-mini', max_tokens: 100, messages });
    const thinking = message.content[0] as ThinkingBlock;

    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    expect(thinking.thinking).toBe('Grok thinks first.');
    // Only Claude verifies signatures, so thinking from another model carries an empty one.
    expect(thinking.signature).toBe('');
  });

  it('streamed reasoning as thinking deltas', async () => {
    context.fakes.xai.enqueue({ reply: { reasoning: 'Grok thinks first.' } });
    const stream = client.messages.stream({ model: 'xai/grok-3-mini', max_tokens: 100, messages });
    let thinkingDeltas = '';
    stream.on('thinking', (delta) => {
      thinkingDeltas += delta;
    });
    const final = await stream.finalMessage();

    expect(thinkingDeltas).toBe('Grok thinks first.');
    expect(final.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    expect(textOf(final)).toBe('Hello from the fake xAI.');
  });
});

describe('DeepSeek and zAI Anthropic endpoints', () => {
  const nativeCases = [
    { provider: 'DEEPSEEK', fake: 'deepseek', model: 'deepseek/deepseek-chat', upstreamModel: 'deepseek-chat', host: 'api.deepseek.com', path: '/anthropic/v1/messages', label: 'DeepSeek' },
    { provider: 'ZAI', fake: 'zai', model: 'zai/glm-4.6', upstreamModel: 'glm-4.6', host: 'api.z.ai', path: '/api/anthropic/v1/messages', label: 'zAI' },
  ] as const;

  describe.each(nativeCases)('$label', (native) => {
    const fake = () => context.fakes[native.fake];
    const greeting = `Hello from the fake ${native.label} Anthropic API.`;

    it('message without translation', async () => {
      const message = await client.messages.create({ model: native.model, max_tokens: 100, system, messages });
      const upstream = lastRequest(fake());
      const body = upstream.body as Json;

      expect(textOf(message)).toBe(greeting);
      expect(upstream.rejection).toBeUndefined();
      expect(upstream.path).toBe(native.path);
      expect(upstream.headers.host).toBe(native.host);
      expect(upstream.headers['x-api-key']).toBe(context.secrets[native.provider]);
      expect(upstream.headers.authorization).toBeUndefined();
      for (const header of clientAuthHeaders) expect(upstream.headers[header]).toBeUndefined();
      expect(body.model).toBe(native.upstreamModel);
      expect(body.system).toBe(system);
      expect(body.messages).toEqual(messages);
      expect(message.usage.input_tokens).toBe(countTokens([system, messages, undefined]));
    });

    it('stream finalMessage', async () => {
      const final = await client.messages.stream({ model: native.model, max_tokens: 100, messages }).finalMessage();

      expect(textOf(final)).toBe(greeting);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage.output_tokens).toBe(countTokens(greeting));
      expect(bodyOf(fake()).stream).toBe(true);
      expect(lastRequest(fake()).path).toBe(native.path);
    });

    it('tools unchanged', async () => {
      fake().enqueue({ reply: { toolCalls: twoCalls } });
      const message = await client.messages.create({ model: native.model, max_tokens: 100, messages, tools: [weatherTool] });

      expect(toolUses(message).map((use) => use.input)).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
      expect(bodyOf(fake()).tools).toEqual([weatherTool]);
    });
  });

  const zaiEndpoints = [
    { endpoint: 'INTERNATIONAL', fake: 'zai', host: 'api.z.ai' },
    { endpoint: 'CODING_PLAN', fake: 'zai', host: 'api.z.ai' },
    { endpoint: 'CHINA', fake: 'zaiChina', host: 'open.bigmodel.cn' },
  ] as const;

  it.each(zaiEndpoints)('zAI $endpoint setting selects its host', async ({ endpoint, fake, host }) => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    await createProviderKey(context.server, organizationId, {
      provider: 'ZAI',
      apiKey: context.secrets.ZAI,
      assignment: { gatewayKeyIds: [key.id] },
      settings: { zai: { endpoint } },
    });
    const before = context.fakes[fake].requests.length;

    const message = await anthropicClient(context.server, key.secret).messages.create({ model: 'zai/glm-4.6', max_tokens: 100, messages });
    const upstream = lastRequest(context.fakes[fake]);

    expect(textOf(message)).toBe('Hello from the fake zAI Anthropic API.');
    expect(context.fakes[fake].requests.length).toBe(before + 1);
    expect(upstream.headers.host).toBe(host);
    expect(upstream.path).toBe('/api/anthropic/v1/messages');
  });
});

describe('fields the OpenAI family cannot honour', () => {
  const model = 'openai/gpt-4o';
  const cases: { name: string; params: Record<string, unknown>; field: string }[] = [
    { name: 'top_k', params: { top_k: 40 }, field: 'top_k' },
    { name: 'server tool', params: { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, field: 'tools[0]' },
    { name: 'MCP servers', params: { mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'example' }] }, field: 'mcp_servers' },
  ];

  it.each(cases)('$name is a 400 naming it', async ({ params, field }) => {
    const before = context.fakes.openai.requests.length;
    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(
      client.messages.create({ model, max_tokens: 100, messages, ...params } as Anthropic.MessageCreateParamsNonStreaming),
    );

    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.message).toContain(field);
    expect((error.error as Json).error.type).toBe('invalid_request_error');
    expect(context.fakes.openai.requests.length).toBe(before);
  });
});

describe('OpenAI-family errors for Anthropic clients', () => {
  const model = 'openai/gpt-4o';

  async function post(body: Json): Promise<Response> {
    return fetch(`${context.server.baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gatewayKey.secret, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  it('error event after two deltas', async () => {
    context.fakes.openai.enqueue({ reply: { text: 'One two three four five six.' }, interrupt: { afterDeltas: 2, action: 'error' } });
    const stream = client.messages.stream({ model, max_tokens: 100, messages });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(stream.finalMessage());

    expect(text).toBe('One two ');
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error.message).toContain('The server had an error');
  });

  it('error event in the Anthropic format', async () => {
    context.fakes.openai.enqueue({ reply: { text: 'One two three four five six.' }, interrupt: { afterDeltas: 2, action: 'error' } });
    const response = await post({ model, max_tokens: 100, messages, stream: true });
    const blocks = (await response.text()).split('\n\n').filter((block) => block !== '');
    const last = blocks.at(-1)!.split('\n');

    expect(response.status).toBe(200);
    expect(blocks.filter((block) => block.includes('"text_delta"'))).toHaveLength(2);
    expect(last[0]).toBe('event: error');
    expect(JSON.parse(last[1]!.slice('data: '.length))).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'The server had an error while processing your request.' },
    });
  });

  it('HTTP error in the Anthropic envelope', async () => {
    context.fakes.openai.enqueue({ error: { status: 429, message: 'Rate limit reached for requests.', headers: { 'retry-after': '5' } } });
    const response = await post({ model, max_tokens: 100, messages });
    const body = (await response.json()) as Json;

    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toContain('Rate limit reached for requests.');
  });

  it('HTTP error of a stream before it starts', async () => {
    context.fakes.openai.enqueue({ error: { status: 503, message: 'The server is overloaded.' } });
    const response = await post({ model, max_tokens: 100, messages, stream: true });
    const body = (await response.json()) as Json;

    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(body).toEqual({ type: 'error', error: { type: 'overloaded_error', message: expect.stringContaining('The server is overloaded.') } });
  });

  it('rejected xAI key is a 502 naming the provider key', async () => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    const providerKey = await createProviderKey(context.server, organizationId, {
      provider: 'XAI',
      apiKey: `xai-${'0'.repeat(40)}`,
      assignment: { organization: true },
    });

    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(
      anthropicClient(context.server, key.secret).messages.create({ model: 'xai/grok-4', max_tokens: 100, messages }),
    );

    expect(lastRequest(context.fakes.xai).rejection).toBe('wrong credential');
    expect(error.status).toBe(502);
    expect((error.error as Json).type).toBe('error');
    expect(error.message).toContain(providerKey.globalId);
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  it('Mistral validation error as the SDK error class', async () => {
    context.fakes.mistral.enqueue({ error: { status: 400, message: 'Prompt contains 300000 tokens, too large for model.' } });
    const error = await rejectionOf<InstanceType<typeof Anthropic.APIError>>(
      client.messages.create({ model: 'mistral/mistral-large-latest', max_tokens: 100, messages }),
    );

    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.message).toContain('too large for model');
  });
});

describe('request log of Anthropic-format calls', () => {
  async function onlyRow(key: CreatedGatewayKey) {
    const rows = await waitForRequestLogRows(context, context.server, key.id, 1);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  const logged = [
    { label: 'OpenAI', provider: 'OPENAI', model: 'openai/gpt-4o' },
    { label: 'Mistral', provider: 'MISTRAL', model: 'mistral/mistral-large-latest' },
    { label: 'DeepSeek natively', provider: 'DEEPSEEK', model: 'deepseek/deepseek-chat' },
  ] as const;

  it.each(logged)('$label message tokens as the client saw them', async ({ provider, model }) => {
    const { gatewayKey: key } = await createTenant(context, [provider]);
    const message = await anthropicClient(context.server, key.secret).messages.create({ model, max_tokens: 100, messages });
    const row = await onlyRow(key);

    expect(row.status).toBe(200);
    expect(row.stream).toBe(false);
    expect(row.provider).toBe(provider);
    expect(Number(row.input_uncached_tokens)).toBe(message.usage.input_tokens);
    expect(Number(row.output_tokens)).toBe(message.usage.output_tokens);
  });

  it.each(logged)('$label stream tokens as the client saw them', async ({ provider, model }) => {
    const { gatewayKey: key } = await createTenant(context, [provider]);
    const final = await anthropicClient(context.server, key.secret).messages.stream({ model, max_tokens: 100, messages }).finalMessage();
    const row = await onlyRow(key);

    expect(row.stream).toBe(true);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(Number(row.input_uncached_tokens)).toBe(final.usage.input_tokens);
    expect(Number(row.output_tokens)).toBe(final.usage.output_tokens);
  });
});
