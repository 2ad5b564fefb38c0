import { fetch, type Response } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../src/proxy/sse/sse-parser.js';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeAnthropic } from '../support/fake-upstreams/anthropic.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { createTestTransport, upstreamOverridesVariable } from '../support/fake-upstreams/test-transport.js';

const keys = {
  OPENAI: 'sk-fake-openai-0123456789',
  MISTRAL: 'mistral-fake-0123456789',
  DEEPSEEK: 'sk-fake-deepseek-0123456789',
  XAI: 'xai-fake-0123456789abcdef',
  ZAI: '0123456789abcdef0123456789abcdef.fakeSecret012345',
  ANTHROPIC: 'sk-ant-fake-0123456789',
};

type Json = Record<string, any>;

const messages = [{ role: 'user', content: 'Hi' }];

async function readEvents(response: Response): Promise<{ events: SseEvent[]; comments: string[] }> {
  const comments: string[] = [];
  const parser = new SseParser({ onComment: (text) => comments.push(text) });
  const text = await response.text();
  return { events: [...parser.push(text), ...parser.end()], comments };
}

function dataOf(events: SseEvent[]): Json[] {
  return events.filter((event) => event.data !== '[DONE]').map((event) => JSON.parse(event.data) as Json);
}

describe('fake upstreams', () => {
  let openAi: FakeUpstream;
  let mistral: FakeUpstream;
  let deepSeek: FakeUpstream;
  let xai: FakeUpstream;
  let zai: FakeUpstream;
  let anthropic: FakeUpstream;
  let deepSeekAnthropic: FakeUpstream;
  let transport: UpstreamTransport;

  beforeAll(async () => {
    openAi = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: keys.OPENAI });
    mistral = await startFakeOpenAiCompatible({ provider: 'MISTRAL', expectedKey: keys.MISTRAL });
    deepSeek = await startFakeOpenAiCompatible({ provider: 'DEEPSEEK', expectedKey: keys.DEEPSEEK });
    xai = await startFakeOpenAiCompatible({ provider: 'XAI', expectedKey: keys.XAI });
    zai = await startFakeOpenAiCompatible({ provider: 'ZAI', expectedKey: keys.ZAI });
    anthropic = await startFakeAnthropic({ expectedKey: keys.ANTHROPIC });
    transport = createTestTransport([openAi, mistral, deepSeek, xai, zai, anthropic].map((fake) => fake.override));
    // DeepSeek's Anthropic endpoint shares api.deepseek.com with its chat endpoint, so it gets a transport of its own.
    deepSeekAnthropic = await startFakeAnthropic({ expectedKey: keys.DEEPSEEK, origin: 'https://api.deepseek.com', basePath: '/anthropic' });
  });

  afterAll(async () => {
    await transport.destroy();
    await Promise.all([openAi, mistral, deepSeek, xai, zai, anthropic, deepSeekAnthropic].map((fake) => fake.close()));
  });

  function chat(url: string, key: string, body: Json, extraHeaders: Record<string, string> = {}): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extraHeaders },
      body: JSON.stringify(body),
      dispatcher: transport.dispatcher,
    });
  }

  function messagesRequest(body: Json, headers: Record<string, string> = {}, path = '/v1/messages'): Promise<Response> {
    return fetch(`https://api.anthropic.com${path}`, {
      method: 'POST',
      headers: { 'x-api-key': keys.ANTHROPIC, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      dispatcher: transport.dispatcher,
    });
  }

  const openAiUrl = 'https://api.openai.com/v1/chat/completions';

  describe('request checks', () => {
    it('records the parsed body and headers', async () => {
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      await response.text();
      const recorded = openAi.requests.at(-1)!;
      expect(recorded.body).toEqual({ model: 'gpt-4o', messages });
      expect(recorded.headers.authorization).toBe(`Bearer ${keys.OPENAI}`);
      expect(recorded.rejection).toBeUndefined();
    });

    it('rejects a wrong key like OpenAI', async () => {
      const response = await chat(openAiUrl, 'sk-wrong-key-000000', { model: 'gpt-4o', messages });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(401);
      expect(body.error.code).toBe('invalid_api_key');
      expect(openAi.requests.at(-1)!.rejection).toBe('wrong credential');
    });

    it('rejects a wrong key like xAI, with 400', async () => {
      const response = await chat('https://api.x.ai/v1/chat/completions', 'xai-wrong', { model: 'grok-4', messages });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error).toMatch(/^Incorrect API key provided/);
    });

    it('rejects a wrong key like Mistral', async () => {
      const response = await chat('https://api.mistral.ai/v1/chat/completions', 'wrong', { model: 'mistral-large-latest', messages });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ message: 'Unauthorized' });
    });

    it('rejects a leaked gateway key header', async () => {
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages }, { 'x-keyroute-api-key': 'kr-client-key' });
      await response.text();
      expect(response.status).toBe(400);
      expect(openAi.requests.at(-1)!.rejection).toBe('the client header x-keyroute-api-key reached the upstream');
    });

    it('rejects a leaked x-api-key on an OpenAI-compatible API', async () => {
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages }, { 'x-api-key': 'kr-client-key' });
      await response.text();
      expect(openAi.requests.at(-1)!.rejection).toBe('the client header x-api-key reached the upstream');
    });

    it('rejects a request for another host', async () => {
      const misrouted = createTestTransport([{ origin: 'https://api.mistral.ai', address: openAi.address }]);
      const response = await fetch('https://api.mistral.ai/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.OPENAI}` },
        body: JSON.stringify({ model: 'gpt-4o', messages }),
        dispatcher: misrouted.dispatcher,
      });
      await response.text();
      await misrouted.destroy();
      expect(response.status).toBe(421);
      expect(openAi.requests.at(-1)!.rejection).toBe('Host was "api.mistral.ai", expected api.openai.com');
    });

    it('responds to an unknown path with 404', async () => {
      const response = await chat('https://api.openai.com/chat/completions', keys.OPENAI, { model: 'gpt-4o', messages });
      await response.text();
      expect(response.status).toBe(404);
    });

    it('skips the Host check when told to', async () => {
      const direct = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: keys.OPENAI, expectedHost: null });
      const response = await globalThis.fetch(`${direct.address}/v1/models`, { headers: { authorization: `Bearer ${keys.OPENAI}` } });
      await response.text();
      await direct.close();
      expect(response.status).toBe(200);
    });

    it('builds the UPSTREAM_OVERRIDES value', () => {
      expect(upstreamOverridesVariable(openAi, anthropic)).toBe(`https://api.openai.com=${openAi.address},https://api.anthropic.com=${anthropic.address}`);
    });
  });

  describe('OpenAI chat completions', () => {
    it('returns a plain completion', async () => {
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      const body = (await response.json()) as Json;
      expect(body.object).toBe('chat.completion');
      expect(body.model).toBe('gpt-4o');
      expect(body.choices[0].message).toEqual({ role: 'assistant', content: 'Hello from the fake OpenAI.' });
      expect(body.choices[0].finish_reason).toBe('stop');
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    });

    it('streams a role chunk first', async () => {
      const { events } = await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }));
      expect(dataOf(events)[0]!.choices[0].delta).toEqual({ role: 'assistant', content: '' });
    });

    it('streams content deltas that join to the text', async () => {
      const { events } = await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }));
      const text = dataOf(events).map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('Hello from the fake OpenAI.');
    });

    it('ends the stream with [DONE]', async () => {
      const { events } = await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }));
      expect(events.at(-1)!.data).toBe('[DONE]');
      expect(dataOf(events).at(-1)!.choices[0].finish_reason).toBe('stop');
    });

    it('sends no usage chunk unless asked', async () => {
      const { events } = await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }));
      expect(dataOf(events).some((chunk) => 'usage' in chunk)).toBe(false);
    });

    it('sends a usage chunk when asked', async () => {
      const body = { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } };
      const chunks = dataOf((await readEvents(await chat(openAiUrl, keys.OPENAI, body))).events);
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage.total_tokens).toBeGreaterThan(0);
      expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    });

    it('rejects stream_options without stream', async () => {
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream_options: { include_usage: true } });
      await response.text();
      expect(response.status).toBe(400);
    });

    it('streams tool calls with index, id, name and argument fragments', async () => {
      openAi.enqueue({ reply: { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } }] } });
      const chunks = dataOf((await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }))).events);
      const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
      expect(calls[0].id).toMatch(/^call_/);
      expect(calls.length).toBeGreaterThan(2);
      expect(JSON.parse(calls.map((call: Json) => call.function.arguments).join(''))).toEqual({ city: 'Paris', unit: 'celsius' });
      expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    });

    it('returns tool calls in a plain completion', async () => {
      openAi.enqueue({ reply: { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] } });
      const body = (await (await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages })).json()) as Json;
      expect(body.choices[0].message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    });

    it('lists models', async () => {
      const response = await fetch('https://api.openai.com/v1/models', { headers: { authorization: `Bearer ${keys.OPENAI}` }, dispatcher: transport.dispatcher });
      const body = (await response.json()) as Json;
      expect(body.data.map((model: Json) => model.id)).toContain('gpt-4o');
    });
  });

  describe('scripted behaviours', () => {
    it('sends a scripted error with its headers', async () => {
      openAi.enqueue({ error: { status: 429, message: 'Slow down.', code: 'rate_limit_exceeded', headers: { 'retry-after': '9' } } });
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('9');
      expect(body.error).toMatchObject({ message: 'Slow down.', code: 'rate_limit_exceeded' });
    });

    it('echoes the credential when scripted to', async () => {
      openAi.enqueue({ error: { status: 401, echoCredential: true } });
      const body = (await (await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages })).json()) as Json;
      expect(body.error.message).toContain(keys.OPENAI);
    });

    it('delays the response headers', async () => {
      openAi.enqueue({ headersDelayMs: 300 });
      const started = performance.now();
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      await response.text();
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    });

    it('sends an OpenAI error event after two deltas', async () => {
      openAi.enqueue({ interrupt: { afterDeltas: 2, action: 'error' } });
      const { events } = await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }));
      const chunks = dataOf(events);
      expect(chunks.filter((chunk) => chunk.choices?.[0]?.delta.content)).toHaveLength(2);
      expect(chunks.at(-1)!.error.type).toBe('server_error');
      expect(events.some((event) => event.data === '[DONE]')).toBe(false);
    });

    it('destroys the socket mid-stream', async () => {
      openAi.enqueue({ interrupt: { afterDeltas: 2, action: 'destroy' } });
      const response = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true });
      await expect(response.text()).rejects.toThrow();
    });

    it('applies behaviours in order', async () => {
      openAi.enqueue({ error: { status: 500 } }, { error: { status: 503 } });
      const first = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      const second = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      const third = await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages });
      await Promise.all([first.text(), second.text(), third.text()]);
      expect([first.status, second.status, third.status]).toEqual([500, 503, 200]);
    });
  });

  describe('Mistral', () => {
    const url = 'https://api.mistral.ai/v1/chat/completions';

    it('rejects stream_options with 422 extra_forbidden', async () => {
      const response = await chat(url, keys.MISTRAL, { model: 'mistral-large-latest', messages, stream: true, stream_options: { include_usage: true } });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(422);
      expect(body.message.detail[0]).toMatchObject({ type: 'extra_forbidden', loc: ['body', 'stream_options'] });
    });

    it('rejects a tool call id that is not 9 alphanumerics', async () => {
      const history = [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_abc123', content: 'ok' },
      ];
      const response = await chat(url, keys.MISTRAL, { model: 'mistral-large-latest', messages: history });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.code).toBe('3280');
    });

    it('accepts 9-character tool call ids', async () => {
      const history = [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: 'aB3dE6gH9', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'aB3dE6gH9', content: 'ok' },
      ];
      const response = await chat(url, keys.MISTRAL, { model: 'mistral-large-latest', messages: history });
      await response.text();
      expect(response.status).toBe(200);
    });

    it('sends usage in the finish chunk without being asked', async () => {
      const chunks = dataOf((await readEvents(await chat(url, keys.MISTRAL, { model: 'mistral-large-latest', messages, stream: true }))).events);
      const last = chunks.at(-1)!;
      expect(last.choices[0].finish_reason).toBe('stop');
      expect(last.usage.total_tokens).toBeGreaterThan(0);
    });

    it('sends whole tool calls with 9-character ids', async () => {
      mistral.enqueue({ reply: { toolCalls: [{ name: 'f', arguments: { a: 1 } }] } });
      const chunks = dataOf((await readEvents(await chat(url, keys.MISTRAL, { model: 'mistral-large-latest', messages, stream: true }))).events);
      const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(calls).toHaveLength(1);
      expect(calls[0].id).toMatch(/^[a-zA-Z0-9]{9}$/);
      expect(calls[0].function.arguments).toBe('{"a":1}');
    });
  });

  describe('zAI', () => {
    const url = 'https://api.z.ai/api/paas/v4/chat/completions';

    it('rejects tool_choice other than auto', async () => {
      const response = await chat(url, keys.ZAI, { model: 'glm-4.6', messages, tool_choice: 'required' });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error.message).toContain('tool_choice');
    });

    it('accepts tool_choice auto', async () => {
      const response = await chat(url, keys.ZAI, { model: 'glm-4.6', messages, tool_choice: 'auto' });
      await response.text();
      expect(response.status).toBe(200);
    });

    it('serves the Coding Plan path', async () => {
      const response = await chat('https://api.z.ai/api/coding/paas/v4/chat/completions', keys.ZAI, { model: 'glm-4.6', messages });
      await response.text();
      expect(response.status).toBe(200);
    });

    it('sends a scripted business code', async () => {
      zai.enqueue({ error: { status: 429, code: '1113', message: 'Your account is in arrears.' } });
      const response = await chat(url, keys.ZAI, { model: 'glm-4.6', messages });
      expect(await response.json()).toEqual({ error: { code: '1113', message: 'Your account is in arrears.' } });
    });
  });

  describe('DeepSeek', () => {
    it('sends keep-alive comments before the first event', async () => {
      deepSeek.enqueue({ keepAliveComments: 3 });
      const response = await chat('https://api.deepseek.com/chat/completions', keys.DEEPSEEK, { model: 'deepseek-chat', messages, stream: true });
      const { events, comments } = await readEvents(response);
      expect(comments).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
      expect(events.at(-1)!.data).toBe('[DONE]');
    });

    it('lists models without a version prefix', async () => {
      const response = await fetch('https://api.deepseek.com/models', { headers: { authorization: `Bearer ${keys.DEEPSEEK}` }, dispatcher: transport.dispatcher });
      await response.text();
      expect(response.status).toBe(200);
    });

    it('serves the Anthropic endpoint under /anthropic', async () => {
      const ownTransport = createTestTransport([deepSeekAnthropic.override]);
      const response = await fetch('https://api.deepseek.com/anthropic/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': keys.DEEPSEEK, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages }),
        dispatcher: ownTransport.dispatcher,
      });
      const body = (await response.json()) as Json;
      await ownTransport.destroy();
      expect(body.type).toBe('message');
      expect(deepSeekAnthropic.requests.at(-1)!.headers.host).toBe('api.deepseek.com');
    });
  });

  describe('Anthropic-compatible endpoints of DeepSeek and zAI', () => {
    const endpoints = [
      { label: 'DeepSeek', url: 'https://api.deepseek.com/anthropic/v1/messages', key: keys.DEEPSEEK, fake: () => deepSeek },
      { label: 'zAI', url: 'https://api.z.ai/api/anthropic/v1/messages', key: keys.ZAI, fake: () => zai },
    ];
    const request = { model: 'claude-sonnet-4-5', max_tokens: 100, messages };

    function anthropicCall(url: string, headers: Record<string, string>, body: Json = request): Promise<Response> {
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), dispatcher: transport.dispatcher });
    }

    it.each(endpoints)('$label serves a message for x-api-key', async ({ url, key, fake, label }) => {
      const response = await anthropicCall(url, { 'x-api-key': key });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(200);
      expect(body.content).toEqual([{ type: 'text', text: `Hello from the fake ${label} Anthropic API.` }]);
      expect(fake().requests.at(-1)!.rejection).toBeUndefined();
    });

    it.each(endpoints)('$label streams named events', async ({ url, key }) => {
      const { events } = await readEvents(await anthropicCall(url, { 'x-api-key': key }, { ...request, stream: true }));
      expect(events[0]!.event).toBe('message_start');
      expect(events.at(-1)!.event).toBe('message_stop');
    });

    it.each(endpoints)('$label rejects a wrong key in Anthropic format', async ({ url }) => {
      const response = await anthropicCall(url, { 'x-api-key': 'sk-wrong-key' });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(401);
      expect(body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    });

    it.each(endpoints)('$label rejects the key as a Bearer token', async ({ url, key, fake }) => {
      const response = await anthropicCall(url, { 'x-api-key': key, authorization: `Bearer ${key}` });
      await response.text();
      expect(response.status).toBe(400);
      expect(fake().requests.at(-1)!.rejection).toBe('the client header authorization reached the upstream');
    });

    it('needs no anthropic-version header', async () => {
      const response = await anthropicCall(endpoints[0]!.url, { 'x-api-key': keys.DEEPSEEK });
      await response.text();
      expect(response.status).toBe(200);
      expect(deepSeek.requests.at(-1)!.headers['anthropic-version']).toBeUndefined();
    });

    it('serves no count_tokens', async () => {
      const response = await anthropicCall('https://api.deepseek.com/anthropic/v1/messages/count_tokens', { 'x-api-key': keys.DEEPSEEK }, { model: 'claude-sonnet-4-5', messages });
      await response.text();
      expect(response.status).toBe(404);
    });

    it('keeps Bearer auth on chat completions', async () => {
      const response = await chat('https://api.deepseek.com/chat/completions', keys.DEEPSEEK, { model: 'deepseek-chat', messages });
      const body = (await response.json()) as Json;
      expect(body.choices[0].message.content).toBe('Hello from the fake DeepSeek.');
    });
  });

  describe('reasoning and parallel tool calls', () => {
    it('returns reasoning_content in a DeepSeek completion', async () => {
      deepSeek.enqueue({ reply: { reasoning: 'First I think.' } });
      const body = (await (await chat('https://api.deepseek.com/chat/completions', keys.DEEPSEEK, { model: 'deepseek-reasoner', messages })).json()) as Json;
      expect(body.choices[0].message.reasoning_content).toBe('First I think.');
      expect(body.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    });

    it('streams reasoning_content before the content', async () => {
      deepSeek.enqueue({ reply: { reasoning: 'First I think.' } });
      const chunks = dataOf((await readEvents(await chat('https://api.deepseek.com/chat/completions', keys.DEEPSEEK, { model: 'deepseek-reasoner', messages, stream: true }))).events);
      const deltas = chunks.map((chunk) => chunk.choices[0]?.delta ?? {});
      const firstContent = deltas.findIndex((delta: Json) => typeof delta.content === 'string' && delta.content !== '');
      const reasoning = deltas.map((delta: Json) => delta.reasoning_content ?? '').join('');
      expect(reasoning).toBe('First I think.');
      expect(deltas.findLastIndex((delta: Json) => delta.reasoning_content !== undefined)).toBeLessThan(firstContent);
    });

    it('counts xAI reasoning beside completion_tokens', async () => {
      xai.enqueue({ reply: { reasoning: 'First I think.' } });
      const body = (await (await chat('https://api.x.ai/v1/chat/completions', keys.XAI, { model: 'grok-3-mini', messages })).json()) as Json;
      const { usage } = body;
      expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens + usage.completion_tokens_details.reasoning_tokens);
    });

    it('returns Mistral reasoning as thinking chunks', async () => {
      mistral.enqueue({ reply: { reasoning: 'First I think.' } });
      const body = (await (await chat('https://api.mistral.ai/v1/chat/completions', keys.MISTRAL, { model: 'magistral-medium-latest', messages })).json()) as Json;
      expect(body.choices[0].message.content).toEqual([
        { type: 'thinking', thinking: [{ type: 'text', text: 'First I think.' }] },
        { type: 'text', text: 'Hello from the fake Mistral.' },
      ]);
    });

    it('shows OpenAI clients no reasoning', async () => {
      openAi.enqueue({ reply: { reasoning: 'First I think.' } });
      const body = (await (await chat(openAiUrl, keys.OPENAI, { model: 'o3', messages })).json()) as Json;
      expect(body.choices[0].message).not.toHaveProperty('reasoning_content');
    });

    it('interleaves the fragments of parallel calls', async () => {
      openAi.enqueue({
        reply: { interleaveToolCalls: true, toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'get_weather', arguments: { city: 'Rome' } }] },
      });
      const chunks = dataOf((await readEvents(await chat(openAiUrl, keys.OPENAI, { model: 'gpt-4o', messages, stream: true }))).events);
      const fragments = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      const order = fragments.map((fragment: Json) => fragment.index);
      expect(order.slice(0, 4)).toEqual([0, 1, 0, 1]);
      for (const [index, city] of ['Paris', 'Rome'].entries()) {
        const json = fragments.filter((fragment: Json) => fragment.index === index).map((fragment: Json) => fragment.function.arguments).join('');
        expect(JSON.parse(json)).toEqual({ city });
      }
    });
  });

  describe('Anthropic thinking and tool checks', () => {
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    const request = { model: 'claude-sonnet-4-5', max_tokens: 2048, messages };
    const weather = { name: 'get_weather', input_schema: { type: 'object' } };

    it('returns a signed thinking block when thinking is on', async () => {
      anthropic.enqueue({ reply: { reasoning: 'Let me think.' } });
      const body = (await (await messagesRequest({ ...request, thinking })).json()) as Json;
      expect(body.content[0]).toMatchObject({ type: 'thinking', thinking: 'Let me think.' });
      expect(body.content[0].signature.length).toBeGreaterThan(20);
    });

    it('returns no thinking when thinking is off', async () => {
      anthropic.enqueue({ reply: { reasoning: 'Let me think.' } });
      const body = (await (await messagesRequest(request)).json()) as Json;
      expect(body.content.map((block: Json) => block.type)).toEqual(['text']);
    });

    it('streams thinking deltas and a signature', async () => {
      anthropic.enqueue({ reply: { reasoning: 'Let me think.' } });
      const chunks = dataOf((await readEvents(await messagesRequest({ ...request, thinking, stream: true }))).events);
      const deltas = chunks.filter((chunk) => chunk.type === 'content_block_delta' && chunk.index === 0).map((chunk) => chunk.delta);
      expect(deltas.filter((delta: Json) => delta.type === 'thinking_delta').map((delta: Json) => delta.thinking).join('')).toBe('Let me think.');
      expect(deltas.at(-1).type).toBe('signature_delta');
    });

    /** Runs a thinking turn with one tool call and returns the assistant content to send back. */
    async function thinkingToolTurn(): Promise<Json[]> {
      anthropic.enqueue({ reply: { reasoning: 'I need the weather.', toolCalls: [{ id: 'toolu_weather1', name: 'get_weather', arguments: { city: 'Paris' } }] } });
      const body = (await (await messagesRequest({ ...request, thinking, tools: [weather] })).json()) as Json;
      return body.content as Json[];
    }

    function followUp(assistant: Json[]): Json {
      return {
        ...request,
        thinking,
        tools: [weather],
        messages: [
          ...messages,
          { role: 'assistant', content: assistant },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_weather1', content: 'Sunny' }] },
        ],
      };
    }

    it('accepts its thinking block sent back unchanged', async () => {
      const response = await messagesRequest(followUp(await thinkingToolTurn()));
      await response.text();
      expect(response.status).toBe(200);
    });

    it('rejects a thinking block with changed text', async () => {
      const [block, ...rest] = await thinkingToolTurn();
      const response = await messagesRequest(followUp([{ ...block, thinking: 'I need the time.' }, ...rest]));
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error.message).toContain('Invalid `signature` in `thinking` block');
    });

    it('rejects a tool turn without its thinking block', async () => {
      const [, ...rest] = await thinkingToolTurn();
      const response = await messagesRequest(followUp(rest));
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error.message).toContain('must start with a thinking block');
    });

    it('rejects a tool_use without its tool_result', async () => {
      const history = [
        ...messages,
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} }] },
        { role: 'user', content: 'Never mind.' },
      ];
      const body = (await (await messagesRequest({ ...request, messages: history })).json()) as Json;
      expect(body.error.message).toContain('`tool_use` ids were found without `tool_result` blocks immediately after: toolu_a');
    });

    it('rejects an image of another type', async () => {
      const image = { type: 'image', source: { type: 'base64', media_type: 'image/svg+xml', data: 'PHN2Zz4=' } };
      const body = (await (await messagesRequest({ ...request, messages: [{ role: 'user', content: [image] }] })).json()) as Json;
      expect(body.error.message).toContain('messages.0.content.0.source.base64.media_type');
    });

    it('rejects a temperature above 1', async () => {
      const response = await messagesRequest({ ...request, temperature: 1.5 });
      await response.text();
      expect(response.status).toBe(400);
    });

    it('reports input tokens only at the end when told to', async () => {
      anthropic.enqueue({ reply: { inputTokensAtEnd: true } });
      const chunks = dataOf((await readEvents(await messagesRequest({ ...request, stream: true }))).events);
      expect(chunks[0]!.message.usage.input_tokens).toBe(0);
      expect(chunks.find((chunk) => chunk.type === 'message_delta')!.usage.input_tokens).toBeGreaterThan(0);
    });
  });

  describe('Anthropic messages', () => {
    const request = { model: 'claude-sonnet-4-5', max_tokens: 100, messages };

    it('returns a plain message', async () => {
      const body = (await (await messagesRequest(request)).json()) as Json;
      expect(body.type).toBe('message');
      expect(body.content).toEqual([{ type: 'text', text: 'Hello from the fake Anthropic.' }]);
      expect(body.stop_reason).toBe('end_turn');
      expect(body.usage.input_tokens).toBeGreaterThan(0);
    });

    it('streams named events in order', async () => {
      const { events } = await readEvents(await messagesRequest({ ...request, stream: true }));
      const names = events.map((event) => event.event);
      expect(names[0]).toBe('message_start');
      expect(names.slice(1, 3)).toEqual(['content_block_start', 'ping']);
      expect(names.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    });

    it('sends a type field matching each event name', async () => {
      const { events } = await readEvents(await messagesRequest({ ...request, stream: true }));
      expect(events.every((event) => (JSON.parse(event.data) as Json).type === event.event)).toBe(true);
    });

    it('sends no [DONE]', async () => {
      const { events } = await readEvents(await messagesRequest({ ...request, stream: true }));
      expect(events.some((event) => event.data === '[DONE]')).toBe(false);
    });

    it('reports input usage at the start and output usage at the end', async () => {
      const chunks = dataOf((await readEvents(await messagesRequest({ ...request, stream: true }))).events);
      expect(chunks[0]!.message.usage.input_tokens).toBeGreaterThan(0);
      const delta = chunks.find((chunk) => chunk.type === 'message_delta')!;
      expect(delta.delta.stop_reason).toBe('end_turn');
      expect(delta.usage.output_tokens).toBeGreaterThan(0);
    });

    it('streams tool_use input as JSON fragments', async () => {
      anthropic.enqueue({ reply: { text: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } });
      const chunks = dataOf((await readEvents(await messagesRequest({ ...request, stream: true }))).events);
      const start = chunks.find((chunk) => chunk.type === 'content_block_start' && chunk.content_block.type === 'tool_use')!;
      expect(start.index).toBe(1);
      expect(start.content_block).toMatchObject({ name: 'get_weather', input: {} });
      expect(start.content_block.id).toMatch(/^toolu_/);
      const json = chunks
        .filter((chunk) => chunk.type === 'content_block_delta' && chunk.delta.type === 'input_json_delta')
        .map((chunk) => chunk.delta.partial_json as string)
        .join('');
      expect(JSON.parse(json)).toEqual({ city: 'Paris' });
      expect(chunks.find((chunk) => chunk.type === 'message_delta')!.delta.stop_reason).toBe('tool_use');
    });

    it('sends an error event after two deltas', async () => {
      anthropic.enqueue({ interrupt: { afterDeltas: 2, action: 'error' } });
      const { events } = await readEvents(await messagesRequest({ ...request, stream: true }));
      expect(events.filter((event) => event.event === 'content_block_delta')).toHaveLength(2);
      expect(events.at(-1)!.event).toBe('error');
      expect(JSON.parse(events.at(-1)!.data)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    });

    it('counts tokens', async () => {
      const body = (await (await messagesRequest({ model: 'claude-sonnet-4-5', messages }, {}, '/v1/messages/count_tokens')).json()) as Json;
      expect(body.input_tokens).toBeGreaterThan(0);
    });

    it('lists models', async () => {
      const response = await fetch('https://api.anthropic.com/v1/models?limit=1', {
        headers: { 'x-api-key': keys.ANTHROPIC, 'anthropic-version': '2023-06-01' },
        dispatcher: transport.dispatcher,
      });
      const body = (await response.json()) as Json;
      expect(body.data[0]).toMatchObject({ type: 'model', id: 'claude-sonnet-4-5-20250929' });
      expect(body.has_more).toBe(false);
    });

    it('requires anthropic-version', async () => {
      const response = await fetch('https://api.anthropic.com/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': keys.ANTHROPIC },
        body: JSON.stringify(request),
        dispatcher: transport.dispatcher,
      });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error.message).toContain('anthropic-version');
    });

    it('requires max_tokens', async () => {
      const response = await messagesRequest({ model: 'claude-sonnet-4-5', messages });
      await response.text();
      expect(response.status).toBe(400);
    });

    it('rejects a system role inside messages', async () => {
      const response = await messagesRequest({ ...request, messages: [{ role: 'system', content: 'Be brief.' }, ...messages] });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(400);
      expect(body.error.message).toContain('messages.0.role');
    });

    it('rejects a wrong key with authentication_error', async () => {
      const response = await messagesRequest(request, { 'x-api-key': 'sk-ant-wrong' });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(401);
      expect(body.error.type).toBe('authentication_error');
    });

    it('rejects a leaked Authorization header', async () => {
      const response = await messagesRequest(request, { authorization: 'Bearer kr-client-key' });
      await response.text();
      expect(anthropic.requests.at(-1)!.rejection).toBe('the client header authorization reached the upstream');
    });

    it('sends a scripted spend limit error', async () => {
      anthropic.enqueue({ error: { status: 429, message: 'Spend limit reached.', code: 'enforced_spend_limit_reached' } });
      const body = (await (await messagesRequest(request)).json()) as Json;
      expect(body.error).toEqual({ type: 'rate_limit_error', message: 'Spend limit reached.', details: { error_code: 'enforced_spend_limit_reached' } });
    });
  });
});
