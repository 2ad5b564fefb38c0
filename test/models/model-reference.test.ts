import { describe, expect, it } from 'vitest';
import {
  checkBareModelId,
  formatModelReference,
  parseAllowListEntry,
  parseModelReference,
} from '../../src/models/model-reference.js';

function parseError(text: string): { code: string; error: string } {
  const parsed = parseModelReference(text);
  if (parsed.ok) throw new Error(`parseModelReference accepted ${JSON.stringify(text)}`);
  return parsed;
}

describe('parseModelReference', () => {
  it('splits on the first slash', () => {
    const parsed = parseModelReference('vertex/google/gemini-2.5-pro');

    expect(parsed).toEqual({ ok: true, value: { provider: 'VERTEX_AI', model: 'google/gemini-2.5-pro' } });
  });

  it('keeps an ARN as the model id', () => {
    const arn = 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0';

    const parsed = parseModelReference(`bedrock/${arn}`);

    expect(parsed).toEqual({ ok: true, value: { provider: 'BEDROCK', model: arn } });
  });

  it('maps the google prefix to vertex', () => {
    const parsed = parseModelReference('google/gemini-2.5-flash');

    expect(parsed).toEqual({ ok: true, value: { provider: 'VERTEX_AI', model: 'gemini-2.5-flash' } });
  });

  it('rejects an unknown provider', () => {
    const failure = parseError('openrouter/gpt-4o');

    expect(failure.code).toBe('unknown_provider');
    expect(failure.error).toContain('"openrouter"');
    expect(failure.error).toContain('anthropic, openai, vertex');
  });

  it('rejects prototype names as providers', () => {
    expect(parseError('toString/x').code).toBe('unknown_provider');
    expect(parseError('constructor/x').code).toBe('unknown_provider');
    expect(parseError('__proto__/x').code).toBe('unknown_provider');
  });

  it('rejects an empty model', () => {
    const failure = parseError('openai/');

    expect(failure.code).toBe('invalid_model_reference');
    expect(failure.error).toContain('"openai/"');
  });

  it('rejects a leading slash', () => {
    expect(parseError('/gpt-4o').code).toBe('invalid_model_reference');
  });

  it('rejects spaces in the model', () => {
    expect(parseError('openai/gpt 4o').code).toBe('invalid_model_reference');
  });

  it('accepts a 256-character model', () => {
    const parsed = parseModelReference(`openai/${'m'.repeat(256)}`);

    expect(parsed.ok).toBe(true);
  });

  it('rejects a 257-character model', () => {
    expect(parseError(`openai/${'m'.repeat(257)}`).code).toBe('invalid_model_reference');
  });

  it('rejects 10,000 characters without echoing them', () => {
    const failure = parseError(`openai/${'m'.repeat(10_000)}`);

    expect(failure.code).toBe('invalid_model_reference');
    expect(failure.error).toContain('10007 characters');
    expect(failure.error.length).toBeLessThan(200);
  });

  it('cuts a long unknown prefix in the message', () => {
    const failure = parseError(`${'p'.repeat(200)}/model`);

    expect(failure.error.length).toBeLessThan(200);
  });
});

describe('checkBareModelId', () => {
  it('accepts a catalog id', () => {
    expect(checkBareModelId('gpt-4o')).toBeUndefined();
  });

  it('rejects an empty id', () => {
    expect(checkBareModelId('')).toContain('empty');
  });

  it('rejects 10,000 characters without echoing them', () => {
    const error = checkBareModelId('m'.repeat(10_000));

    expect(error).toContain('10000 characters');
    expect(error).not.toContain('mmmm');
  });

  it('rejects a newline', () => {
    expect(checkBareModelId('gpt-4o\n')).toContain('control characters');
  });
});

describe('formatModelReference', () => {
  it('writes the canonical prefix', () => {
    expect(formatModelReference({ provider: 'VERTEX_AI', model: 'gemini-2.5-pro' })).toBe('vertex/gemini-2.5-pro');
  });
});

describe('parseAllowListEntry', () => {
  it('accepts a canonical id', () => {
    expect(parseAllowListEntry('openai/gpt-4o')).toEqual({ ok: true, value: 'openai/gpt-4o' });
  });

  it('accepts a provider pattern', () => {
    expect(parseAllowListEntry('anthropic/*')).toEqual({ ok: true, value: 'anthropic/*' });
  });

  it('canonicalizes the google prefix', () => {
    expect(parseAllowListEntry('google/*')).toEqual({ ok: true, value: 'vertex/*' });
  });

  it('rejects an unknown provider', () => {
    const parsed = parseAllowListEntry('azure/gpt-4o');

    expect(parsed.ok).toBe(false);
  });
});
