import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/config/upstream.config.js';
import { ProxyError, type ClientDialect } from '../../src/proxy/errors.js';
import { ClientDisconnectedError, StreamRelay } from '../../src/proxy/sse/stream-relay.js';
import { SseParser, type SseEvent } from '../../src/proxy/sse/sse-parser.js';
import { mapTransportError, mapUpstreamError } from '../../src/proxy/upstream-error-mapping.js';
import { toUpstreamTransportError } from '../../src/proxy/upstream/transport-error.js';
import { readUpstreamText, type UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeAnthropic } from '../support/fake-upstreams/anthropic.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';

const openAiKey = 'sk-relay-openai-0123456789';
const deepSeekKey = 'sk-relay-deepseek-0123456789';
const anthropicKey = 'sk-ant-relay-0123456789';

interface RelayRecord {
  relay: StreamRelay;
  /** Largest `writableLength` of the client response, sampled every 5 ms and after each write. */
  maxWritableLength: number;
  /** Bytes read from the upstream body so far. */
  bytesRead: number;
  done: Promise<void>;
}

interface RelayRoute {
  origin: string;
  path: string;
  provider: 'OPENAI' | 'DEEPSEEK' | 'ANTHROPIC';
  headers: Record<string, string>;
  dialect: ClientDialect;
}

const routes: Record<string, RelayRoute> = {
  '/openai': {
    origin: 'https://api.openai.com',
    path: '/v1/chat/completions',
    provider: 'OPENAI',
    headers: { authorization: `Bearer ${openAiKey}`, 'content-type': 'application/json' },
    dialect: 'openai',
  },
  '/deepseek': {
    origin: 'https://api.deepseek.com',
    path: '/chat/completions',
    provider: 'DEEPSEEK',
    headers: { authorization: `Bearer ${deepSeekKey}`, 'content-type': 'application/json' },
    dialect: 'openai',
  },
  '/anthropic': {
    origin: 'https://api.anthropic.com',
    path: '/v1/messages',
    provider: 'ANTHROPIC',
    headers: { 'x-api-key': anthropicKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    dialect: 'anthropic',
  },
};

/**
 * Starts a minimal streaming route that uses the relay as the proxy route does. The upstream
 * request carries the relay's signal, and an error status before commit becomes an HTTP error.
 * The body is copied chunk by chunk with awaited writes, and failures go to `relay.fail`.
 */
function startRelayServer(transport: UpstreamTransport, options: StreamConfig, records: RelayRecord[]): Promise<Server> {
  const server = createServer((request, response) => {
    const route = routes[request.url ?? '']!;
    const relay = new StreamRelay(response, options);
    const record: RelayRecord = { relay, maxWritableLength: 0, bytesRead: 0, done: Promise.resolve() };
    records.push(record);

    const sampler = setInterval(() => {
      record.maxWritableLength = Math.max(record.maxWritableLength, response.writableLength);
    }, 5);
    response.on('close', () => clearInterval(sampler));

    record.done = (async () => {
      const clientBody = await new Promise<string>((resolve) => {
        let text = '';
        request.on('data', (chunk: Buffer) => (text += chunk.toString()));
        request.on('end', () => resolve(text));
      });
      try {
        const upstream = await transport.request({
          url: `${route.origin}${route.path}`,
          method: 'POST',
          headers: route.headers,
          body: clientBody,
          signal: relay.signal,
        });
        if (upstream.statusCode !== 200) {
          const text = await readUpstreamText(upstream.body);
          relay.fail(mapUpstreamError({ provider: route.provider, status: upstream.statusCode, headers: upstream.headers, body: text }), route.dialect);
          return;
        }
        relay.commitHeaders({ 'x-upstream-status': String(upstream.statusCode) });
        for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
          record.bytesRead += chunk.length;
          if (!(await relay.write(chunk))) break;
          record.maxWritableLength = Math.max(record.maxWritableLength, response.writableLength);
        }
        await relay.end();
      } catch (error) {
        if (relay.clientGone) return;
        const failure = toUpstreamTransportError(error, route.origin);
        relay.fail(failure ? mapTransportError(failure, route.provider) : ProxyError.gateway('internal_error', String(error)), route.dialect);
      }
    })();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface ClientExchange {
  response: IncomingMessage;
  /** Milliseconds from sending the request to receiving the response headers. */
  headersAfterMs: number;
  /** Resolves with the whole body once the response has ended. */
  text(): Promise<string>;
  /** Resolves once the client has received at least `count` events. */
  waitForEvents(count: number): Promise<SseEvent[]>;
  destroy(): void;
}

function streamBody(route: string): string {
  if (route === '/anthropic') {
    return JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
  }
  return JSON.stringify({ model: 'model-x', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
}

async function send(server: Server, route: string): Promise<ClientExchange> {
  const { port } = server.address() as AddressInfo;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: route, method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      const parser = new SseParser();
      const events: SseEvent[] = [];
      const eventWaiters: (() => void)[] = [];
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        events.push(...parser.push(chunk));
        for (const wake of eventWaiters.splice(0)) wake();
      });
      const ended = new Promise<void>((done) => response.on('end', () => done()));
      resolve({
        response,
        headersAfterMs: performance.now() - started,
        text: async () => {
          await ended;
          return Buffer.concat(chunks).toString('utf8');
        },
        waitForEvents: async (count) => {
          while (events.length < count) await new Promise<void>((wake) => eventWaiters.push(wake));
          return events;
        },
        destroy: () => request.destroy(),
      });
    });
    request.on('error', reject);
    request.end(streamBody(route));
  });
}

