import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bedrockRuntimeUrl, foundationModelsUrl } from '../../src/proxy/upstream/bedrock/bedrock-endpoints.js';
import { BedrockSigner, BedrockSignerCache } from '../../src/proxy/upstream/bedrock/bedrock-signer.js';
import { readUpstreamText, type UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-upstreams/bedrock.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { euRow, fakeRegions, globalRow, usEastRow } from './helpers.js';

const llama = 'meta.llama3-1-70b-instruct-v1:0';
const profileArn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-70b-instruct-v1:0';
const converseBody = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }] });

/** Captures the request the AWS SDK signs, without sending it anywhere. */
async function signedBySdk(modelId: string): Promise<{ path: string; headers: Record<string, string>; body: string }> {
  let captured: { path: string; headers: Record<string, string>; body: string } | undefined;
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: 'https://bedrock-runtime.us-east-1.amazonaws.com',
    credentials: { accessKeyId: usEastRow.accessKeyId, secretAccessKey: usEastRow.secretAccessKey },
    maxAttempts: 1,
    requestHandler: {
      async handle(request: { path: string; headers: Record<string, string>; body: string }) {
        captured = { path: request.path, headers: { ...request.headers }, body: request.body };
        throw new Error('captured');
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    },
  });
  await client.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text: 'Hello' }] }] })).catch(() => undefined);
  if (!captured) throw new Error('the SDK did not reach its request handler');
  return captured;
}

/** `20261204T231400Z` as a Date. */
function parseAmzDate(value: string): Date {
  return new Date(`${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T${value.slice(9, 11)}:${value.slice(11, 13)}:${value.slice(13, 15)}Z`);
}

describe('signature compared with the AWS SDK', () => {
  for (const [name, modelId] of [
    ['model id with a colon', llama],
    ['inference profile ARN', profileArn],
  ] as const) {
    it(`${name} signs like the SDK`, async () => {
      const sdk = await signedBySdk(modelId);
      const url = bedrockRuntimeUrl('us-east-1', modelId, 'converse');
      const { authorization, 'x-amz-date': amzDate, 'x-amz-content-sha256': _hash, 'user-agent': _agent, ...toSign } = sdk.headers;
      const ours = await new BedrockSigner(usEastRow, 'us-east-1').sign({ method: 'POST', url, headers: toSign, body: sdk.body }, parseAmzDate(amzDate!));

      expect(url.pathname).toBe(sdk.path);
      expect(ours.authorization).toBe(authorization);
    });
  }
});

