import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/proxy/translation/ir.js';
import { AnthropicStreamParser } from '../../src/proxy/translation/anthropic-messages/stream.js';
import { renderConverseRequest } from '../../src/proxy/translation/bedrock-converse/request.js';
import { parseConverseResponse } from '../../src/proxy/translation/bedrock-converse/response.js';
import { ConverseStreamParser } from '../../src/proxy/translation/bedrock-converse/stream.js';
import { bedrockRuntimeUrl } from '../../src/proxy/upstream/bedrock/bedrock-endpoints.js';
import { mapBedrockHttpError, mapBedrockStreamException } from '../../src/proxy/upstream/bedrock/bedrock-errors.js';
import { BedrockEventStreamDecoder, invokeChunkToSseEvent, type DecodedBedrockEvent } from '../../src/proxy/upstream/bedrock/bedrock-event-stream.js';
import { prepareBedrockInvokeRequest } from '../../src/proxy/upstream/bedrock/bedrock-invoke.js';
import { BedrockSigner } from '../../src/proxy/upstream/bedrock/bedrock-signer.js';
import { readUpstreamText, type UpstreamResponse, type UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-upstreams/bedrock.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { euRow, fakeRegions, usEastRow } from './helpers.js';

/**
 * The building blocks put together as the route will use them, against the fake over HTTP. Each
 * test prepares or renders the body, signs it and sends it through the transport. It then decodes
 * the event stream and parses it into SSE events or IR events.
 */

async function decodeBody(response: UpstreamResponse): Promise<DecodedBedrockEvent[]> {
  const decoder = new BedrockEventStreamDecoder();
  const events: DecodedBedrockEvent[] = [];
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) events.push(...decoder.push(chunk));
  events.push(...decoder.end());
  return events;
}

