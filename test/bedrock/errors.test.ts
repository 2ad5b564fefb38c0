import { describe, expect, it } from 'vitest';
import { bedrockExceptionName, mapBedrockHttpError, mapBedrockStreamException } from '../../src/proxy/upstream/bedrock/bedrock-errors.js';
import { usEastRow } from './helpers.js';

const context = {
  providerKeyId: 'UHJvdmlkZXJLZXk6NDI',
  region: 'us-east-1',
  modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
  secrets: [usEastRow.accessKeyId, usEastRow.secretAccessKey],
};

function httpError(status: number, exception: string, message: string, headers: Record<string, string> = {}) {
  return mapBedrockHttpError(
    { status, headers: { 'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...headers }, body: JSON.stringify({ message }) },
    context,
  );
}

describe('bedrockExceptionName', () => {
  it('reads the header before the URL', () => {
    expect(bedrockExceptionName({ 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, {})).toBe('ThrottlingException');
  });

  it('reads a namespaced __type', () => {
    expect(bedrockExceptionName({}, { __type: 'com.amazon.coral.service#UnrecognizedClientException' })).toBe('UnrecognizedClientException');
  });

  it('returns undefined without a name', () => {
    expect(bedrockExceptionName({}, { message: 'x' })).toBeUndefined();
  });
});

describe('mapBedrockHttpError', () => {
  for (const exception of ['UnrecognizedClientException', 'InvalidSignatureException']) {
    it(`maps ${exception} to a credential error`, () => {
      const error = httpError(403, exception, 'The security token included in the request is invalid.');

      expect(error.status).toBe(502);
      expect(error.code).toBe('provider_authentication_error');
      expect(error.headers['x-should-retry']).toBe('false');
      expect(error.providerKeyId).toBe(context.providerKeyId);
      expect(error.message).toMatch(/^AWS Bedrock rejected the stored credential of provider key UHJvdmlkZXJLZXk6NDI for us-east-1 \(/);
      expect(error.message).toContain(exception);
    });
  }

  it('explains missing IAM permissions', () => {
    const error = httpError(
      403,
      'AccessDeniedException',
      'User: arn:aws:iam::123456789012:user/gateway is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/x',
    );

    expect(error.status).toBe(403);
    expect(error.type).toBe('permission_error');
    expect(error.code).toBe('upstream_error');
    expect(error.upstreamCode).toBe('AccessDeniedException');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toMatch(/the IAM identity of provider key UHJvdmlkZXJLZXk6NDI is not allowed to call anthropic\.claude-sonnet-4-5-20250929-v1:0 in us-east-1/);
    expect(error.message).toMatch(/Grant it bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream/);
  });

  it('explains missing model access', () => {
    const error = httpError(403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.");

    expect(error.status).toBe(403);
    expect(error.message).toMatch(/the AWS account of provider key UHJvdmlkZXJLZXk6NDI has no access to anthropic\.claude-sonnet-4-5-20250929-v1:0 in us-east-1/);
    expect(error.message).toMatch(/Model access page of the Bedrock console/);
  });

  it('says an inference profile is needed', () => {
    const error = httpError(
      400,
      'ValidationException',
      "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
    );

    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toMatch(/Use a cross-region inference profile id, such as bedrock\/us\.anthropic\.claude-sonnet-4-5-20250929-v1:0/);
  });

  it('keeps other validation messages', () => {
    const error = httpError(400, 'ValidationException', 'messages: at least one message is required');

    expect(error.status).toBe(400);
    expect(error.message).toBe('AWS Bedrock: messages: at least one message is required.');
  });

  it('maps throttling to 429 with retry-after', () => {
    const error = httpError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.', { 'retry-after': '3' });

    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.headers['retry-after']).toBe('3');
  });

  for (const exception of ['ServiceUnavailableException', 'ModelNotReadyException']) {
    it(`maps ${exception} to 503`, () => {
      const error = httpError(exception === 'ModelNotReadyException' ? 429 : 503, exception, 'Try again later.');

      expect(error.status).toBe(503);
      expect(error.type).toBe('overloaded_error');
    });
  }

  it('maps a model timeout to 504', () => {
    const error = httpError(408, 'ModelTimeoutException', 'Model has timed out in processing the request.');

    expect(error.status).toBe(504);
    expect(error.type).toBe('api_error');
    expect(error.upstreamCode).toBe('ModelTimeoutException');
  });

  it('maps a missing model to 404', () => {
    const error = httpError(404, 'ResourceNotFoundException', 'Model not found.');

    expect(error.status).toBe(404);
    expect(error.message).toMatch(/was not found in us-east-1/);
  });

  it('falls back to the generic mapping for other exceptions', () => {
    const error = httpError(400, 'ServiceQuotaExceededException', 'Quota exceeded.');

    expect(error.status).toBe(400);
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toBe('AWS Bedrock: Quota exceeded.');
  });

  it('treats a body that is not JSON as no message', () => {
    const error = mapBedrockHttpError({ status: 500, headers: { 'x-amzn-errortype': 'InternalServerException' }, body: '<html>oops</html>' }, context);

    expect(error.status).toBe(500);
    expect(error.message).toBe('AWS Bedrock had an internal error.');
  });
});

describe('mapBedrockStreamException', () => {
  const cases: [string, number, string][] = [
    ['throttlingException', 429, 'rate_limit_error'],
    ['serviceUnavailableException', 503, 'overloaded_error'],
    ['modelTimeoutException', 504, 'api_error'],
    ['modelStreamErrorException', 502, 'api_error'],
    ['validationException', 400, 'invalid_request_error'],
    ['internalServerException', 500, 'api_error'],
    ['somethingNewException', 502, 'api_error'],
  ];

  for (const [type, status, errorType] of cases) {
    it(`maps ${type}`, () => {
      const error = mapBedrockStreamException({ type, message: 'It failed.' }, context);

      expect(error.status).toBe(status);
      expect(error.type).toBe(errorType);
    });
  }
});

describe('secret scrubbing', () => {
  const echoes = [
    `The request signature for ${usEastRow.accessKeyId} with secret ${usEastRow.secretAccessKey} does not match.`,
    `Credential=${usEastRow.accessKeyId}/20261204/us-east-1/bedrock/aws4_request; key ${JSON.stringify(usEastRow.secretAccessKey)}`,
  ];
  const exceptions = [
    [403, 'InvalidSignatureException'],
    [403, 'AccessDeniedException'],
    [400, 'ValidationException'],
    [429, 'ThrottlingException'],
    [503, 'ServiceUnavailableException'],
    [400, 'SomeUnknownException'],
  ] as const;

  for (const [status, exception] of exceptions) {
    it(`keeps the secrets out of ${exception}`, () => {
      for (const echo of echoes) {
        const message = httpError(status, exception, echo).message;

        expect(message).not.toContain(usEastRow.secretAccessKey);
        expect(message).not.toContain(usEastRow.accessKeyId);
      }
    });
  }

  it('keeps the secrets out of stream exceptions', () => {
    const message = mapBedrockStreamException({ type: 'throttlingException', message: echoes[0]! }, context).message;

    expect(message).not.toContain(usEastRow.secretAccessKey);
    expect(message).not.toContain(usEastRow.accessKeyId);
  });
});
