import Anthropic from '@anthropic-ai/sdk';
import { APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicClient,
  createTenant,
  openAiClient,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type InProcessServer,
  type ProxyTestContext,
} from './helpers.js';

// Streaming through the proxy. The upstream request is aborted when the client leaves, in every
// phase. Heartbeat comments keep a client waiting on a silent upstream. An error in the middle of
// a stream reaches the client as an error, never as a normal end.

const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];
const story = 'Once upon a time there was a gateway that streamed every token as soon as it arrived.';

let context: ProxyTestContext;
/** A server that commits the SSE headers after 100 ms of upstream silence and then sends a heartbeat every 50 ms. */
let heartbeatServer: InProcessServer;

beforeAll(async () => {
  context = await startProxyContext();
  heartbeatServer = await context.startServer({ STREAM_COMMIT_SILENCE_MS: '100', STREAM_HEARTBEAT_MS: '50' });
});

afterAll(async () => {
  await context?.close();
});

async function newGatewayKey(): Promise<CreatedGatewayKey> {
  return (await createTenant(context, ['OPENAI', 'ANTHROPIC'])).gatewayKey;
}

/** Waits for the request log row of an aborted request and returns its status. */
async function loggedStatus(gatewayKey: CreatedGatewayKey, server = context.server): Promise<number | undefined> {
  const rows = await waitForRequestLogRows(context, server, gatewayKey.id, 1);
  return rows[0]?.status;
}

/** Builds a fetch that keeps a copy of every response body's text, so a test can see what the SDK ignored. */
function recordingFetch(): { fetch: typeof fetch; bodies: string[] } {
  const bodies: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body) return response;
    const index = bodies.push('') - 1;
    const decoder = new TextDecoder();
    const copy = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bodies[index] += decoder.decode(chunk, { stream: true });
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(copy, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: recording, bodies };
}

function heartbeatsBeforeFirstEvent(body: string): number {
  const firstEvent = body.search(/^(data|event):/m);
  return (body.slice(0, firstEvent === -1 ? undefined : firstEvent).match(/^: keep-alive$/gm) ?? []).length;
}

describe('client disconnect aborts the upstream', () => {
  it('before upstream headers', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.openai;
    fake.enqueue({ headersDelayMs: 5_000 });
    const controller = new AbortController();
    const pending = openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/gpt-4o', messages, stream: true }, { signal: controller.signal })
      .catch((error: unknown) => error);
    const upstream = await fake.waitForRequest(fake.requests.length + 1);

    controller.abort();

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(await pending).toBeInstanceOf(Error);
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });

  it('before the first token', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.openai;
    // The fake sends its headers and the role chunk, then nothing.
    fake.enqueue({ interrupt: { afterDeltas: 0, action: 'silence' } });
    const controller = new AbortController();
    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create(
      { model: 'openai/gpt-4o', messages, stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const upstream = fake.requests.at(-1)!;

    controller.abort();

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });

  it('before the first token of delayed events', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.anthropic;
    // message_start goes out, then the fake waits 5 s before each further event.
    fake.enqueue({ eventIntervalMs: 5_000 });
    const stream = anthropicClient(context.server, gatewayKey.secret).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });
    const finished = stream.finalMessage().then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise<void>((resolve) => stream.once('streamEvent', () => resolve()));
    const upstream = fake.requests.at(-1)!;

    stream.abort();

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(await finished).toBeInstanceOf(Anthropic.APIUserAbortError);
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });

  it('mid-stream', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.openai;
    fake.enqueue({ reply: { text: story, deltaSize: 4 }, eventIntervalMs: 100 });
    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      // Leaving the loop makes the SDK abort its request.
      if (text.length >= 8) break;
    }
    const upstream = fake.requests.at(-1)!;

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(text).toBe(story.slice(0, 8));
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });

  it('mid-stream for Anthropic clients', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.anthropic;
    fake.enqueue({ reply: { text: story, deltaSize: 4 }, eventIntervalMs: 100 });
    const stream = anthropicClient(context.server, gatewayKey.secret).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });
    const finished = stream.finalMessage().then(
      () => undefined,
      (error: unknown) => error,
    );
    let text = '';
    await new Promise<void>((resolve) =>
      stream.on('text', (delta) => {
        text += delta;
        if (text.length === 8) resolve();
      }),
    );
    const upstream = fake.requests.at(-1)!;

    stream.abort();

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(await finished).toBeInstanceOf(Anthropic.APIUserAbortError);
    expect(text).toBe(story.slice(0, 8));
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });

  it('complete answer', async () => {
    const gatewayKey = await newGatewayKey();
    const fake = context.fakes.openai;
    fake.enqueue({ headersDelayMs: 5_000 });
    const controller = new AbortController();
    const pending = openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/gpt-4o', messages }, { signal: controller.signal })
      .catch((error: unknown) => error);
    const upstream = await fake.waitForRequest(fake.requests.length + 1);

    controller.abort();

    await expect(fake.waitForAbort(upstream)).resolves.toBeUndefined();
    expect(await pending).toBeInstanceOf(Error);
    expect(await loggedStatus(gatewayKey)).toBe(499);
  });
});

