import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/providers/providers.js';
import { renderErrorBody, type ErrorType } from '../../src/proxy/errors.js';
import { scrubSecrets } from '../../src/proxy/secret-scrubbing.js';
import { mapTransportError, mapUpstreamError } from '../../src/proxy/upstream-error-mapping.js';
import { UpstreamTransportError } from '../../src/proxy/upstream/transport-error.js';

interface MappingCase {
  name: string;
  provider: ProviderId;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  expected: {
    status: number;
    code: 'upstream_error' | 'provider_authentication_error';
    type: ErrorType;
    upstreamCode?: string | null;
    /** The x-should-retry header sent to the client, or undefined for none. */
    shouldRetry?: string;
    retryAfter?: string;
  };
}

const credential = { status: 502, code: 'provider_authentication_error', type: 'api_error', shouldRetry: 'false' } as const;

/** Error bodies in the shape each provider documents or users have reported. */
const cases: MappingCase[] = [
  // OpenAI
  {
    name: 'OpenAI invalid key',
    provider: 'OPENAI',
    status: 401,
    body: { error: { message: 'Incorrect API key provided: sk-proj-********abcd.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
    expected: credential,
  },
  {
    name: 'OpenAI region block',
    provider: 'OPENAI',
    status: 403,
    body: { error: { message: 'Country, region, or territory not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' } },
    expected: credential,
  },
  {
    name: 'OpenAI insufficient quota',
    provider: 'OPENAI',
    status: 429,
    body: { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: 'insufficient_quota', shouldRetry: 'false' },
  },
  {
    name: 'OpenAI rate limit',
    provider: 'OPENAI',
    status: 429,
    headers: { 'retry-after': '20' },
    body: { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: 'rate_limit_exceeded', retryAfter: '20' },
  },
  {
    name: 'OpenAI unsupported parameter',
    provider: 'OPENAI',
    status: 400,
    body: {
      error: {
        message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: 'unsupported_parameter' },
  },
  {
    name: 'OpenAI unknown model',
    provider: 'OPENAI',
    status: 404,
    body: { error: { message: 'The model `gpt-9` does not exist.', type: 'invalid_request_error', param: null, code: 'model_not_found' } },
    expected: { status: 404, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: 'model_not_found' },
  },
  {
    name: 'OpenAI server error',
    provider: 'OPENAI',
    status: 500,
    body: { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } },
    expected: { status: 500, code: 'upstream_error', type: 'api_error', upstreamCode: null },
  },
  {
    name: 'OpenAI overload',
    provider: 'OPENAI',
    status: 503,
    headers: { 'retry-after': '3' },
    body: { error: { message: 'The engine is currently overloaded.', type: 'server_error', param: null, code: null } },
    expected: { status: 503, code: 'upstream_error', type: 'overloaded_error', retryAfter: '3' },
  },
  // Anthropic
  {
    name: 'Anthropic invalid key',
    provider: 'ANTHROPIC',
    status: 401,
    body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_1' },
    expected: credential,
  },
  {
    name: 'Anthropic permission error',
    provider: 'ANTHROPIC',
    status: 403,
    body: { type: 'error', error: { type: 'permission_error', message: 'Your API key does not have permission.' } },
    expected: credential,
  },
  {
    name: 'Anthropic overload',
    provider: 'ANTHROPIC',
    status: 529,
    headers: { 'retry-after': '5', 'x-should-retry': 'true' },
    body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    expected: { status: 529, code: 'upstream_error', type: 'overloaded_error', shouldRetry: 'true', retryAfter: '5' },
  },
  {
    name: 'Anthropic spend limit',
    provider: 'ANTHROPIC',
    status: 429,
    body: { type: 'error', error: { type: 'rate_limit_error', message: 'Spend limit reached.', details: { error_code: 'enforced_spend_limit_reached' } } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: 'enforced_spend_limit_reached', shouldRetry: 'false' },
  },
  {
    name: 'Anthropic rate limit',
    provider: 'ANTHROPIC',
    status: 429,
    headers: { 'retry-after': '12' },
    body: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', retryAfter: '12' },
  },
  {
    name: 'Anthropic low credit balance',
    provider: 'ANTHROPIC',
    status: 400,
    body: {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.' },
    },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', shouldRetry: 'false' },
  },
  {
    name: 'Anthropic billing error',
    provider: 'ANTHROPIC',
    status: 402,
    body: { type: 'error', error: { type: 'billing_error', message: 'There is an issue with your billing.' } },
    expected: { status: 402, code: 'upstream_error', type: 'invalid_request_error', shouldRetry: 'false' },
  },
  {
    name: 'Anthropic request too large',
    provider: 'ANTHROPIC',
    status: 413,
    body: { type: 'error', error: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' } },
    expected: { status: 413, code: 'upstream_error', type: 'request_too_large' },
  },
  {
    name: 'Anthropic unknown model',
    provider: 'ANTHROPIC',
    status: 404,
    body: { type: 'error', error: { type: 'not_found_error', message: 'model: claude-9' } },
    expected: { status: 404, code: 'upstream_error', type: 'not_found_error' },
  },
  // Mistral
  {
    name: 'Mistral invalid key',
    provider: 'MISTRAL',
    status: 401,
    body: { message: 'Unauthorized', request_id: 'abc' },
    expected: credential,
  },
  {
    name: 'Mistral extra field',
    provider: 'MISTRAL',
    status: 422,
    body: {
      object: 'error',
      message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'stream_options'], msg: 'Extra inputs are not permitted', input: {} }] },
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
    expected: { status: 422, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: 'extra_forbidden' },
  },
  {
    name: 'Mistral tool call id',
    provider: 'MISTRAL',
    status: 400,
    body: { object: 'error', message: 'Tool call id was toolu_01 but must be a-z, A-Z, 0-9, with a length of 9.', type: 'invalid_request_error', param: null, code: '3280' },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: '3280' },
  },
  {
    name: 'Mistral rate limit',
    provider: 'MISTRAL',
    status: 429,
    body: { object: 'error', message: 'Requests rate limit exceeded', type: 'rate_limit_exceeded', param: null, code: null },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error' },
  },
  // DeepSeek
  {
    name: 'DeepSeek invalid key',
    provider: 'DEEPSEEK',
    status: 401,
    body: { error: { message: 'Authentication Fails, Your api key: ****abcd is invalid', type: 'authentication_error', param: null, code: 'invalid_request_error' } },
    expected: credential,
  },
  {
    name: 'DeepSeek insufficient balance',
    provider: 'DEEPSEEK',
    status: 402,
    body: { error: { message: 'Insufficient Balance', type: 'unknown_error', param: null, code: 'invalid_request_error' } },
    expected: { status: 402, code: 'upstream_error', type: 'invalid_request_error', shouldRetry: 'false' },
  },
  {
    name: 'DeepSeek invalid parameters',
    provider: 'DEEPSEEK',
    status: 422,
    body: { error: { message: 'Invalid max_tokens value', type: 'invalid_request_error', param: null, code: 'invalid_request_error' } },
    expected: { status: 422, code: 'upstream_error', type: 'invalid_request_error' },
  },
  {
    name: 'DeepSeek overload',
    provider: 'DEEPSEEK',
    status: 503,
    body: { error: { message: 'Server overloaded', type: 'service_unavailable_error', param: null, code: null } },
    expected: { status: 503, code: 'upstream_error', type: 'overloaded_error' },
  },
  // xAI
  {
    name: 'xAI invalid key',
    provider: 'XAI',
    status: 400,
    body: { code: 'Client specified an invalid argument', error: 'Incorrect API key provided: xa***cd. You can obtain an API key from https://console.x.ai.' },
    expected: credential,
  },
  {
    name: 'xAI invalid argument',
    provider: 'XAI',
    status: 400,
    body: { code: 'Client specified an invalid argument', error: 'Model does not support parameter reasoningEffort' },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: null },
  },
  {
    name: 'xAI blocked team',
    provider: 'XAI',
    status: 403,
    body: { code: 'The caller does not have permission to execute the specified operation', error: 'Your team is blocked.' },
    expected: credential,
  },
  // zAI
  {
    name: 'zAI authentication failure',
    provider: 'ZAI',
    status: 401,
    body: { error: { code: '1000', message: 'Authentication failed.' } },
    expected: credential,
  },
  {
    name: 'zAI balance exhausted',
    provider: 'ZAI',
    status: 429,
    body: { error: { code: '1113', message: 'Your account is in arrears.' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: '1113', shouldRetry: 'false' },
  },
  {
    name: 'zAI locked account',
    provider: 'ZAI',
    status: 429,
    body: { code: 1112, message: 'Your account has been locked.' },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: '1112', shouldRetry: 'false' },
  },
  {
    name: 'zAI Coding Plan quota',
    provider: 'ZAI',
    status: 429,
    body: { error: { code: '1308', message: 'Usage limit reached for the Coding Plan.' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: '1308', shouldRetry: 'false' },
  },
  {
    name: 'zAI concurrency limit',
    provider: 'ZAI',
    status: 429,
    body: { error: { code: '1302', message: 'High concurrency usage.' } },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: '1302' },
  },
  // Google Vertex AI
  {
    name: 'Google invalid_grant',
    provider: 'VERTEX_AI',
    status: 400,
    body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' },
    expected: credential,
  },
  {
    name: 'Vertex permission denied',
    provider: 'VERTEX_AI',
    status: 403,
    body: { error: { code: 403, message: 'Permission denied on resource project p.', status: 'PERMISSION_DENIED' } },
    expected: credential,
  },
  {
    name: 'Vertex resource exhausted in an array',
    provider: 'VERTEX_AI',
    status: 429,
    body: [{ error: { code: 429, message: 'Resource exhausted. Please try again later.', status: 'RESOURCE_EXHAUSTED' } }],
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: 'RESOURCE_EXHAUSTED' },
  },
  // AWS Bedrock
  {
    name: 'Bedrock unknown access key',
    provider: 'BEDROCK',
    status: 403,
    headers: { 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
    body: { message: 'The security token included in the request is invalid.' },
    expected: credential,
  },
  {
    name: 'Bedrock expired session token',
    provider: 'BEDROCK',
    status: 400,
    headers: { 'x-amzn-errortype': 'ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
    body: { message: 'The security token included in the request is expired' },
    expected: credential,
  },
  {
    name: 'Bedrock validation error',
    provider: 'BEDROCK',
    status: 400,
    headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    body: { message: "Invocation of model ID anthropic.claude-sonnet-4 with on-demand throughput isn't supported." },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: 'ValidationException' },
  },
  {
    name: 'Bedrock throttling',
    provider: 'BEDROCK',
    status: 429,
    headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    body: { message: 'Too many requests, please wait before trying again.' },
    expected: { status: 429, code: 'upstream_error', type: 'rate_limit_error', upstreamCode: 'ThrottlingException' },
  },
  {
    name: 'Bedrock service quota',
    provider: 'BEDROCK',
    status: 400,
    body: { __type: 'com.amazon.bedrock#ServiceQuotaExceededException', message: 'Your request exceeds the service quota for your account.' },
    expected: { status: 400, code: 'upstream_error', type: 'invalid_request_error', upstreamCode: 'ServiceQuotaExceededException', shouldRetry: 'false' },
  },
  {
    name: 'Bedrock unavailable',
    provider: 'BEDROCK',
    status: 503,
    headers: { 'x-amzn-errortype': 'ServiceUnavailableException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    body: { message: 'Bedrock is unable to process your request.' },
    expected: { status: 503, code: 'upstream_error', type: 'overloaded_error', upstreamCode: 'ServiceUnavailableException' },
  },
];

describe('mapUpstreamError', () => {
  describe.each(cases)('$name', ({ provider, status, body, headers, expected }) => {
    const error = mapUpstreamError({ provider, status, headers: headers ?? {}, body: JSON.stringify(body), providerKeyId: 'pk_123' });

    it('sets the status', () => {
      expect(error.status).toBe(expected.status);
    });

    it('sets the code', () => {
      expect(error.code).toBe(expected.code);
    });

    it('sets the type', () => {
      expect(error.type).toBe(expected.type);
    });

    it('sets x-should-retry', () => {
      expect(error.headers['x-should-retry']).toBe(expected.shouldRetry);
    });

    it('forwards retry-after', () => {
      expect(error.headers['retry-after']).toBe(expected.retryAfter);
    });

    if (expected.upstreamCode !== undefined) {
      it('keeps the provider code', () => {
        expect(error.upstreamCode).toBe(expected.upstreamCode);
      });
    }

    it('keeps the provider key id', () => {
      expect(error.providerKeyId).toBe('pk_123');
    });
  });

  it('names the provider key in a credential failure', () => {
    const error = mapUpstreamError({ provider: 'ANTHROPIC', status: 401, headers: {}, body: '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}', providerKeyId: 'pk_9' });
    expect(error.message).toContain('provider key pk_9');
    expect(error.message).toContain('invalid x-api-key');
  });

  it('names the provider in the message', () => {
    const error = mapUpstreamError({ provider: 'DEEPSEEK', status: 503, headers: {}, body: '{"error":{"message":"Server overloaded"}}' });
    expect(error.message).toBe('DeepSeek: Server overloaded');
  });

  it('keeps the param of an OpenAI error', () => {
    const body = JSON.stringify({ error: { message: 'Unsupported parameter', type: 'invalid_request_error', param: 'max_tokens', code: 'unsupported_parameter' } });
    const error = mapUpstreamError({ provider: 'OPENAI', status: 400, headers: {}, body });
    expect(renderErrorBody(error, 'openai')).toMatchObject({ error: { param: 'max_tokens', code: 'unsupported_parameter' } });
  });

  it('lists Mistral validation errors in the message', () => {
    const error = mapUpstreamError({ provider: 'MISTRAL', status: 422, headers: {}, body: JSON.stringify(cases.find((entry) => entry.name === 'Mistral extra field')!.body) });
    expect(error.message).toBe('Mistral: body.stream_options: Extra inputs are not permitted');
  });

  it('hides a body that is not JSON', () => {
    const error = mapUpstreamError({ provider: 'OPENAI', status: 502, headers: {}, body: '<html><body>Bad gateway at edge-7</body></html>' });
    expect(error.message).toBe('OpenAI responded with HTTP 502.');
  });

  it('maps a status outside 400 to 599 to 502', () => {
    const error = mapUpstreamError({ provider: 'OPENAI', status: 302, headers: { location: 'https://example.invalid' }, body: '' });
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_error');
  });

  it('shortens a long message', () => {
    const error = mapUpstreamError({ provider: 'OPENAI', status: 400, headers: {}, body: JSON.stringify({ error: { message: 'x'.repeat(5_000) } }) });
    expect(error.message.length).toBeLessThan(1_100);
  });
});

describe('scrubbing provider messages', () => {
  it('removes a key echoed in full', () => {
    const key = 'sk-proj-Abc123Def456Ghi789';
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    const error = mapUpstreamError({ provider: 'OPENAI', status: 401, headers: {}, body, secrets: [key] });
    expect(error.message).not.toContain(key);
    expect(error.message).toContain('[redacted]');
  });

  it('removes a given secret of no known shape', () => {
    const key = '5f2b8c0e9a7d4e1f.Qw7ErT9yUi0oP3aS';
    const body = JSON.stringify({ error: { code: '1302', message: `Key ${key} is over its concurrency limit.` } });
    const error = mapUpstreamError({ provider: 'ZAI', status: 429, headers: {}, body, secrets: [key] });
    expect(error.message).toBe('zAI: Key [redacted] is over its concurrency limit.');
  });

  it('removes a masked key echoed by the provider', () => {
    const body = JSON.stringify({ error: { message: 'Incorrect API key provided: sk-proj-********abcd.', code: 'invalid_api_key' } });
    const error = mapUpstreamError({ provider: 'OPENAI', status: 401, headers: {}, body });
    expect(error.message).not.toContain('abcd');
  });
});

describe('scrubSecrets', () => {
  const samples: [string, string][] = [
    ['a bearer token', 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345'],
    ['an OpenAI project key', 'key sk-proj-AbCdEfGhIjKlMnOp was rejected'],
    ['an Anthropic key', 'key sk-ant-api03-AbCdEfGhIjKl_MnOp-QrSt was rejected'],
    ['an xAI key', 'key xai-AbCdEfGhIjKlMnOpQrSt was rejected'],
    ['an AWS access key id', 'The access key AKIAIOSFODNN7EXAMPLE is invalid'],
    ['an AWS temporary key id', 'The access key ASIAIOSFODNN7EXAMPLE is invalid'],
    ['a JWT', 'assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhQGIuY29tIn0.c2lnbmF0dXJl failed'],
    ['a Google access token', 'token ya29.a0AfH6SMBx3Q-abcdefghijkl expired'],
    ['a Google API key', 'key AIzaSyA1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q is invalid'],
    ['a PEM private key', 'key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY----- is invalid'],
  ];

  it.each(samples)('removes %s', (_name, text) => {
    expect(scrubSecrets(text)).toContain('[redacted]');
  });

  it('keeps the scheme word of a bearer token', () => {
    expect(scrubSecrets('Bearer abcdefghijklmnopqrstuvwxyz012345')).toBe('Bearer [redacted]');
  });

  it('removes the JSON-escaped form of a secret', () => {
    const secret = 'pa"ss\\word';
    expect(scrubSecrets(JSON.stringify({ key: secret }), [secret])).toBe('{"key":"[redacted]"}');
  });

  it('removes the longer of two overlapping secrets whole', () => {
    expect(scrubSecrets('value abc123xyz', ['abc', 'abc123xyz'])).toBe('value [redacted]');
  });

  it('ignores empty secrets', () => {
    expect(scrubSecrets('nothing secret here', [''])).toBe('nothing secret here');
  });

  it('keeps ordinary prose', () => {
    const text = 'Bearer authentication failed for the task-force model; risk-assessment is off.';
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('mapTransportError', () => {
  it('maps a timeout to 504', () => {
    const error = mapTransportError(new UpstreamTransportError('headers_timeout', 'https://api.openai.com', 'timed out'), 'OPENAI', 'pk_1');
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
  });

  it('maps a refused connection to 502', () => {
    const error = mapTransportError(new UpstreamTransportError('connection_refused', 'https://api.mistral.ai', 'refused'), 'MISTRAL');
    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_unreachable');
  });

  it('names the provider in the message', () => {
    const error = mapTransportError(new UpstreamTransportError('body_timeout', 'https://api.x.ai', 'Request to https://api.x.ai failed.'), 'XAI');
    expect(error.message).toBe('xAI: Request to https://api.x.ai failed.');
  });
});
