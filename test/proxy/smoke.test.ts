import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../support/fake-upstreams/anthropic.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { upstreamOverridesVariable } from '../support/fake-upstreams/test-transport.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('proxy smoke', () => {
  let server: TestServer;
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gatewaySecret: string;
  const openaiKey = 'sk-proj-' + 'o'.repeat(40);
  const anthropicKey = 'sk-ant-api03-' + 'a'.repeat(40);

  beforeAll(async () => {
    openai = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: openaiKey });
    anthropic = await startFakeAnthropic({ expectedKey: anthropicKey });
    server = await startTestServer({ UPSTREAM_OVERRIDES: upstreamOverridesVariable(openai, anthropic) });
    const tenant = await server.createTenant();
    const context = { organizationId: tenant.organizationId, actor: { tokenId: null, label: 'test' } };
    const { secret } = await server.app.services.gatewayKeys.create(context, { name: 'app' });
    gatewaySecret = secret;
    await server.app.services.providerKeys.create(context, { provider: 'OPENAI', name: 'oa', credentials: { apiKey: openaiKey }, assignment: { organization: true } });
    await server.app.services.providerKeys.create(context, { provider: 'ANTHROPIC', name: 'an', credentials: { apiKey: anthropicKey }, assignment: { organization: true } });
  });
  afterAll(async () => {
    await server?.close();
    await openai?.close();
    await anthropic?.close();
  });

  it('openai sdk chat and stream', async () => {
    const client = new OpenAI({ apiKey: gatewaySecret, baseURL: `${server.baseUrl}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    console.log(JSON.stringify(completion));
    expect(completion.choices[0]?.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    console.log(text, usage);
    expect(text.length).toBeGreaterThan(0);
    const models = await client.models.list();
    console.log(models.data.length);
  });

  it('anthropic sdk messages and stream', async () => {
    const client = new Anthropic({ apiKey: gatewaySecret, baseURL: server.baseUrl, maxRetries: 0 });
    const message = await client.messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] });
    console.log(JSON.stringify(message));
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] });
    const final = await stream.finalMessage();
    console.log(JSON.stringify(final));
    const count = await client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello' }] });
    console.log(count);
    await server.app.requestLog.flush();
    const rows = await server.testDatabase.db.selectFrom('request_logs').selectAll().execute();
    console.log(rows.map((r) => [r.status, r.model, r.input_uncached_tokens, r.output_tokens, r.cost_micro_usd]));
    expect(final.content.length).toBeGreaterThan(0);
  });
});
