import { describe, expect, it } from 'vitest';
import { boundTags } from '../../src/proxy/request-log/request-log-entry.js';

describe('boundTags', () => {
  it('trims whitespace', () => {
    expect(boundTags(['  checkout ', '\tsearch\n'])).toEqual(['checkout', 'search']);
  });

  it('drops empty tags', () => {
    expect(boundTags(['', '   ', 'checkout'])).toEqual(['checkout']);
  });

  it('keeps the first 10 tags', () => {
    const raw = Array.from({ length: 14 }, (_, index) => `tag-${index}`);

    const tags = boundTags(raw);

    expect(tags).toHaveLength(10);
    expect(tags.at(-1)).toBe('tag-9');
  });

  it('counts only kept tags toward the limit', () => {
    const raw = ['', 'a', 'a', ' ', ...Array.from({ length: 12 }, (_, index) => `tag-${index}`)];

    const tags = boundTags(raw);

    expect(tags).toHaveLength(10);
    expect(tags[0]).toBe('a');
    expect(tags.at(-1)).toBe('tag-8');
  });

  it('cuts tags to 64 characters', () => {
    expect(boundTags(['x'.repeat(100)])).toEqual(['x'.repeat(64)]);
  });

  it('counts code points, not UTF-16 units', () => {
    const [tag] = boundTags(['😀'.repeat(70)]);

    expect(Array.from(tag!)).toHaveLength(64);
    expect(tag).toBe('😀'.repeat(64));
  });

  it('removes whitespace left at the cut', () => {
    expect(boundTags([`${'x'.repeat(63)} tail`])).toEqual(['x'.repeat(63)]);
  });

  it('removes duplicates', () => {
    expect(boundTags(['a', 'b', 'a', ' b '])).toEqual(['a', 'b']);
  });

  it('removes tags equal after the cut', () => {
    const prefix = 'y'.repeat(64);

    expect(boundTags([`${prefix}1`, `${prefix}2`])).toEqual([prefix]);
  });

  it('returns no tags for none', () => {
    expect(boundTags([])).toEqual([]);
  });
});
