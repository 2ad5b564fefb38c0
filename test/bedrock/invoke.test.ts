import { describe, expect, it } from 'vitest';
import { bedrockAnthropicVersion, prepareBedrockInvokeRequest } from '../../src/proxy/upstream/bedrock/bedrock-invoke.js';

const clientBody = {
  model: 'claude-sonnet-4-5',
  max_tokens: 100,
  stream: true,
  tags: ['team-a'],
  messages: [{ role: 'user', content: 'Hello' }],
  system: 'Be brief.',
};

describe('prepareBedrockInvokeRequest', () => {
  it('builds the streaming URL and body', () => {
    const prepared = prepareBedrockInvokeRequest({
      region: 'eu-central-1',
      modelId: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0',
      stream: true,
      clientBody,
      anthropicBeta: 'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
    });

    expect(prepared.url.href).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream');
    expect(JSON.parse(prepared.body)).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hello' }],
      system: 'Be brief.',
      anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
    });
    expect(prepared.headers).toEqual({ 'content-type': 'application/json' });
  });

  it('builds the plain invoke URL', () => {
    const prepared = prepareBedrockInvokeRequest({ region: 'us-east-1', modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0', stream: false, clientBody });

    expect(prepared.url.pathname).toBe('/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke');
    expect(prepared.headers.accept).toBe('application/json');
  });

  it('replaces a client anthropic_version', () => {
    const prepared = prepareBedrockInvokeRequest({ region: 'us-east-1', modelId: 'anthropic.x', stream: false, clientBody: { ...clientBody, anthropic_version: '2023-06-01' } });

    expect(JSON.parse(prepared.body).anthropic_version).toBe(bedrockAnthropicVersion);
  });

  it('merges betas from the body and the header', () => {
    const prepared = prepareBedrockInvokeRequest({
      region: 'us-east-1',
      modelId: 'anthropic.x',
      stream: false,
      clientBody: { ...clientBody, anthropic_beta: ['a', 'b'] },
      anthropicBeta: 'b,c',
    });

    expect(JSON.parse(prepared.body).anthropic_beta).toEqual(['a', 'b', 'c']);
  });

  it('sends no anthropic_beta without betas', () => {
    const prepared = prepareBedrockInvokeRequest({ region: 'us-east-1', modelId: 'anthropic.x', stream: false, clientBody, anthropicBeta: ' , ' });

    expect('anthropic_beta' in JSON.parse(prepared.body)).toBe(false);
  });

  it('leaves the client body unchanged', () => {
    const body = structuredClone(clientBody);
    prepareBedrockInvokeRequest({ region: 'us-east-1', modelId: 'anthropic.x', stream: true, clientBody: body });

    expect(body).toEqual(clientBody);
  });
});
