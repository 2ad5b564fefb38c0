import type OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, type FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import {
  clientAuthHeaders,
  createGatewayKey,
  createOrganization,
  createProviderKey,
  createTenant,
  lastRequest,
  openAiClient,
  startProxyContext,
  type CreatedGatewayKey,
  type Fakes,
  type ProxyTestContext,
} from './helpers.js';

// The official openai SDK against each OpenAI-compatible provider through the proxy. Every fake
// rejects a request without the provider key's decrypted secret, with a Host other than the
// provider's, or with one of the client's own auth headers. The tests also check these facts on
// the recorded request, so that a failure names its cause.

interface ProviderCase {
  provider: 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI';
  fake: keyof Fakes;
  model: string;
  upstreamModel: string;
  host: string;
  path: string;
  label: string;
  /** Whether the upstream takes `stream_options`, so that the gateway requests usage itself. */
  takesStreamOptions: boolean;
}

const providerCases: ProviderCase[] = [
  { provider: 'OPENAI', fake: 'openai', model: 'openai/gpt-4o', upstreamModel: 'gpt-4o', host: 'api.openai.com', path: '/v1/chat/completions', label: 'OpenAI', takesStreamOptions: true },
  { provider: 'MISTRAL', fake: 'mistral', model: 'mistral/mistral-large-latest', upstreamModel: 'mistral-large-latest', host: 'api.mistral.ai', path: '/v1/chat/completions', label: 'Mistral', takesStreamOptions: false },
  { provider: 'DEEPSEEK', fake: 'deepseek', model: 'deepseek/deepseek-chat', upstreamModel: 'deepseek-chat', host: 'api.deepseek.com', path: '/chat/completions', label: 'DeepSeek', takesStreamOptions: true },
  { provider: 'XAI', fake: 'xai', model: 'xai/grok-4', upstreamModel: 'grok-4', host: 'api.x.ai', path: '/v1/chat/completions', label: 'xAI', takesStreamOptions: true },
  { provider: 'ZAI', fake: 'zai', model: 'zai/glm-4.6', upstreamModel: 'glm-4.6', host: 'api.z.ai', path: '/api/paas/v4/chat/completions', label: 'zAI', takesStreamOptions: false },
];

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
  },
};
const weatherArguments = { city: 'Paris', unit: 'celsius' };

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;
let client: OpenAI;

beforeAll(async () => {
  context = await startProxyContext();
  const tenant = await createTenant(context, ['OPENAI', 'MISTRAL', 'DEEPSEEK', 'XAI', 'ZAI']);
  gatewayKey = tenant.gatewayKey;
  // Every header form of the gateway key at once, so each test also shows that none goes upstream.
  client = openAiClient(context.server, gatewayKey.secret, {
    defaultHeaders: { 'x-keyroute-api-key': gatewayKey.secret, 'x-edgee-api-key': gatewayKey.secret, 'x-api-key': gatewayKey.secret },
  });
});

afterAll(async () => {
  await context?.close();
});

/** Reads a whole stream and returns its chunks, its text and the tool calls assembled from their deltas. */
async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  let text = '';
  const toolCalls: { id: string; name: string; arguments: string; argumentDeltas: number }[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    const delta = chunk.choices[0]?.delta;
    text += delta?.content ?? '';
    for (const call of delta?.tool_calls ?? []) {
      const entry = (toolCalls[call.index] ??= { id: '', name: '', arguments: '', argumentDeltas: 0 });
      if (call.id) entry.id = call.id;
      if (call.function?.name) entry.name += call.function.name;
      if (call.function?.arguments) {
        entry.arguments += call.function.arguments;
        entry.argumentDeltas += 1;
      }
    }
  }
  const finishReason = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find((reason) => reason);
  return { chunks, text, toolCalls, finishReason };
}

function expectUpstreamCredentials(fake: FakeUpstream, host: string, secret: string): void {
  const request = lastRequest(fake);
  expect(request.rejection).toBeUndefined();
  expect(request.headers.host).toBe(host);
  expect(request.headers.authorization).toBe(`Bearer ${secret}`);
  expect(request.headers['x-api-key']).toBeUndefined();
  for (const header of clientAuthHeaders) expect(request.headers[header]).toBeUndefined();
}

