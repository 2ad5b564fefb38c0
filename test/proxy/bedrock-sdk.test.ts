import type Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { APIError as OpenAiApiError, type default as OpenAI } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../support/fake-upstreams/fake-server.js';
import type { RecordedBedrockRequest } from '../support/fake-upstreams/bedrock.js';
import { anthropicClient, clientAuthHeaders, openAiClient, rejectionOf } from './helpers.js';
import {
  bodyOf,
  claudeModelId,
  claudeProfileId,
  createBedrockTenant,
  credentialScopeOf,
  lastBedrockRequest,
  llamaModelId,
  newBedrockRow,
  novaModelId,
  startBedrockProxyContext,
  type BedrockProxyContext,
  type BedrockTenant,
} from './bedrock-helpers.js';

// The official @anthropic-ai/sdk and openai clients against Claude, Llama and Nova on Bedrock
// through the proxy. The fake Bedrock verifies every request's SigV4 signature with the secret of
// the key id it names, for the region of the Host it was sent to. It rejects a request signed
// with any other secret, region or host, so a request it served was signed with the row's
// credentials for that region.

const anthropicTools: Tool[] = [
  {
    name: 'get_weather',
    description: 'Current weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
  },
];
const weatherParameters = { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] };
const openAiTools: ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Current weather of a city', parameters: weatherParameters } },
];
const weatherArguments = { city: 'Paris', unit: 'celsius' };
const weatherCall = { name: 'get_weather', arguments: weatherArguments };
const anthropicMessages: MessageParam[] = [{ role: 'user', content: 'What is the weather like in Paris?' }];
const openAiMessages: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'What is the weather like in Paris?' },
];
const system = 'You answer briefly.';
const fakeGreeting = 'Hello from the fake Bedrock.';

let context: BedrockProxyContext;
let tenant: BedrockTenant;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(async () => {
  context = await startBedrockProxyContext();
  tenant = await createBedrockTenant(context, {
    rows: [newBedrockRow('us-east-1'), newBedrockRow('eu-central-1'), newBedrockRow('global')],
    defaultRegion: 'us-east-1',
  });
  // Every header form of the gateway key, so each test also shows that none goes upstream.
  const gatewayKeyHeaders = { 'x-keyroute-api-key': tenant.gatewayKey.secret, 'x-edgee-api-key': tenant.gatewayKey.secret, 'x-api-key': tenant.gatewayKey.secret };
  anthropic = anthropicClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: gatewayKeyHeaders });
  openai = openAiClient(context.server, tenant.gatewayKey.secret, { defaultHeaders: gatewayKeyHeaders });
});

afterAll(async () => {
  await context?.close();
});

function rowOf(region: string) {
  const row = tenant.rows.find((candidate) => candidate.region === region);
  if (!row) throw new Error(`the tenant has no row for ${region}`);
  return row;
}

/** Checks that the fake accepted the request's signature, by the row of `rowRegion`, for `region`. */
function expectSignedFor(request: RecordedBedrockRequest, region: string, rowRegion = region): void {
  expect(request.rejection).toBeUndefined();
  expect(request.host).toBe(`bedrock-runtime.${region}.amazonaws.com`);
  expect(request.accessKeyId).toBe(rowOf(rowRegion).accessKeyId);
  expect(credentialScopeOf(request)).toEqual({ accessKeyId: rowOf(rowRegion).accessKeyId, region, service: 'bedrock' });
  expect(request.headers['x-api-key']).toBeUndefined();
  for (const header of clientAuthHeaders) expect(request.headers[header]).toBeUndefined();
}

/** Returns the input tokens the fake counts for an Invoke body. */
function invokeInputTokens(request: RecordedBedrockRequest): number {
  const body = bodyOf(request);
  return countTokens([body.system, body.messages, body.tools]);
}

/** Returns the input tokens the fake counts for a Converse body. */
function converseInputTokens(request: RecordedBedrockRequest): number {
  const body = bodyOf(request);
  return countTokens([body.system, body.messages, body.toolConfig]);
}

