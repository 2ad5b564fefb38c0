import { describe, expect, it } from 'vitest';
import { anthropicToolIdPattern, createAnthropicToolIdMap } from '../../src/proxy/translation/tool-ids.js';

describe('Anthropic tool id map', () => {
  const validIds = ['toolu_01A09q90qw90lq917835lq9', 'call_abc123', 'abcDEF123', 'a-b_c'];

  it.each(validIds)('keeps the valid id %s', (id) => {
    const ids = createAnthropicToolIdMap();
    expect(ids.rewrite(id)).toBe(id);
    expect(ids.size).toBe(0);
  });

  const invalidIds = ['functions.get_weather:0', 'call abc', 'tool/1', 'ü'];

  it.each(invalidIds)('rewrites the invalid id %s to a valid one', (id) => {
    const ids = createAnthropicToolIdMap();
    const rewritten = ids.rewrite(id);
    expect(rewritten).toMatch(anthropicToolIdPattern);
    expect(rewritten).not.toBe(id);
  });

  it('rewrites an id the same way every time', () => {
    const ids = createAnthropicToolIdMap();
    const first = ids.rewrite('functions.get_weather:0');
    expect(ids.rewrite('functions.get_weather:0')).toBe(first);
    expect(ids.size).toBe(1);
  });

  it('rewrites an id the same way in a new map', () => {
    expect(createAnthropicToolIdMap().rewrite('functions.x:1')).toBe(createAnthropicToolIdMap().rewrite('functions.x:1'));
  });

  it('gives different ids to different originals', () => {
    const ids = createAnthropicToolIdMap();
    expect(ids.rewrite('functions.x:1')).not.toBe(ids.rewrite('functions.x:2'));
  });

  it('restores the original of a rewritten id', () => {
    const ids = createAnthropicToolIdMap();
    const rewritten = ids.rewrite('functions.get_weather:0');
    expect(ids.restore(rewritten)).toBe('functions.get_weather:0');
  });

  it('passes through ids it did not make', () => {
    const ids = createAnthropicToolIdMap();
    ids.rewrite('functions.get_weather:0');
    expect(ids.restore('toolu_new')).toBe('toolu_new');
  });
});
