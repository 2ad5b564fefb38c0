import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamTransportError, toUpstreamTransportError } from '../../src/proxy/upstream/transport-error.js';
import { readUpstreamText, type UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import type { FakeUpstream } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { findFreePort } from '../support/process.js';
import { createSelfSignedCertificate } from '../support/self-signed-certificate.js';

const apiKey = 'sk-test-transport-0123456789';
const authorization = { authorization: `Bearer ${apiKey}` };

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function listen<T extends TcpServer | HttpsServer>(server: T): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: TcpServer | HttpsServer): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('transport over a plaintext override', () => {
  let fake: FakeUpstream;
  let transport: UpstreamTransport;

  beforeAll(async () => {
    fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: apiKey });
    transport = createTestTransport([fake.override]);
  });

  afterAll(async () => {
    await transport.close();
    await fake.close();
  });

  it('connects to the override address', async () => {
    const response = await transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization });
    await response.body.dump();
    expect(response.statusCode).toBe(200);
  });

  it('keeps the real Host header', async () => {
    const response = await transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization });
    await response.body.dump();
    expect(fake.requests.at(-1)!.headers.host).toBe('api.openai.com');
  });

  it('keeps the real path and query', async () => {
    const response = await transport.request({ url: 'https://api.openai.com/v1/models?limit=1', method: 'GET', headers: authorization });
    await response.body.dump();
    expect(fake.requests.at(-1)!.path).toBe('/v1/models?limit=1');
  });

  it('sends the body and returns the response body', async () => {
    const response = await transport.request({
      url: 'https://api.openai.com/v1/chat/completions',
      method: 'POST',
      headers: { ...authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const body = (await response.body.json()) as { choices: { message: { content: string } }[] };
    expect(fake.requests.at(-1)!.body).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(body.choices[0]!.message.content).toBe('Hello from the fake OpenAI.');
  });

  it('reuses the connection for the next request', async () => {
    for (let count = 0; count < 2; count += 1) {
      const response = await transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization });
      await response.body.text();
      // undici frees the connection for the next request one turn of the event loop after the body ends.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [first, second] = fake.requests.slice(-2);
    expect(second!.remotePort).toBe(first!.remotePort);
  });

  it('drops gateway key, hop-by-hop and Host headers', async () => {
    const response = await transport.request({
      url: 'https://api.openai.com/v1/models',
      method: 'GET',
      headers: { ...authorization, 'X-Keyroute-Api-Key': 'kr-secret', connection: 'close', host: 'example.invalid', 'transfer-encoding': 'chunked' },
    });
    await response.body.dump();
    const recorded = fake.requests.at(-1)!;
    expect(recorded.rejection).toBeUndefined();
    expect(recorded.headers['x-keyroute-api-key']).toBeUndefined();
    expect(recorded.headers.host).toBe('api.openai.com');
    expect(recorded.headers['transfer-encoding']).toBeUndefined();
  });

  it('asks for an uncompressed body', async () => {
    const response = await transport.request({
      url: 'https://api.openai.com/v1/models',
      method: 'GET',
      headers: { ...authorization, 'accept-encoding': 'gzip, br' },
    });
    await response.body.dump();
    expect(fake.requests.at(-1)!.headers['accept-encoding']).toBe('identity');
  });

  it('serves undici fetch through its dispatcher', async () => {
    const response = await fetch('https://api.openai.com/v1/models', { headers: authorization, dispatcher: transport.dispatcher });
    const body = (await response.json()) as { object: string };
    expect(body.object).toBe('list');
  });

  it('rejects an origin without an override', async () => {
    const error = await rejectionOf(transport.request({ url: 'https://api.mistral.ai/v1/models', method: 'GET' }));
    expect(error).toBeInstanceOf(UpstreamTransportError);
    expect((error as UpstreamTransportError).kind).toBe('override_missing');
  });

  it('rejects an origin without an override through fetch', async () => {
    const error = await rejectionOf(fetch('https://api.mistral.ai/v1/models', { dispatcher: transport.dispatcher }));
    expect((error as Error).cause).toBeInstanceOf(UpstreamTransportError);
    expect(((error as Error).cause as UpstreamTransportError).kind).toBe('override_missing');
  });

  it('rejects with the abort reason of the signal', async () => {
    fake.enqueue({ silent: true });
    const controller = new AbortController();
    const reason = new Error('client left');
    const pending = transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization, signal: controller.signal });
    await fake.waitForRequest();
    controller.abort(reason);
    expect(await rejectionOf(pending)).toBe(reason);
  });
});