/** The output tokens the fake counts for the weather tool call: its empty text and the arguments' JSON. */
const weatherOutputTokens = countTokens('') + countTokens(JSON.stringify(weatherArguments));

describe('Claude on Bedrock through the @anthropic-ai/sdk', () => {
  it('message by model id', async () => {
    const message = await anthropic.messages.create({ model: `bedrock/${claudeModelId}`, max_tokens: 100, system, messages: anthropicMessages });

    const request = lastBedrockRequest(context);
    expect(message.content).toEqual([{ type: 'text', text: fakeGreeting }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBe(invokeInputTokens(request));
    expect(message.usage.output_tokens).toBe(countTokens(fakeGreeting));
    expect(request.operation).toBe('invoke');
    expect(request.modelId).toBe(claudeModelId);
    expect(request.rawTarget).toBe(`/model/${claudeModelId.replace(':', '%3A')}/invoke`);
    expectSignedFor(request, 'us-east-1');
  });

  it('invoke body rewritten for Bedrock', async () => {
    await anthropic.messages.create({ model: `bedrock/${claudeModelId}`, max_tokens: 100, system, messages: anthropicMessages });

    const request = lastBedrockRequest(context);
    const body = bodyOf(request);
    expect(body.anthropic_version).toBe('bedrock-2023-05-31');
    expect(body).not.toHaveProperty('model');
    expect(body).not.toHaveProperty('stream');
    expect(body.max_tokens).toBe(100);
    expect(body.system).toBe(system);
    expect(body.messages).toEqual(anthropicMessages);
    expect(request.headers['anthropic-version']).toBeUndefined();
  });

  it('beta header moved into the body', async () => {
    await anthropic.beta.messages.create({
      model: `bedrock/${claudeModelId}`,
      max_tokens: 100,
      messages: anthropicMessages,
      betas: ['token-efficient-tools-2025-02-19', 'context-1m-2025-08-07'],
    });

    const request = lastBedrockRequest(context);
    expect(bodyOf(request).anthropic_beta).toEqual(['token-efficient-tools-2025-02-19', 'context-1m-2025-08-07']);
    expect(request.headers['anthropic-beta']).toBeUndefined();
    expectSignedFor(request, 'us-east-1');
  });

  it('streamed tool use by profile id', async () => {
    context.bedrock.enqueue({ reply: { toolCalls: [weatherCall] } });
    const stream = anthropic.messages.stream({ model: `bedrock/${claudeProfileId}`, max_tokens: 100, system, messages: anthropicMessages, tools: anthropicTools });
    let jsonDeltas = 0;
    stream.on('inputJson', () => {
      jsonDeltas += 1;
    });
    const final = await stream.finalMessage();

    const request = lastBedrockRequest(context);
    const block = final.content[0] as ToolUseBlock | undefined;
    expect(final.stop_reason).toBe('tool_use');
    expect(block?.type).toBe('tool_use');
    expect(block?.name).toBe('get_weather');
    expect(block?.input).toEqual(weatherArguments);
    expect(jsonDeltas).toBeGreaterThan(1);
    expect(final.usage.input_tokens).toBe(invokeInputTokens(request));
    expect(final.usage.output_tokens).toBe(weatherOutputTokens);
    expect(request.operation).toBe('invoke-with-response-stream');
    expect(request.modelId).toBe(claudeProfileId);
    expect(bodyOf(request).tools).toEqual(anthropicTools);
    expect(bodyOf(request)).not.toHaveProperty('stream');
    expect(bodyOf(request)).not.toHaveProperty('model');
    expectSignedFor(request, 'us-east-1');
  });

  it('streamed text by profile id', async () => {
    const stream = anthropic.messages.stream({ model: `bedrock/${claudeProfileId}`, max_tokens: 100, messages: anthropicMessages });
    let deltas = 0;
    stream.on('text', () => {
      deltas += 1;
    });
    const final = await stream.finalMessage();

    expect(final.content).toEqual([expect.objectContaining({ type: 'text', text: fakeGreeting })]);
    expect(final.stop_reason).toBe('end_turn');
    expect(deltas).toBe(fakeGreeting.split(' ').length);
    expect(final.usage.output_tokens).toBe(countTokens(fakeGreeting));
  });
});

describe('Converse models through the @anthropic-ai/sdk', () => {
  it('message from Llama', async () => {
    const message = await anthropic.messages.create({ model: `bedrock/${llamaModelId}`, max_tokens: 100, system, messages: anthropicMessages });

    const request = lastBedrockRequest(context);
    expect(message.content).toEqual([{ type: 'text', text: fakeGreeting }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.model).toBe(`bedrock/${llamaModelId}`);
    expect(message.usage.input_tokens).toBe(converseInputTokens(request));
    expect(message.usage.output_tokens).toBe(countTokens(fakeGreeting));
    expect(request.operation).toBe('converse');
    expect(bodyOf(request).system).toEqual([{ text: system }]);
    expect(bodyOf(request).messages).toEqual([{ role: 'user', content: [{ text: 'What is the weather like in Paris?' }] }]);
    expect(bodyOf(request).inferenceConfig).toEqual({ maxTokens: 100 });
    expectSignedFor(request, 'us-east-1');
  });

  it('streamed tool use from Nova', async () => {
    context.bedrock.enqueue({ reply: { toolCalls: [weatherCall] } });
    const stream = anthropic.messages.stream({ model: `bedrock/${novaModelId}`, max_tokens: 100, messages: anthropicMessages, tools: anthropicTools });
    let jsonDeltas = 0;
    stream.on('inputJson', () => {
      jsonDeltas += 1;
    });
    const final = await stream.finalMessage();

    const request = lastBedrockRequest(context);
    const block = final.content[0] as ToolUseBlock | undefined;
    expect(final.stop_reason).toBe('tool_use');
    expect(block?.type).toBe('tool_use');
    expect(block?.name).toBe('get_weather');
    expect(block?.input).toEqual(weatherArguments);
    expect(jsonDeltas).toBeGreaterThan(1);
    expect(final.usage.input_tokens).toBe(converseInputTokens(request));
    expect(final.usage.output_tokens).toBe(weatherOutputTokens);
    expect(request.operation).toBe('converse-stream');
    expect(bodyOf(request).toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: anthropicTools[0]!.input_schema } } }] });
    expectSignedFor(request, 'us-east-1');
  });
});

