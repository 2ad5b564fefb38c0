import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-upstreams/bedrock.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { fakeRegions, transportFetch, transportRequestHandler, usEastRow } from './helpers.js';

/**
 * The official SDKs against the fake Bedrock, unchanged, so that the fake cannot drift from the
 * protocol the SDKs speak: their signatures must verify, and their parsers must read the fake's
 * JSON, errors and event streams. Every client gets explicit static credentials and the real
 * endpoint, and its connections go through a transport that reaches only the fake.
 */

const haiku = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const nova = 'amazon.nova-pro-v1:0';

describe('official SDKs against the fake Bedrock', () => {
  let fake: FakeBedrock;
  let transport: UpstreamTransport;

  beforeAll(async () => {
    fake = await startFakeBedrock({ credentials: [usEastRow], regions: fakeRegions });
    transport = createTestTransport(fake.overrides);
  });

  afterAll(async () => {
    await transport.destroy();
    await fake.close();
  });

  function awsClient(secretAccessKey = usEastRow.secretAccessKey): BedrockRuntimeClient {
    return new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      credentials: { accessKeyId: usEastRow.accessKeyId, secretAccessKey },
      requestHandler: transportRequestHandler(transport),
      maxAttempts: 1,
    });
  }

  function anthropicClient(secretAccessKey = usEastRow.secretAccessKey): AnthropicBedrock {
    return new AnthropicBedrock({
      apiKey: null,
      awsAccessKey: usEastRow.accessKeyId,
      awsSecretKey: secretAccessKey,
      awsRegion: 'us-east-1',
      baseURL: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      fetch: transportFetch(transport),
      maxRetries: 0,
    });
  }

  const userMessage = [{ role: 'user' as const, content: [{ text: 'Hello' }] }];

  it('Converse returns the text, stop reason and usage', async () => {
    fake.enqueue({ reply: { text: 'Hi there.' } });
    const output = await awsClient().send(new ConverseCommand({ modelId: nova, messages: userMessage }));

    expect(output.output?.message?.content?.[0]?.text).toBe('Hi there.');
    expect(output.stopReason).toBe('end_turn');
    expect(output.usage?.outputTokens).toBeGreaterThan(0);
    expect(fake.requests.at(-1)?.modelId).toBe(nova);
  });

  it('Converse returns tool calls', async () => {
    fake.enqueue({ reply: { toolCalls: [{ id: 'tooluse_1', name: 'get_weather', arguments: { city: 'Paris' } }] } });
    const toolConfig = { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }] };
    const output = await awsClient().send(new ConverseCommand({ modelId: nova, messages: userMessage, toolConfig }));

    expect(output.stopReason).toBe('tool_use');
    expect(output.output?.message?.content?.[0]?.toolUse).toEqual({ toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } });
  });

  it('ConverseStream yields deltas, stop and metadata', async () => {
    fake.enqueue({ reply: { text: 'one two three', reasoning: { text: 'think', signature: 'sig-1' } }, writeChunkBytes: 7 });
    const output = await awsClient().send(new ConverseStreamCommand({ modelId: nova, messages: userMessage }));
    const events: ConverseStreamOutput[] = [];
    for await (const event of output.stream!) events.push(event);

    const text = events.map((event) => event.contentBlockDelta?.delta?.text ?? '').join('');
    expect(text).toBe('one two three');
    expect(events.some((event) => event.contentBlockDelta?.delta?.reasoningContent?.signature === 'sig-1')).toBe(true);
    expect(events.at(-2)?.messageStop?.stopReason).toBe('end_turn');
    expect(events.at(-1)?.metadata?.usage?.outputTokens).toBeGreaterThan(0);
  });

  it('ConverseStream surfaces an exception frame', async () => {
    fake.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'throttlingException', message: 'Too many tokens' } });
    const output = await awsClient().send(new ConverseStreamCommand({ modelId: nova, messages: userMessage }));
    const texts: string[] = [];
    const consume = async () => {
      for await (const event of output.stream!) if (event.contentBlockDelta?.delta?.text) texts.push(event.contentBlockDelta.delta.text);
    };

    await expect(consume()).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Too many tokens' });
    expect(texts).toEqual(['one ', 'two ']);
  });

  it('InvokeModel returns the Anthropic message', async () => {
    fake.enqueue({ reply: { text: 'Hello back.' } });
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] });
    const output = await awsClient().send(new InvokeModelCommand({ modelId: haiku, body, contentType: 'application/json' }));
    const message = JSON.parse(new TextDecoder().decode(output.body));

    expect(message.content).toEqual([{ type: 'text', text: 'Hello back.' }]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('InvokeModelWithResponseStream yields base64 chunks of Anthropic events', async () => {
    fake.enqueue({ reply: { text: 'a b c' } });
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }] });
    const output = await awsClient().send(new InvokeModelWithResponseStreamCommand({ modelId: haiku, body, contentType: 'application/json' }));
    const types: string[] = [];
    let text = '';
    for await (const event of output.body!) {
      const data = JSON.parse(new TextDecoder().decode(event.chunk!.bytes));
      types.push(data.type);
      if (data.delta?.type === 'text_delta') text += data.delta.text;
    }

    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(text).toBe('a b c');
  });

  it('InvokeModel accepts an inference profile ARN', async () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] });
    await awsClient().send(new InvokeModelCommand({ modelId: arn, body, contentType: 'application/json' }));

    expect(fake.requests.at(-1)?.modelId).toBe(arn);
    expect(fake.requests.at(-1)?.rejection).toBeUndefined();
  });

  it('AWS SDK with a wrong secret is rejected', async () => {
    const command = new ConverseCommand({ modelId: nova, messages: userMessage });

    await expect(awsClient('kr/test/NotTheSecret/000000000000000000000').send(command)).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
    expect(fake.requests.at(-1)?.rejection).toMatch(/InvalidSignatureException/);
  });

  it('AWS SDK parses an HTTP error by its x-amzn-errortype', async () => {
    fake.enqueue({ error: { status: 429, exception: 'ThrottlingException', message: 'Rate exceeded' } });

    await expect(awsClient().send(new ConverseCommand({ modelId: nova, messages: userMessage }))).rejects.toMatchObject({
      name: 'ThrottlingException',
      message: 'Rate exceeded',
    });
  });

  it('Anthropic Bedrock SDK creates a message', async () => {
    fake.enqueue({ reply: { text: 'From Claude.' } });
    const message = await anthropicClient().messages.create({ model: haiku, max_tokens: 50, messages: [{ role: 'user', content: 'Hello' }] });

    expect(message.content).toEqual([{ type: 'text', text: 'From Claude.' }]);
    expect(fake.requests.at(-1)?.operation).toBe('invoke');
  });

  it('Anthropic Bedrock SDK streams a message', async () => {
    fake.enqueue({ reply: { text: 'streamed from Claude', toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }] }, writeChunkBytes: 5 });
    const stream = anthropicClient().messages.stream({ model: haiku, max_tokens: 50, messages: [{ role: 'user', content: 'Hello' }] });
    const message = await stream.finalMessage();

    expect(message.content[0]).toEqual({ type: 'text', text: 'streamed from Claude' });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { q: 'x' } });
    expect(message.stop_reason).toBe('tool_use');
    expect(fake.requests.at(-1)?.operation).toBe('invoke-with-response-stream');
  });

  it('Anthropic Bedrock SDK with a wrong secret is rejected', async () => {
    const request = anthropicClient('kr/test/NotTheSecret/000000000000000000000').messages.create({
      model: haiku,
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Hello' }],
    });

    await expect(request).rejects.toMatchObject({ status: 403 });
    expect(fake.requests.at(-1)?.rejection).toMatch(/InvalidSignatureException/);
  });
});
