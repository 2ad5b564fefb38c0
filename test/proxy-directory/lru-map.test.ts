import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/proxy/directory/expiring-lru-cache.js';

/** Fills a map of 3 entries, reads `read` in order, adds one more and returns the keys left. */
function keysAfter(reads: string[], change?: (map: LruMap<string, number>) => void): string[] {
  const map = new LruMap<string, number>(3);
  map.set('a', 1);
  map.set('b', 2);
  map.set('c', 3);
  for (const key of reads) map.get(key);
  change?.(map);
  map.set('d', 4);
  return [...map.values()].map((value) => 'abcd'[value - 1]!);
}

describe('LruMap', () => {
  it('evicts the least recently read entry', () => {
    expect(keysAfter(['a'])).toEqual(['c', 'a', 'd']);
    expect(keysAfter(['a', 'b'])).toEqual(['a', 'b', 'd']);
  });

  it('keeps the order right when the newest entry is read again', () => {
    expect(keysAfter(['c', 'c', 'a', 'c'])).toEqual(['a', 'c', 'd']);
  });

  it('moves an entry again after the newest one was deleted and set anew', () => {
    const keys = keysAfter(['a'], (map) => {
      map.delete('a');
      map.set('a', 1);
      map.get('b');
    });
    expect(keys).toEqual(['a', 'b', 'd']);
  });

  it('reorders after clear and deleteWhere', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.deleteWhere((_value, key) => key === 'b');
    map.set('c', 3);
    map.get('a');
    map.set('d', 4);
    expect([...map.values()]).toEqual([1, 4]);

    map.clear();
    map.set('x', 5);
    map.set('y', 6);
    map.get('x');
    map.set('z', 7);
    expect([...map.values()]).toEqual([5, 7]);
  });
});
