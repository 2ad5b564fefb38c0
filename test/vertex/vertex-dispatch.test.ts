import { describe, expect, it } from 'vitest';
import { ProxyError } from '../../src/proxy/errors.js';
import { countTokensNotSupported, dispatchVertexModel, type VertexRoute } from '../../src/proxy/upstream/vertex/vertex-dispatch.js';

describe('dispatchVertexModel', () => {
  const table: [string, VertexRoute][] = [
    ['claude-sonnet-4-5@20250929', { endpoint: 'anthropic', model: 'claude-sonnet-4-5@20250929' }],
    ['claude-haiku-4-5', { endpoint: 'anthropic', model: 'claude-haiku-4-5' }],
    ['anthropic/claude-opus-4-1@20250805', { endpoint: 'anthropic', model: 'claude-opus-4-1@20250805' }],
    ['publishers/anthropic/models/claude-sonnet-4@20250514', { endpoint: 'anthropic', model: 'claude-sonnet-4@20250514' }],
    ['gemini-2.5-flash', { endpoint: 'openai-compatible', model: 'google/gemini-2.5-flash' }],
    ['gemini-2.5-pro', { endpoint: 'openai-compatible', model: 'google/gemini-2.5-pro' }],
    ['google/gemini-2.5-flash', { endpoint: 'openai-compatible', model: 'google/gemini-2.5-flash' }],
    ['publishers/google/models/gemini-2.5-pro', { endpoint: 'openai-compatible', model: 'google/gemini-2.5-pro' }],
    ['meta/llama-4-maverick-17b-128e-instruct-maas', { endpoint: 'openai-compatible', model: 'meta/llama-4-maverick-17b-128e-instruct-maas' }],
    ['xai/grok-4.1-fast-reasoning', { endpoint: 'openai-compatible', model: 'xai/grok-4.1-fast-reasoning' }],
    ['mistralai/mistral-medium-3', { endpoint: 'openai-compatible', model: 'mistralai/mistral-medium-3' }],
  ];
  for (const [model, route] of table) {
    it(`routes ${model}`, () => {
      expect(dispatchVertexModel(model)).toEqual(route);
    });
  }

  const invalid: [string, RegExp][] = [
    ['claude-sonnet-4-5/../../x', /is not a model id/],
    ['anthropic/claude:streamRawPredict', /is not a model id/],
    ['anthropic/claude?x=1', /is not a model id/],
    ['Google/gemini-2.5-flash', /invalid publisher/],
    ['/gemini', /invalid publisher/],
    ['google/', /is not a model id/],
    ['', /is not a model id/],
    ['gemini 2.5', /is not a model id/],
  ];
  for (const [model, message] of invalid) {
    it(`rejects ${JSON.stringify(model)}`, () => {
      let caught: unknown;
      try {
        dispatchVertexModel(model);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ProxyError);
      expect((caught as ProxyError).status).toBe(400);
      expect((caught as ProxyError).param).toBe('model');
      expect((caught as ProxyError).message).toMatch(message);
    });
  }
});

describe('countTokensNotSupported', () => {
  it('is a 404 naming the model', () => {
    const error = countTokensNotSupported({ endpoint: 'openai-compatible', model: 'google/gemini-2.5-flash' });
    expect(error.status).toBe(404);
    expect(error.code).toBe('not_found_error');
    expect(error.message).toContain('google/gemini-2.5-flash');
  });
});