describe.each(providerCases)('$label through the openai SDK', (providerCase) => {
  const fake = () => context.fakes[providerCase.fake];
  const secret = () => context.secrets[providerCase.provider];
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather like?' }];

  it('chat completion', async () => {
    const completion = await client.chat.completions.create({ model: providerCase.model, messages });

    expect(completion.choices[0]?.message.content).toBe(`Hello from the fake ${providerCase.label}.`);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expectUpstreamCredentials(fake(), providerCase.host, secret());
    const upstream = lastRequest(fake());
    expect(upstream.path).toBe(providerCase.path);
    expect((upstream.body as { model: string }).model).toBe(providerCase.upstreamModel);
    expect(completion.usage?.prompt_tokens).toBe(countTokens((upstream.body as { messages: unknown }).messages));
  });

  it('stream hides usage not asked for', async () => {
    const stream = await client.chat.completions.create({ model: providerCase.model, messages, stream: true });
    const { chunks, text, finishReason } = await collect(stream);

    expect(text).toBe(`Hello from the fake ${providerCase.label}.`);
    expect(finishReason).toBe('stop');
    expect(chunks.filter((chunk) => 'usage' in chunk)).toEqual([]);
    expect(chunks.filter((chunk) => chunk.choices.length === 0)).toEqual([]);
    expectUpstreamCredentials(fake(), providerCase.host, secret());
    // The gateway still requests usage where the upstream takes the option, for its request log.
    const upstreamOptions = (lastRequest(fake()).body as { stream_options?: unknown }).stream_options;
    expect(upstreamOptions).toEqual(providerCase.takesStreamOptions ? { include_usage: true } : undefined);
  });

  it('stream includes usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: providerCase.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, text } = await collect(stream);

    expect(text).toBe(`Hello from the fake ${providerCase.label}.`);
    const usage = chunks.map((chunk) => chunk.usage).filter((value) => value);
    expect(usage).toHaveLength(1);
    expect(usage[0]?.prompt_tokens).toBe(countTokens((lastRequest(fake()).body as { messages: unknown }).messages));
    expect(usage[0]?.completion_tokens).toBe(countTokens(text));
    expectUpstreamCredentials(fake(), providerCase.host, secret());
  });

  it('streamed tool call deltas', async () => {
    fake().enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherArguments }] } });
    const stream = await client.chat.completions.create({ model: providerCase.model, messages, tools: [weatherTool], stream: true });
    const { toolCalls, finishReason, text } = await collect(stream);

    expect(text).toBe('');
    expect(finishReason).toBe('tool_calls');
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0]?.id).not.toBe('');
    expect(toolCalls[0]?.name).toBe('get_weather');
    expect(JSON.parse(toolCalls[0]!.arguments)).toEqual(weatherArguments);
    // Mistral sends each call whole; the others stream the arguments in fragments.
    if (providerCase.provider === 'MISTRAL') expect(toolCalls[0]?.argumentDeltas).toBe(1);
    else expect(toolCalls[0]?.argumentDeltas).toBeGreaterThan(1);
    expect((lastRequest(fake()).body as { tools: unknown }).tools).toEqual([weatherTool]);
  });

  it('tool call in a complete answer', async () => {
    fake().enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: weatherArguments }] } });
    const completion = await client.chat.completions.create({ model: providerCase.model, messages, tools: [weatherTool] });

    const call = completion.choices[0]?.message.tool_calls?.[0] as ChatCompletionMessageFunctionToolCall | undefined;
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    expect(call?.function.name).toBe('get_weather');
    expect(JSON.parse(call?.function.arguments ?? 'null')).toEqual(weatherArguments);
  });
});

describe('zAI endpoint setting', () => {
  const endpoints = [
    { endpoint: 'INTERNATIONAL', fake: 'zai', host: 'api.z.ai', path: '/api/paas/v4/chat/completions' },
    { endpoint: 'CODING_PLAN', fake: 'zai', host: 'api.z.ai', path: '/api/coding/paas/v4/chat/completions' },
    { endpoint: 'CHINA', fake: 'zaiChina', host: 'open.bigmodel.cn', path: '/api/paas/v4/chat/completions' },
  ] as const;

  it.each(endpoints)('$endpoint selects its base URL', async ({ endpoint, fake, host, path }) => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    await createProviderKey(context.server, organizationId, {
      provider: 'ZAI',
      apiKey: context.secrets.ZAI,
      assignment: { gatewayKeyIds: [key.id] },
      settings: { zai: { endpoint } },
    });
    const before = context.fakes[fake].requests.length;

    const completion = await openAiClient(context.server, key.secret).chat.completions.create({
      model: 'zai/glm-4.6',
      messages: [{ role: 'user', content: 'Hello' }],
    });

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake zAI.');
    expect(context.fakes[fake].requests.length).toBe(before + 1);
    const upstream = lastRequest(context.fakes[fake]);
    expect(upstream.path).toBe(path);
    expect(upstream.headers.host).toBe(host);
    expect(upstream.headers.authorization).toBe(`Bearer ${context.secrets.ZAI}`);
  });
});