describe('Bedrock through the openai SDK', () => {
  it('Claude completion translated to Invoke', async () => {
    const completion = await openai.chat.completions.create({ model: `bedrock/${claudeModelId}`, messages: openAiMessages, max_tokens: 80 });

    const request = lastBedrockRequest(context);
    const body = bodyOf(request);
    expect(completion.choices[0]?.message.content).toBe(fakeGreeting);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.model).toBe(`bedrock/${claudeModelId}`);
    expect(completion.usage?.prompt_tokens).toBe(invokeInputTokens(request));
    expect(completion.usage?.completion_tokens).toBe(countTokens(fakeGreeting));
    expect(request.operation).toBe('invoke');
    expect(body.anthropic_version).toBe('bedrock-2023-05-31');
    expect(body).not.toHaveProperty('model');
    expect(body.max_tokens).toBe(80);
    expect(body.system).toEqual([{ type: 'text', text: 'You answer briefly.' }]);
    expectSignedFor(request, 'us-east-1');
  });

  it('Claude completion without max_tokens', async () => {
    await openai.chat.completions.create({ model: `bedrock/${claudeModelId}`, messages: openAiMessages });

    // Invoke requires max_tokens, so the catalog entry's maximum output fills it in.
    expect(bodyOf(lastBedrockRequest(context)).max_tokens).toBe(64_000);
  });

  it('Claude streamed tool call by profile id', async () => {
    context.bedrock.enqueue({ reply: { toolCalls: [weatherCall] } });
    const stream = openai.chat.completions.stream({
      model: `bedrock/${claudeProfileId}`,
      messages: openAiMessages,
      tools: openAiTools,
      stream_options: { include_usage: true },
    });
    let argumentDeltas = 0;
    stream.on('tool_calls.function.arguments.delta', () => {
      argumentDeltas += 1;
    });
    const final = await stream.finalChatCompletion();

    const request = lastBedrockRequest(context);
    const call = final.choices[0]?.message.tool_calls?.[0];
    const called = call?.type === 'function' ? call.function : undefined;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    expect(called?.name).toBe('get_weather');
    expect(JSON.parse(called?.arguments ?? 'null')).toEqual(weatherArguments);
    expect(argumentDeltas).toBeGreaterThan(1);
    expect(final.usage?.prompt_tokens).toBe(invokeInputTokens(request));
    expect(final.usage?.completion_tokens).toBe(weatherOutputTokens);
    expect(request.operation).toBe('invoke-with-response-stream');
    expect(request.modelId).toBe(claudeProfileId);
    expect(bodyOf(request)).not.toHaveProperty('stream');
    expect(bodyOf(request).tools).toEqual([expect.objectContaining({ name: 'get_weather', input_schema: weatherParameters })]);
    expectSignedFor(request, 'us-east-1');
  });

  it('Llama completion through Converse', async () => {
    const completion = await openai.chat.completions.create({ model: `bedrock/${llamaModelId}`, messages: openAiMessages });

    const request = lastBedrockRequest(context);
    expect(completion.choices[0]?.message.content).toBe(fakeGreeting);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.model).toBe(`bedrock/${llamaModelId}`);
    expect(completion.usage?.prompt_tokens).toBe(converseInputTokens(request));
    expect(completion.usage?.completion_tokens).toBe(countTokens(fakeGreeting));
    expect(request.operation).toBe('converse');
    expect(request.modelId).toBe(llamaModelId);
    expect(bodyOf(request).system).toEqual([{ text: 'You answer briefly.' }]);
    expectSignedFor(request, 'us-east-1');
  });

  it('Llama streamed text through Converse', async () => {
    const stream = openai.chat.completions.stream({ model: `bedrock/${llamaModelId}`, messages: openAiMessages, stream_options: { include_usage: true } });
    let deltas = 0;
    stream.on('content.delta', () => {
      deltas += 1;
    });
    const final = await stream.finalChatCompletion();

    const request = lastBedrockRequest(context);
    expect(final.choices[0]?.message.content).toBe(fakeGreeting);
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(deltas).toBe(fakeGreeting.split(' ').length);
    expect(final.usage?.prompt_tokens).toBe(converseInputTokens(request));
    expect(final.usage?.completion_tokens).toBe(countTokens(fakeGreeting));
    expect(request.operation).toBe('converse-stream');
  });

  it('Nova streamed tool call through Converse', async () => {
    context.bedrock.enqueue({ reply: { toolCalls: [weatherCall] } });
    const stream = openai.chat.completions.stream({
      model: `bedrock/${novaModelId}`,
      messages: openAiMessages,
      tools: openAiTools,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();

    const request = lastBedrockRequest(context);
    const call = final.choices[0]?.message.tool_calls?.[0];
    const called = call?.type === 'function' ? call.function : undefined;
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(called?.name).toBe('get_weather');
    expect(JSON.parse(called?.arguments ?? 'null')).toEqual(weatherArguments);
    expect(final.usage?.prompt_tokens).toBe(converseInputTokens(request));
    expect(final.usage?.completion_tokens).toBe(weatherOutputTokens);
    expect(request.operation).toBe('converse-stream');
    expect(bodyOf(request).toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'get_weather' } }] });
    expectSignedFor(request, 'us-east-1');
  });

  it('tool result sent back through Converse', async () => {
    const completion = await openai.chat.completions.create({
      model: `bedrock/${novaModelId}`,
      tools: openAiTools,
      messages: [
        ...openAiMessages,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(weatherArguments) } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 degrees and sunny' },
      ],
    });

    const messages = bodyOf(lastBedrockRequest(context)).messages as { role: string; content: Record<string, unknown>[] }[];
    expect(completion.choices[0]?.message.content).toBe(fakeGreeting);
    expect(messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[1]!.content[0]).toMatchObject({ toolUse: { name: 'get_weather', input: weatherArguments } });
    expect(messages[2]!.content[0]).toMatchObject({ toolResult: { content: [{ text: '18 degrees and sunny' }] } });
  });
});

