import { fetch as undiciFetch } from 'undici';
import type { BedrockRegionCredential } from '../../src/features/provider-keys/credentials.js';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';

/**
 * Test credentials in AWS's formats. They are random-looking but fixed, never real, and only the
 * fake Bedrock accepts them.
 */
export const usEastRow: BedrockRegionCredential = {
  region: 'us-east-1',
  accessKeyId: 'AKIAKEYROUTETEST0001',
  secretAccessKey: 'kr/test/SecretForUsEast1/0000000000000000',
};

export const euRow: BedrockRegionCredential = {
  region: 'eu-central-1',
  accessKeyId: 'AKIAKEYROUTETEST0002',
  secretAccessKey: 'kr/test/SecretForEuCentral1/000000000000000',
};

export const globalRow: BedrockRegionCredential = {
  region: 'global',
  accessKeyId: 'AKIAKEYROUTETEST0003',
  secretAccessKey: 'kr/test/SecretForTheGlobalRow/00000000000000',
};

/** The regions every Bedrock test fake serves. */
export const fakeRegions = ['us-east-1', 'us-west-2', 'eu-central-1', 'eu-west-1', 'ap-northeast-1'];

/** A smithy HTTP request, as the AWS SDK hands it to its request handler. */
interface SmithyRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

function queryString(query: SmithyRequest['query']): string {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) parameters.append(name, item);
  }
  const text = parameters.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * A request handler for `@aws-sdk/client-bedrock-runtime` that sends every request through an
 * UpstreamTransport. The SDK keeps its real endpoint and Host, and the transport's overrides send
 * the connection to the fake. The transport rejects any origin without an override, so no request
 * can reach AWS.
 */
export function transportRequestHandler(transport: UpstreamTransport) {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: SmithyRequest, options: { abortSignal?: unknown } = {}) {
      const port = request.port ? `:${request.port}` : '';
      const url = `${request.protocol}//${request.hostname}${port}${request.path}${queryString(request.query)}`;
      const body = typeof request.body === 'string' || request.body instanceof Uint8Array ? request.body : undefined;
      if (request.body !== undefined && body === undefined) throw new Error('transportRequestHandler: the test handler sends string and byte bodies only');
      const response = await transport.request({
        url,
        method: request.method as 'GET' | 'POST',
        headers: request.headers,
        body: body ?? null,
        ...(options.abortSignal instanceof AbortSignal && { signal: options.abortSignal }),
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      return { response: { statusCode: response.statusCode, reason: '', headers, body: response.body } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };
}

/** Returns a fetch for `@anthropic-ai/bedrock-sdk` that goes through the transport, for the same reason. */
export function transportFetch(transport: UpstreamTransport): typeof globalThis.fetch {
  return ((input: string | URL, init?: Record<string, unknown>) =>
    undiciFetch(input, { ...(init as object), dispatcher: transport.dispatcher })) as unknown as typeof globalThis.fetch;
}