describe('OpenAI key settings', () => {
  it('organization and project headers reach OpenAI', async () => {
    const organizationId = await createOrganization(context.server);
    const key = await createGatewayKey(context.server, organizationId);
    await createProviderKey(context.server, organizationId, {
      provider: 'OPENAI',
      apiKey: context.secrets.OPENAI,
      assignment: { organization: true },
      settings: { openAi: { organizationId: 'org-Keyroute123', projectId: 'proj_Keyroute456' } },
    });

    await openAiClient(context.server, key.secret).chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });

    const upstream = lastRequest(context.fakes.openai);
    expect(upstream.headers['openai-organization']).toBe('org-Keyroute123');
    expect(upstream.headers['openai-project']).toBe('proj_Keyroute456');
  });

  it('no organization header without the setting', async () => {
    await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });

    const upstream = lastRequest(context.fakes.openai);
    expect(upstream.headers['openai-organization']).toBeUndefined();
    expect(upstream.headers['openai-project']).toBeUndefined();
  });

  it('o-series max_tokens sent as max_completion_tokens', async () => {
    await client.chat.completions.create({ model: 'openai/o3', max_tokens: 50, messages: [{ role: 'user', content: 'Hello' }] });

    const body = lastRequest(context.fakes.openai).body as Record<string, unknown>;
    expect(body.max_completion_tokens).toBe(50);
    expect(body.max_tokens).toBeUndefined();
  });
});

describe('Mistral tool call ids', () => {
  const conversation: ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Weather in Paris and Rome?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_9a8b7c6d5e4f3a2b1c0d', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        { id: 'Ab3De6Gh9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: '{"celsius":24}' },
    { role: 'tool', tool_call_id: 'call_9a8b7c6d5e4f3a2b1c0d', content: '{"celsius":18}' },
    { role: 'tool', tool_call_id: 'Ab3De6Gh9', content: '{"celsius":3}' },
  ];

  it('rewritten to 9 characters consistently', async () => {
    const completion = await client.chat.completions.create({ model: 'mistral/mistral-large-latest', messages: conversation, tools: [weatherTool] });

    expect(completion.choices[0]?.message.content).toBe('Hello from the fake Mistral.');
    const sent = (lastRequest(context.fakes.mistral).body as { messages: Record<string, unknown>[] }).messages;
    const callIds = (sent[1]!.tool_calls as { id: string }[]).map((call) => call.id);
    for (const id of callIds) expect(id).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(new Set(callIds).size).toBe(3);
    // Each tool message names the rewritten id of the call whose result it carries.
    expect(sent[2]!.tool_call_id).toBe(callIds[1]);
    expect(sent[3]!.tool_call_id).toBe(callIds[0]);
    // An id Mistral already accepts stays as it is.
    expect(callIds[2]).toBe('Ab3De6Gh9');
    expect(sent[4]!.tool_call_id).toBe('Ab3De6Gh9');
  });

  it('rewritten the same way in a stream', async () => {
    const stream = await client.chat.completions.create({ model: 'mistral/mistral-large-latest', messages: conversation, stream: true });
    const { text } = await collect(stream);

    expect(text).toBe('Hello from the fake Mistral.');
    const sent = (lastRequest(context.fakes.mistral).body as { messages: Record<string, unknown>[] }).messages;
    const callIds = (sent[1]!.tool_calls as { id: string }[]).map((call) => call.id);
    expect(sent[3]!.tool_call_id).toBe(callIds[0]);
    expect(sent[2]!.tool_call_id).toBe(callIds[1]);
  });
});

describe('DeepSeek keep-alive comments', () => {
  it('ignored before the first chunk', async () => {
    // DeepSeek sends `: keep-alive` comment lines while a request waits in its queue.
    context.fakes.deepseek.enqueue({ keepAliveComments: 3 });

    const stream = await client.chat.completions.create({ model: 'deepseek/deepseek-chat', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    const { text, finishReason } = await collect(stream);

    expect(text).toBe('Hello from the fake DeepSeek.');
    expect(finishReason).toBe('stop');
  });
});
