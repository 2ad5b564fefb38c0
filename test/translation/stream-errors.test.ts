import { describe, expect, it } from 'vitest';
import { errorTypeFromAnthropic, errorTypeFromOpenAi } from '../../src/proxy/translation/stream-errors.js';

describe('stream error types', () => {
  it.each([
    ['server_error', 'api_error'],
    ['rate_limit_exceeded', 'rate_limit_error'],
    ['insufficient_quota', 'rate_limit_error'],
    ['invalid_request_error', 'invalid_request_error'],
    ['something_new', 'api_error'],
    ['constructor', 'api_error'],
    ['toString', 'api_error'],
  ])('OpenAI type %s becomes %s', (type, expected) => {
    expect(errorTypeFromOpenAi(type)).toBe(expected);
  });

  it('OpenAI type that is not a string becomes api_error', () => {
    expect(errorTypeFromOpenAi(42)).toBe('api_error');
  });

  it.each([
    ['overloaded_error', 'overloaded_error'],
    ['constructor', 'api_error'],
  ])('Anthropic type %s becomes %s', (type, expected) => {
    expect(errorTypeFromAnthropic(type)).toBe(expected);
  });
});