describe('heartbeats on a silent upstream', () => {
  it('openai SDK ignores them and completes', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.openai.enqueue({ headersDelayMs: 600 });
    const recorder = recordingFetch();
    const stream = await openAiClient(heartbeatServer, gatewayKey.secret, { fetch: recorder.fetch }).chat.completions.create({
      model: 'openai/gpt-4o',
      messages,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';

    expect(text).toBe('Hello from the fake OpenAI.');
    expect(heartbeatsBeforeFirstEvent(recorder.bodies[0]!)).toBeGreaterThanOrEqual(3);
  });

  it('Anthropic SDK ignores them and completes', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.anthropic.enqueue({ headersDelayMs: 600 });
    const recorder = recordingFetch();
    const final = await anthropicClient(heartbeatServer, gatewayKey.secret, { fetch: recorder.fetch })
      .messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages })
      .finalMessage();

    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    expect(final.stop_reason).toBe('end_turn');
    expect(heartbeatsBeforeFirstEvent(recorder.bodies[0]!)).toBeGreaterThanOrEqual(3);
  });

  it('heartbeats between slow events', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.openai.enqueue({ eventIntervalMs: 300 });
    const recorder = recordingFetch();
    const stream = await openAiClient(heartbeatServer, gatewayKey.secret, { fetch: recorder.fetch }).chat.completions.create({
      model: 'openai/gpt-4o',
      messages,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';

    expect(text).toBe('Hello from the fake OpenAI.');
    const body = recorder.bodies[0]!;
    const afterFirstEvent = body.slice(body.search(/^data:/m));
    expect((afterFirstEvent.match(/^: keep-alive$/gm) ?? []).length).toBeGreaterThanOrEqual(3);
  });
});

describe('error in the middle of a stream', () => {
  async function readOpenAiStream(gatewayKey: CreatedGatewayKey, server = context.server) {
    const stream = await openAiClient(server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages, stream: true });
    const chunks: ChatCompletionChunk[] = [];
    let error: unknown;
    try {
      for await (const chunk of stream) chunks.push(chunk);
    } catch (caught) {
      error = caught;
    }
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    const finishReasons = chunks.map((chunk) => chunk.choices[0]?.finish_reason).filter((reason) => reason);
    return { text, finishReasons, error };
  }

  async function readAnthropicStream(gatewayKey: CreatedGatewayKey) {
    const stream = anthropicClient(context.server, gatewayKey.secret).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const error = await stream.finalMessage().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    return { text, error };
  }

  it('provider error event fails the openai SDK', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.openai.enqueue({ reply: { text: story, deltaSize: 4 }, interrupt: { afterDeltas: 2, action: 'error' } });

    const { text, finishReasons, error } = await readOpenAiStream(gatewayKey);

    expect(text).toBe(story.slice(0, 8));
    expect(finishReasons).toEqual([]);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/server had an error/);
  });

  it('provider error event fails the Anthropic SDK', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.anthropic.enqueue({ reply: { text: story, deltaSize: 4 }, interrupt: { afterDeltas: 2, action: 'error' } });

    const { text, error } = await readAnthropicStream(gatewayKey);

    expect(text).toBe(story.slice(0, 8));
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('overloaded_error');
  });

  it('lost upstream connection fails the openai SDK', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.openai.enqueue({ reply: { text: story, deltaSize: 4 }, eventIntervalMs: 20, interrupt: { afterDeltas: 2, action: 'destroy' } });

    const { text, finishReasons, error } = await readOpenAiStream(gatewayKey);

    expect(text).toBe(story.slice(0, 8));
    expect(finishReasons).toEqual([]);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).code).toBe('upstream_unreachable');
    expect(await loggedStatus(gatewayKey)).toBe(502);
  });

  it('lost upstream connection fails the Anthropic SDK', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.anthropic.enqueue({ reply: { text: story, deltaSize: 4 }, eventIntervalMs: 20, interrupt: { afterDeltas: 2, action: 'destroy' } });

    const { text, error } = await readAnthropicStream(gatewayKey);

    expect(text).toBe(story.slice(0, 8));
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe('api_error');
  });

  it('upstream error after an early commit is an error event', async () => {
    const gatewayKey = await newGatewayKey();
    context.fakes.openai.enqueue({ headersDelayMs: 400, error: { status: 429, message: 'Rate limit reached for requests.' } });

    const { text, error } = await readOpenAiStream(gatewayKey, heartbeatServer);

    expect(text).toBe('');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/Rate limit reached/);
    expect(await loggedStatus(gatewayKey, heartbeatServer)).toBe(429);
  });

  it('oversized upstream event ends the stream with an error', async () => {
    const gatewayKey = await newGatewayKey();
    // One delta of 17 MiB is longer than the SSE parser's 16 MiB limit for one event.
    const huge = 'x'.repeat(17 * 1024 * 1024);
    context.fakes.openai.enqueue({ reply: { text: huge, deltaSize: huge.length } });

    const { text, finishReasons, error } = await readOpenAiStream(gatewayKey);

    expect(text).toBe('');
    expect(finishReasons).toEqual([]);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/longer than the limit/);
    expect(await loggedStatus(gatewayKey)).toBe(502);
  }, 20_000);
});

describe('stream framing', () => {
  it('last event without a blank line arrives', async () => {
    const gatewayKey = await newGatewayKey();
    const chunk = (content: string, finishReason: string | null) =>
      JSON.stringify({
        id: 'chatcmpl-framing',
        object: 'chat.completion.chunk',
        created: 1_700_000_000,
        model: 'gpt-4o',
        choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finishReason }],
      });
    // A scripted body with status 200: the stream closes right after its last data line.
    context.fakes.openai.enqueue({
      error: {
        status: 200,
        body: `data: ${chunk('Hello', null)}\n\ndata: ${chunk(' world', 'stop')}`,
        headers: { 'content-type': 'text/event-stream' },
      },
    });

    const stream = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages, stream: true });
    const chunks: ChatCompletionChunk[] = [];
    for await (const received of stream) chunks.push(received);

    expect(chunks.map((received) => received.choices[0]?.delta.content).join('')).toBe('Hello world');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});