describe('transport failures', () => {
  const transports: UpstreamTransport[] = [];
  const servers: (TcpServer | HttpsServer)[] = [];
  const fakes: FakeUpstream[] = [];

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((transport) => transport.destroy()));
    await Promise.all(servers.splice(0).map(closeServer));
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });

  it('reports a refused connection as upstream_unreachable', async () => {
    const port = await findFreePort();
    const transport = createTestTransport([{ origin: 'https://api.openai.com', address: `http://127.0.0.1:${port}` }]);
    transports.push(transport);
    const error = await rejectionOf(transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET' }));
    expect(error).toBeInstanceOf(UpstreamTransportError);
    expect((error as UpstreamTransportError).kind).toBe('connection_refused');
    expect((error as UpstreamTransportError).code).toBe('upstream_unreachable');
  });

  it('reports a connect timeout as upstream_timeout', async () => {
    // A TCP server that accepts connections and never responds, so the TLS handshake cannot finish.
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => sockets.push(socket));
    server.on('close', () => sockets.forEach((socket) => socket.destroy()));
    servers.push(server);
    const port = await listen(server);
    const transport = createTestTransport([{ origin: 'https://api.openai.com', address: `https://127.0.0.1:${port}` }], { connectTimeoutMs: 200 });
    transports.push(transport);

    const started = performance.now();
    const error = await rejectionOf(transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET' }));
    sockets.forEach((socket) => socket.destroy());
    expect(error).toBeInstanceOf(UpstreamTransportError);
    expect((error as UpstreamTransportError).kind).toBe('connect_timeout');
    expect((error as UpstreamTransportError).code).toBe('upstream_timeout');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('reports a headers timeout as upstream_timeout', async () => {
    const fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: apiKey });
    fakes.push(fake);
    fake.enqueue({ silent: true });
    const transport = createTestTransport([fake.override], { headersTimeoutMs: 300 });
    transports.push(transport);
    const error = await rejectionOf(transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization }));
    expect((error as UpstreamTransportError).kind).toBe('headers_timeout');
    expect((error as UpstreamTransportError).code).toBe('upstream_timeout');
  });

  it('classifies a body timeout', async () => {
    const fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: apiKey });
    fakes.push(fake);
    fake.enqueue({ interrupt: { afterDeltas: 1, action: 'silence' } });
    const transport = createTestTransport([fake.override], { bodyTimeoutMs: 300 });
    transports.push(transport);
    const response = await transport.request({
      url: 'https://api.openai.com/v1/chat/completions',
      method: 'POST',
      headers: authorization,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
    });
    const error = await rejectionOf(response.body.text());
    expect(toUpstreamTransportError(error, 'https://api.openai.com')?.kind).toBe('body_timeout');
  });

  it('classifies a connection lost mid-stream', async () => {
    const fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: apiKey });
    fakes.push(fake);
    fake.enqueue({ interrupt: { afterDeltas: 2, action: 'destroy' } });
    const transport = createTestTransport([fake.override]);
    transports.push(transport);
    const response = await transport.request({
      url: 'https://api.openai.com/v1/chat/completions',
      method: 'POST',
      headers: authorization,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
    });
    const error = await rejectionOf(response.body.text());
    expect(toUpstreamTransportError(error, 'https://api.openai.com')?.kind).toBe('connection_closed');
  });

  it('leaves errors that are not transport failures unclassified', () => {
    expect(toUpstreamTransportError(new TypeError('bug'), 'https://api.openai.com')).toBeUndefined();
  });
});

describe('transport over a TLS override', () => {
  const hostname = 'api.anthropic.com';
  let certificate: { key: string; cert: string };
  let server: HttpsServer;
  let port: number;
  const seen: { servername: string | false | null; host: string | undefined }[] = [];

  beforeAll(async () => {
    certificate = createSelfSignedCertificate(hostname);
    server = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
      seen.push({ servername: (request.socket as TLSSocket).servername, host: request.headers.host });
      response.end('ok');
    });
    port = await listen(server);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await closeServer(server);
  });

  it('sends the real host name as SNI', async () => {
    const transport = createTestTransport([{ origin: `https://${hostname}`, address: `https://127.0.0.1:${port}` }], { ca: certificate.cert });
    const response = await transport.request({ url: `https://${hostname}/v1/models`, method: 'GET' });
    expect(await readUpstreamText(response.body)).toBe('ok');
    await transport.destroy();
    expect(seen.at(-1)!.servername).toBe(hostname);
    expect(seen.at(-1)!.host).toBe(hostname);
  });

  it('checks the certificate against the real host name', async () => {
    const otherOrigin = 'https://api.openai.com';
    const transport = createTestTransport([{ origin: otherOrigin, address: `https://127.0.0.1:${port}` }], { ca: certificate.cert });
    const error = await rejectionOf(transport.request({ url: `${otherOrigin}/v1/models`, method: 'GET' }));
    await transport.destroy();
    expect((error as UpstreamTransportError).kind).toBe('tls_failed');
  });
});

describe('readUpstreamText', () => {
  it('stops at the byte limit', async () => {
    const fake = await startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: apiKey });
    const transport = createTestTransport([fake.override]);
    fake.enqueue({ error: { status: 500, message: 'x'.repeat(10_000) } });
    const response = await transport.request({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: authorization });
    const text = await readUpstreamText(response.body, 100);
    await transport.destroy();
    await fake.close();
    expect(Buffer.byteLength(text)).toBe(100);
  });
});