describe('SigV4 signing through the route', () => {
  it('model id colon double-encoded', async () => {
    await anthropic.messages.create({ model: `bedrock/${claudeModelId}`, max_tokens: 10, messages: anthropicMessages });

    const request = lastBedrockRequest(context);
    expect(request.rejection).toBeUndefined();
    expect(request.rawTarget).toContain('v1%3A0');
    expect(request.canonicalRequest?.split('\n')[1]).toBe(`/model/${claudeModelId.replace(':', '%253A')}/invoke`);
  });

  it('inference profile ARN signed in its region', async () => {
    const arn = `arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.${claudeModelId}`;
    const message = await anthropic.messages.create({ model: `bedrock/${arn}`, max_tokens: 10, messages: anthropicMessages });

    const request = lastBedrockRequest(context);
    expect(message.content[0]).toMatchObject({ type: 'text', text: fakeGreeting });
    expect(request.modelId).toBe(arn);
    expect(request.rawTarget).toBe(`/model/${encodeURIComponent(arn)}/invoke`);
    expect(request.canonicalRequest?.split('\n')[1]).toBe(`/model/${encodeURIComponent(encodeURIComponent(arn))}/invoke`);
    expectSignedFor(request, 'eu-central-1');
  });

  it("server's AWS environment ignored", async () => {
    const names = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    const environmentRow = newBedrockRow('ap-northeast-1');
    // The fake accepts these credentials too, so a request signed with them would succeed and show here.
    context.acceptedCredentials.push(environmentRow);
    Object.assign(process.env, {
      AWS_REGION: 'ap-northeast-1',
      AWS_DEFAULT_REGION: 'ap-northeast-1',
      AWS_ACCESS_KEY_ID: environmentRow.accessKeyId,
      AWS_SECRET_ACCESS_KEY: environmentRow.secretAccessKey,
      AWS_SESSION_TOKEN: 'environment-session-token',
      AWS_PROFILE: 'keyroute-test-profile-that-does-not-exist',
    });
    try {
      await openai.chat.completions.create({ model: `bedrock/${llamaModelId}`, messages: openAiMessages });
      await anthropic.messages.create({ model: `bedrock/${claudeModelId}`, max_tokens: 10, messages: anthropicMessages });
    } finally {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }

    const [converse, invoke] = context.bedrock.requests.slice(-2) as [RecordedBedrockRequest, RecordedBedrockRequest];
    expectSignedFor(converse, 'us-east-1');
    expectSignedFor(invoke, 'us-east-1');
    expect(converse.headers['x-amz-security-token']).toBeUndefined();
    expect(invoke.headers['x-amz-security-token']).toBeUndefined();
  });
});