/** Sends a request and returns the client request so a test can destroy it before any response. */
function sendWithoutWaiting(server: Server, route: string): { destroy(): void } {
  const { port } = server.address() as AddressInfo;
  const request = httpRequest({ host: '127.0.0.1', port, path: route, method: 'POST', headers: { 'content-type': 'application/json' } });
  request.on('error', () => {});
  request.end(streamBody(route));
  return request;
}

function parse(text: string): { events: SseEvent[]; comments: number } {
  let comments = 0;
  const parser = new SseParser({ onComment: () => (comments += 1) });
  const events = [...parser.push(text), ...parser.end()];
  return { events, comments };
}

describe('StreamRelay', () => {
  let openAi: FakeUpstream;
  let deepSeek: FakeUpstream;
  let anthropic: FakeUpstream;
  let transport: UpstreamTransport;
  const servers: Server[] = [];
  const records: RelayRecord[] = [];

  beforeAll(async () => {
    openAi = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: openAiKey });
    deepSeek = await startFakeOpenAiCompatible({ provider: 'DEEPSEEK', expectedKey: deepSeekKey });
    anthropic = await startFakeAnthropic({ expectedKey: anthropicKey });
    transport = createTestTransport([openAi.override, deepSeek.override, anthropic.override]);
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    records.splice(0);
  });

  afterAll(async () => {
    await transport.destroy();
    await Promise.all([openAi.close(), deepSeek.close(), anthropic.close()]);
  });

  async function relayServer(options: StreamConfig): Promise<Server> {
    const server = await startRelayServer(transport, options, records);
    servers.push(server);
    return server;
  }

  describe('while the upstream is silent', () => {
    it('commits the SSE headers after the commit silence', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 600 });
      const exchange = await send(server, '/openai');
      await exchange.text();
      expect(exchange.response.statusCode).toBe(200);
      expect(exchange.headersAfterMs).toBeLessThan(500);
    });

    it('sets the SSE response headers', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 200 });
      const exchange = await send(server, '/openai');
      await exchange.text();
      expect(exchange.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(exchange.response.headers['cache-control']).toBe('no-cache');
      expect(exchange.response.headers['x-accel-buffering']).toBe('no');
      expect(exchange.response.headers['content-encoding']).toBeUndefined();
    });

    it('sends heartbeats before the first event', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 600 });
      const exchange = await send(server, '/openai');
      const text = await exchange.text();
      const beforeFirstEvent = text.slice(0, text.indexOf('data:'));
      expect(beforeFirstEvent.match(/^: keep-alive\n\n/gm)?.length ?? 0).toBeGreaterThanOrEqual(4);
    });

    it('still relays the stream after heartbeats', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 300 });
      const exchange = await send(server, '/openai');
      const { events } = parse(await exchange.text());
      expect(events.at(-1)!.data).toBe('[DONE]');
    });

    it('loses headers given after the early commit', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 300 });
      const exchange = await send(server, '/openai');
      await exchange.text();
      expect(exchange.response.headers['x-upstream-status']).toBeUndefined();
    });
  });

  describe('between events', () => {
    it('sends heartbeats while the upstream pauses', async () => {
      const server = await relayServer({ commitSilenceMs: 5_000, heartbeatIntervalMs: 50 });
      openAi.enqueue({ eventIntervalMs: 300 });
      const exchange = await send(server, '/openai');
      const text = await exchange.text();
      const first = text.indexOf('data:');
      const second = text.indexOf('data:', first + 1);
      expect(text.slice(first, second).match(/^: keep-alive$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
    });

    it('sends no heartbeat while events keep coming', async () => {
      const server = await relayServer({ commitSilenceMs: 5_000, heartbeatIntervalMs: 1_000 });
      const exchange = await send(server, '/openai');
      expect(parse(await exchange.text()).comments).toBe(0);
    });

    it('passes upstream headers on a normal commit', async () => {
      const server = await relayServer({ commitSilenceMs: 5_000, heartbeatIntervalMs: 1_000 });
      const exchange = await send(server, '/openai');
      await exchange.text();
      expect(exchange.response.headers['x-upstream-status']).toBe('200');
    });
  });

  describe('errors', () => {
    it('sends an upstream error before commit as HTTP', async () => {
      const server = await relayServer({ commitSilenceMs: 5_000, heartbeatIntervalMs: 1_000 });
      openAi.enqueue({ error: { status: 429, headers: { 'retry-after': '7' } } });
      const exchange = await send(server, '/openai');
      const body = JSON.parse(await exchange.text()) as { error: { type: string } };
      expect(exchange.response.statusCode).toBe(429);
      expect(exchange.response.headers['retry-after']).toBe('7');
      expect(exchange.response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(body.error.type).toBe('rate_limit_error');
    });

    it('sends an upstream error after commit as an OpenAI error event', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ headersDelayMs: 300, error: { status: 500 } });
      const exchange = await send(server, '/openai');
      const { events } = parse(await exchange.text());
      expect(exchange.response.statusCode).toBe(200);
      expect(events).toHaveLength(1);
      expect(events[0]!.event).toBeUndefined();
      expect(JSON.parse(events[0]!.data)).toMatchObject({ error: { type: 'server_error' } });
    });

    it('sends an upstream error after commit as an Anthropic error event', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      anthropic.enqueue({ headersDelayMs: 300, error: { status: 529 } });
      const exchange = await send(server, '/anthropic');
      const { events } = parse(await exchange.text());
      expect(exchange.response.statusCode).toBe(200);
      expect(events.map((event) => event.event)).toEqual(['error']);
      expect(JSON.parse(events[0]!.data)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Anthropic: Overloaded' } });
    });

    it('ends with an error event when the upstream connection breaks', async () => {
      const server = await relayServer({ commitSilenceMs: 5_000, heartbeatIntervalMs: 1_000 });
      openAi.enqueue({ interrupt: { afterDeltas: 2, action: 'destroy' } });
      const exchange = await send(server, '/openai');
      const { events } = parse(await exchange.text());
      expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ error: { code: 'upstream_unreachable' } });
      expect(events.some((event) => event.data === '[DONE]')).toBe(false);
    });
  });

  describe('client disconnect', () => {
    it('aborts the upstream before the response headers', async () => {
      const server = await relayServer({ commitSilenceMs: 10_000, heartbeatIntervalMs: 1_000 });
      openAi.enqueue({ silent: true });
      const before = openAi.requests.length;
      const client = sendWithoutWaiting(server, '/openai');
      const upstreamRequest = await openAi.waitForRequest(before + 1);
      expect(records[0]!.relay.committed).toBe(false);
      client.destroy();
      await openAi.waitForAbort(upstreamRequest, 1_000);
      expect(records[0]!.relay.signal.reason).toBeInstanceOf(ClientDisconnectedError);
    });

    it('aborts the upstream after an early commit', async () => {
      const server = await relayServer({ commitSilenceMs: 50, heartbeatIntervalMs: 50 });
      openAi.enqueue({ silent: true });
      const before = openAi.requests.length;
      const exchange = await send(server, '/openai');
      const upstreamRequest = await openAi.waitForRequest(before + 1);
      expect(exchange.response.statusCode).toBe(200);
      exchange.destroy();
      await openAi.waitForAbort(upstreamRequest, 1_000);
      expect(records[0]!.relay.clientGone).toBe(true);
    });

    it('aborts the upstream before the first event', async () => {
      const server = await relayServer({ commitSilenceMs: 10_000, heartbeatIntervalMs: 1_000 });
      // DeepSeek responds at once and sends keep-alive comments while the request is queued.
      deepSeek.enqueue({ keepAliveComments: 100, eventIntervalMs: 50 });
      const before = deepSeek.requests.length;
      const exchange = await send(server, '/deepseek');
      const upstreamRequest = await deepSeek.waitForRequest(before + 1);
      expect(records[0]!.relay.committed).toBe(true);
      exchange.destroy();
      await deepSeek.waitForAbort(upstreamRequest, 1_000);
      expect(records[0]!.relay.signal.aborted).toBe(true);
    });

    it('aborts the upstream mid-stream', async () => {
      const server = await relayServer({ commitSilenceMs: 10_000, heartbeatIntervalMs: 1_000 });
      anthropic.enqueue({ reply: { text: 'one two three four' }, interrupt: { afterDeltas: 2, action: 'silence' } });
      const before = anthropic.requests.length;
      const exchange = await send(server, '/anthropic');
      const upstreamRequest = await anthropic.waitForRequest(before + 1);
      const events = await exchange.waitForEvents(5);
      expect(events.filter((event) => event.event === 'content_block_delta')).toHaveLength(2);
      exchange.destroy();
      await anthropic.waitForAbort(upstreamRequest, 1_000);
      expect(records[0]!.relay.signal.aborted).toBe(true);
    });

    it('rejects writes after the client leaves', async () => {
      const server = await relayServer({ commitSilenceMs: 20, heartbeatIntervalMs: 20 });
      openAi.enqueue({ silent: true });
      const exchange = await send(server, '/openai');
      exchange.destroy();
      await records[0]!.done;
      const relay = records[0]!.relay;
      expect(await relay.write('data: late\n\n')).toBe(false);
    });
  });

  describe('backpressure', () => {
    it('keeps the client buffer bounded while the client does not read', async () => {
      const server = await relayServer({ commitSilenceMs: 10_000, heartbeatIntervalMs: 1_000 });
      const textLength = 64 * 1024 * 1024;
      openAi.enqueue({ reply: { text: 'x'.repeat(textLength), deltaSize: 64 * 1024 } });
      const before = openAi.requests.length;

      // A raw socket that sends the request and then reads nothing until the upstream has stalled.
      const { port } = server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      const body = streamBody('/openai');
      socket.write(`POST /openai HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      socket.pause();

      await openAi.waitForRequest(before + 1);
      // Wait until the relay stops reading the upstream: three checks 100 ms apart without progress.
      let stalledChecks = 0;
      let lastBytesRead = -1;
      const deadline = Date.now() + 10_000;
      while (stalledChecks < 3 && Date.now() < deadline) {
        await sleep(100);
        const { bytesRead } = records[0]!;
        stalledChecks = bytesRead > 0 && bytesRead === lastBytesRead ? stalledChecks + 1 : 0;
        lastBytesRead = bytesRead;
      }
      // Socket buffers hold some megabytes, but the upstream cannot be read to the end.
      expect(records[0]!.bytesRead).toBeLessThan(textLength);
      // The relay buffers at most one upstream chunk beyond the response's high-water mark.
      expect(records[0]!.maxWritableLength).toBeLessThanOrEqual(256 * 1024);

      let received = 0;
      let tail = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-64);
      });
      socket.resume();
      await new Promise<void>((resolve) => socket.on('end', () => resolve()));
      expect(received).toBeGreaterThan(textLength);
      expect(tail).toContain('data: [DONE]\n\n');
    });
  });
});