describe('BedrockSigner against the fake Bedrock', () => {
  let fake: FakeBedrock;
  let transport: UpstreamTransport;

  beforeAll(async () => {
    fake = await startFakeBedrock({ credentials: [usEastRow, euRow, globalRow], regions: fakeRegions });
    transport = createTestTransport(fake.overrides);
  });

  afterAll(async () => {
    await transport.destroy();
    await fake.close();
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** Signs with `signer` for `signedUrl` and sends to `sentUrl` (the same unless a test tampers), returning the status. */
  async function send(options: { signer: BedrockSigner; signedUrl: URL; sentUrl?: URL; body?: string; sentBody?: string; method?: 'GET' | 'POST' }): Promise<number> {
    const method = options.method ?? 'POST';
    const body = options.body ?? converseBody;
    const headers = await options.signer.sign({ method, url: options.signedUrl, headers: { 'content-type': 'application/json' }, ...(method === 'POST' && { body }) });
    const response = await transport.request({ url: options.sentUrl ?? options.signedUrl, method, headers, ...(method === 'POST' && { body: options.sentBody ?? body }) });
    await readUpstreamText(response.body);
    return response.statusCode;
  }

  it('accepts a model id with a colon', async () => {
    const status = await send({ signer: new BedrockSigner(usEastRow, 'us-east-1'), signedUrl: bedrockRuntimeUrl('us-east-1', llama, 'converse') });
    const received = fake.requests.at(-1)!;

    expect(status).toBe(200);
    expect(received.rawTarget).toBe('/model/meta.llama3-1-70b-instruct-v1%3A0/converse');
    expect(received.canonicalRequest).toContain('/model/meta.llama3-1-70b-instruct-v1%253A0/converse');
  });

  it('accepts an inference profile ARN', async () => {
    const status = await send({ signer: new BedrockSigner(usEastRow, 'us-east-1'), signedUrl: bedrockRuntimeUrl('us-east-1', profileArn, 'converse') });

    expect(status).toBe(200);
    expect(fake.requests.at(-1)?.modelId).toBe(profileArn);
  });

  it('accepts a GET with a query string', async () => {
    const status = await send({ signer: new BedrockSigner(euRow, 'eu-central-1'), signedUrl: foundationModelsUrl('eu-central-1'), method: 'GET' });

    expect(status).toBe(200);
    expect(fake.requests.at(-1)?.operation).toBe('list-foundation-models');
  });

  it('rejects a wrong secret', async () => {
    const signer = new BedrockSigner({ ...usEastRow, secretAccessKey: 'kr/test/NotTheSecret/000000000000000000000' }, 'us-east-1');
    const status = await send({ signer, signedUrl: bedrockRuntimeUrl('us-east-1', llama, 'converse') });

    expect(status).toBe(403);
    expect(fake.requests.at(-1)?.rejection).toMatch(/^InvalidSignatureException: The request signature we calculated/);
  });

  it('rejects an unknown access key id', async () => {
    const signer = new BedrockSigner({ ...usEastRow, accessKeyId: 'AKIAKEYROUTEUNKNOWN0' }, 'us-east-1');
    const status = await send({ signer, signedUrl: bedrockRuntimeUrl('us-east-1', llama, 'converse') });

    expect(status).toBe(403);
    expect(fake.requests.at(-1)?.rejection).toMatch(/^UnrecognizedClientException/);
  });

  it('rejects a wrong region', async () => {
    const url = bedrockRuntimeUrl('us-east-1', llama, 'converse');
    const status = await send({ signer: new BedrockSigner(usEastRow, 'us-west-2'), signedUrl: url });

    expect(status).toBe(403);
    expect(fake.requests.at(-1)?.rejection).toMatch(/scoped to a valid region/);
  });

  it('rejects a wrong host', async () => {
    const status = await send({
      signer: new BedrockSigner(usEastRow, 'us-east-1'),
      signedUrl: new URL('https://bedrock.us-east-1.amazonaws.com/model/x/converse'),
      sentUrl: new URL('https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse'),
    });

    expect(status).toBe(403);
    expect(fake.requests.at(-1)?.rejection).toMatch(/^InvalidSignatureException: The request signature we calculated/);
  });

  it('rejects a tampered body', async () => {
    const url = bedrockRuntimeUrl('us-east-1', llama, 'converse');
    const tampered = converseBody.replace('Hello', 'Hellp');
    const status = await send({ signer: new BedrockSigner(usEastRow, 'us-east-1'), signedUrl: url, sentBody: tampered });

    expect(status).toBe(403);
    expect(fake.requests.at(-1)?.rejection).toMatch(/^InvalidSignatureException/);
  });

  it('ignores the AWS environment of the server', async () => {
    vi.stubEnv('AWS_REGION', 'ap-northeast-1');
    vi.stubEnv('AWS_DEFAULT_REGION', 'ap-northeast-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAKEYROUTEFROMENV0');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'kr/test/SecretFromTheEnvironment/000000000');
    const status = await send({ signer: new BedrockSigner(euRow, 'eu-central-1'), signedUrl: bedrockRuntimeUrl('eu-central-1', llama, 'converse') });
    const received = fake.requests.at(-1)!;

    expect(status).toBe(200);
    expect(received.accessKeyId).toBe(euRow.accessKeyId);
    expect(received.region).toBe('eu-central-1');
    expect(received.headers.authorization).toContain('/eu-central-1/bedrock/aws4_request');
  });

  it('returns host, date, payload hash and authorization', async () => {
    const headers = await new BedrockSigner(usEastRow, 'us-east-1').sign({ method: 'POST', url: bedrockRuntimeUrl('us-east-1', llama, 'converse'), body: converseBody });

    expect(headers.host).toBe('bedrock-runtime.us-east-1.amazonaws.com');
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAKEYROUTETEST0001\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });
});

describe('BedrockSignerCache', () => {
  it('reuses the signer of a key, version and region', () => {
    const cache = new BedrockSignerCache();

    expect(cache.get('key-1', 1, usEastRow, 'us-east-1')).toBe(cache.get('key-1', 1, usEastRow, 'us-east-1'));
  });

  it('builds a new signer for a new credentials version', () => {
    const cache = new BedrockSignerCache();

    expect(cache.get('key-1', 1, usEastRow, 'us-east-1')).not.toBe(cache.get('key-1', 2, usEastRow, 'us-east-1'));
  });

  it('keeps the global row apart per region', () => {
    const cache = new BedrockSignerCache();
    const east = cache.get('key-1', 1, globalRow, 'us-east-1');
    const west = cache.get('key-1', 1, globalRow, 'us-west-2');

    expect(east).not.toBe(west);
    expect(east.region).toBe('us-east-1');
    expect(west.region).toBe('us-west-2');
  });

  it('drops the least recently used entry beyond its bound', () => {
    const cache = new BedrockSignerCache(2);
    const first = cache.get('key-1', 1, usEastRow, 'us-east-1');
    cache.get('key-2', 1, usEastRow, 'us-east-1');
    cache.get('key-1', 1, usEastRow, 'us-east-1');
    cache.get('key-3', 1, usEastRow, 'us-east-1');

    expect(cache.size).toBe(2);
    expect(cache.get('key-1', 1, usEastRow, 'us-east-1')).toBe(first);
  });

  it('deletes every entry of a credential set', () => {
    const cache = new BedrockSignerCache();
    cache.get('key-1', 1, usEastRow, 'us-east-1');
    cache.get('key-1', 1, euRow, 'eu-central-1');
    cache.get('key-2', 1, usEastRow, 'us-east-1');
    cache.deleteCredentialSet('key-1');

    expect(cache.size).toBe(1);
  });
});