describe('Bedrock building blocks against the fake', () => {
  let fake: FakeBedrock;
  let transport: UpstreamTransport;
  const signer = new BedrockSigner(euRow, 'eu-central-1');

  beforeAll(async () => {
    fake = await startFakeBedrock({ credentials: [usEastRow, euRow], regions: fakeRegions });
    transport = createTestTransport(fake.overrides);
  });

  afterAll(async () => {
    await transport.destroy();
    await fake.close();
  });

  async function send(url: URL, headers: Record<string, string>, body: string): Promise<UpstreamResponse> {
    const signed = await signer.sign({ method: 'POST', url, headers, body });
    return transport.request({ url, method: 'POST', headers: signed, body });
  }

  it('streams an Invoke request as Anthropic SSE events', async () => {
    fake.enqueue({ reply: { text: 'Hello from Claude on Bedrock', deltaSize: 4 }, writeChunkBytes: 9 });
    const prepared = prepareBedrockInvokeRequest({
      region: 'eu-central-1',
      modelId: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0',
      stream: true,
      clientBody: { model: 'x', stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] },
      anthropicBeta: 'context-1m-2025-08-07',
    });
    const response = await send(prepared.url, prepared.headers, prepared.body);
    const sse = (await decodeBody(response)).map(invokeChunkToSseEvent).filter((event) => event !== undefined);
    const parser = new AnthropicStreamParser();
    const ir: StreamEvent[] = [...sse.flatMap((event) => parser.push(event)), ...parser.end()];

    expect(response.statusCode).toBe(200);
    expect(sse.map((event) => event.event)).toEqual(expect.arrayContaining(['message_start', 'content_block_delta', 'message_delta', 'message_stop']));
    expect(ir.filter((event) => event.type === 'text_delta').map((event) => (event as { text: string }).text).join('')).toBe('Hello from Claude on Bedrock');
    expect(ir.at(-1)).toEqual({ type: 'message_stop' });
    expect(fake.requests.at(-1)?.body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31', anthropic_beta: ['context-1m-2025-08-07'] });
  });

  it('relays a mid-stream exception of an Invoke stream', async () => {
    fake.enqueue({ reply: { text: 'one two three four' }, streamException: { afterDeltas: 2, exception: 'throttlingException', message: 'Too many tokens' } });
    const prepared = prepareBedrockInvokeRequest({
      region: 'eu-central-1',
      modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      stream: true,
      clientBody: { max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] },
    });
    const events = await decodeBody(await send(prepared.url, prepared.headers, prepared.body));
    const exception = events.at(-1)!;

    expect(events.filter((event) => invokeChunkToSseEvent(event)?.event === 'content_block_delta')).toHaveLength(2);
    expect(exception).toEqual({ kind: 'exception', type: 'throttlingException', message: 'Too many tokens' });
    expect(mapBedrockStreamException(exception as { type: string; message: string }).status).toBe(429);
  });

  it('relays an exception frame sent alone', async () => {
    fake.enqueue({ frames: [{ messageType: 'exception', type: 'serviceUnavailableException', payload: { message: 'Bedrock is unable to process your request.' } }] });
    const response = await send(bedrockRuntimeUrl('eu-central-1', 'amazon.nova-pro-v1:0', 'converse-stream'), { 'content-type': 'application/json' }, '{"messages":[]}');
    const parser = new ConverseStreamParser({ id: 'r2', model: 'amazon.nova-pro-v1:0' });
    const ir = [...(await decodeBody(response)).flatMap((event) => parser.push(event)), ...parser.end()];

    expect(response.statusCode).toBe(200);
    expect(ir).toEqual([{ type: 'error', errorType: 'overloaded_error', message: expect.stringMatching(/temporarily unavailable \(ServiceUnavailableException: Bedrock is unable/) }]);
  });

  it('streams a Converse request into IR events', async () => {
    fake.enqueue({ reply: { text: 'It is sunny.', toolCalls: [{ id: 'tooluse_w', name: 'get_weather', arguments: { city: 'Paris' } }] }, writeChunkBytes: 11 });
    const { body } = renderConverseRequest(
      {
        model: 'eu.amazon.nova-pro-v1:0',
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        ],
        tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
        toolChoice: { type: 'auto' },
        maxTokens: 100,
        stream: true,
        streamUsage: true,
      },
      { anthropicModel: false },
    );
    const response = await send(bedrockRuntimeUrl('eu-central-1', 'eu.amazon.nova-pro-v1:0', 'converse-stream'), { 'content-type': 'application/json' }, JSON.stringify(body));
    const parser = new ConverseStreamParser({ id: String(response.headers['x-amzn-requestid']), model: 'eu.amazon.nova-pro-v1:0' });
    const ir = [...(await decodeBody(response)).flatMap((event) => parser.push(event)), ...parser.end()];

    expect(fake.requests.at(-1)?.rejection).toBeUndefined();
    expect(ir[0]).toMatchObject({ type: 'message_start', model: 'eu.amazon.nova-pro-v1:0' });
    expect(ir).toContainEqual({ type: 'block_start', index: 1, block: { type: 'tool_call', id: 'tooluse_w', name: 'get_weather' } });
    expect(ir.filter((event) => event.type === 'tool_arguments_delta').map((event) => (event as { json: string }).json).join('')).toBe('{"city":"Paris"}');
    expect(ir.slice(-3).map((event) => event.type)).toEqual(['stop', 'usage', 'message_stop']);
    expect(parser.rawUsage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
  });

  it('parses a Converse response', async () => {
    fake.enqueue({ reply: { text: 'Bonjour.' } });
    const { body } = renderConverseRequest(
      { model: 'amazon.nova-pro-v1:0', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello in French' }] }], stream: false, streamUsage: false },
      { anthropicModel: false },
    );
    const response = await send(bedrockRuntimeUrl('eu-central-1', 'amazon.nova-pro-v1:0', 'converse'), { 'content-type': 'application/json' }, JSON.stringify(body));
    const parsed = parseConverseResponse(JSON.parse(await readUpstreamText(response.body)), { id: 'r1', model: 'amazon.nova-pro-v1:0' });

    expect(parsed.content).toEqual([{ type: 'text', text: 'Bonjour.' }]);
    expect(parsed.stopReason).toEqual({ type: 'end_turn' });
    expect(parsed.usage?.output).toBeGreaterThan(0);
  });

  it('sends a tool conversation Converse accepts', async () => {
    fake.enqueue({ reply: { text: 'Done.' } });
    const { body } = renderConverseRequest(
      {
        model: 'amazon.nova-pro-v1:0',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Clear the cache' }] },
          { role: 'assistant', content: [{ type: 'tool_call', id: 'call_1', name: 'clear_cache', arguments: '' }] },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: [] }] },
        ],
        toolChoice: { type: 'none' },
        stream: false,
        streamUsage: false,
      },
      { anthropicModel: false },
    );
    const response = await send(bedrockRuntimeUrl('eu-central-1', 'amazon.nova-pro-v1:0', 'converse'), { 'content-type': 'application/json' }, JSON.stringify(body));
    const text = await readUpstreamText(response.body);

    expect(response.statusCode, text).toBe(200);
  });

  it('maps an HTTP error from the fake', async () => {
    fake.enqueue({ error: { status: 403, exception: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." } });
    const response = await send(bedrockRuntimeUrl('eu-central-1', 'amazon.nova-pro-v1:0', 'converse'), { 'content-type': 'application/json' }, '{"messages":[]}');
    const error = mapBedrockHttpError(
      { status: response.statusCode, headers: response.headers, body: await readUpstreamText(response.body) },
      { region: 'eu-central-1', modelId: 'amazon.nova-pro-v1:0', secrets: [euRow.secretAccessKey] },
    );

    expect(error.status).toBe(403);
    expect(error.message).toMatch(/has no access to amazon\.nova-pro-v1:0 in eu-central-1/);
  });
});