describe('Bedrock content through the route', () => {
  it('Invoke frames split across writes', async () => {
    context.bedrock.enqueue({ reply: { text: 'Frames cut into small writes', deltaSize: 3 }, writeChunkBytes: 7 });

    const final = await anthropic.messages.stream({ model: `bedrock/${claudeModelId}`, max_tokens: 50, messages: anthropicMessages }).finalMessage();

    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Frames cut into small writes' });
    expect(final.stop_reason).toBe('end_turn');
  });

  it('Converse frames split across writes', async () => {
    context.bedrock.enqueue({ reply: { text: 'Frames cut into small writes', deltaSize: 3 }, writeChunkBytes: 5 });

    const final = await openai.chat.completions.stream({ model: `bedrock/${llamaModelId}`, messages: openAiMessages }).finalChatCompletion();

    expect(final.choices[0]?.message.content).toBe('Frames cut into small writes');
    expect(final.choices[0]?.finish_reason).toBe('stop');
  });

  it('tags never reach Bedrock', async () => {
    await anthropic.messages.create({ model: `bedrock/${claudeModelId}`, max_tokens: 10, messages: anthropicMessages, tags: ['team-a'] } as never);
    const invoke = bodyOf(lastBedrockRequest(context));
    await openai.chat.completions.create({ model: `bedrock/${llamaModelId}`, messages: openAiMessages, tags: ['team-a'] } as never);
    const converse = bodyOf(lastBedrockRequest(context));

    expect(invoke).not.toHaveProperty('tags');
    expect(converse).not.toHaveProperty('tags');
  });

  it('Converse reasoning as a thinking block', async () => {
    context.bedrock.enqueue({ reply: { text: 'It is sunny.', reasoning: { text: 'Look up the weather.', signature: 'sig-abc' } } });

    const final = await anthropic.messages
      .stream({ model: `bedrock/${claudeModelId}`, max_tokens: 2_000, thinking: { type: 'enabled', budget_tokens: 1_024 }, messages: anthropicMessages }, { headers: { 'x-keyroute-bedrock-api': 'converse' } })
      .finalMessage();

    const request = lastBedrockRequest(context);
    expect(final.content).toEqual([
      expect.objectContaining({ type: 'thinking', thinking: 'Look up the weather.', signature: 'sig-abc' }),
      expect.objectContaining({ type: 'text', text: 'It is sunny.' }),
    ]);
    expect(request.operation).toBe('converse-stream');
    expect(bodyOf(request).additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 1_024 } });
  });

  it('Claude reasoning for OpenAI clients', async () => {
    context.bedrock.enqueue({ reply: { text: 'It is sunny.', reasoning: { text: 'Look up the weather.', signature: 'sig-abc' } } });

    const completion = await openai.chat.completions.create({ model: `bedrock/${claudeModelId}`, messages: openAiMessages, reasoning_effort: 'low' });

    const message = completion.choices[0]?.message as { content: string | null; reasoning_content?: string };
    expect(message.content).toBe('It is sunny.');
    expect(message.reasoning_content).toBe('Look up the weather.');
    expect(bodyOf(lastBedrockRequest(context)).thinking).toMatchObject({ type: 'enabled' });
  });

  it('image bytes sent to Converse', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');

    await openai.chat.completions.create({
      model: `bedrock/${novaModelId}`,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    });

    const content = (bodyOf(lastBedrockRequest(context)).messages as { content: unknown[] }[])[0]!.content;
    expect(content).toEqual([{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: png } } }]);
  });

  it('image URL rejected for Converse', async () => {
    const before = context.bedrock.requests.length;

    const error = await rejectionOf<OpenAiApiError>(
      openai.chat.completions.create({
        model: `bedrock/${novaModelId}`,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
      }),
    );

    expect(error.status).toBe(400);
    expect(error.message).toContain('messages[0].content[0]');
    expect(context.bedrock.requests.length).toBe(before);
  });

  it('tool choice required for Converse', async () => {
    context.bedrock.enqueue({ reply: { toolCalls: [weatherCall] } });

    await openai.chat.completions.create({ model: `bedrock/${novaModelId}`, messages: openAiMessages, tools: openAiTools, tool_choice: 'required' });

    expect(bodyOf(lastBedrockRequest(context)).toolConfig).toMatchObject({ toolChoice: { any: {} } });
  });
});
