import { describe, expect, it } from 'vitest';
import { isoTimestamp } from '../../src/logger.js';

describe('isoTimestamp', () => {
  const times = [
    0,
    1,
    999,
    1_000,
    Date.UTC(2026, 11, 5, 1, 42, 43, 7),
    Date.UTC(2026, 11, 5, 1, 42, 43, 70),
    Date.UTC(2026, 11, 5, 1, 42, 43, 700),
    Date.UTC(2026, 11, 5, 1, 42, 43, 999),
    Date.UTC(2026, 11, 5, 1, 42, 44, 0),
    Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(2027, 0, 1, 0, 0, 0, 0),
    Date.UTC(2028, 1, 29, 12, 0, 0, 5),
  ];

  it.each(times)('writes %i as toISOString does', (now) => {
    expect(isoTimestamp(now)).toBe(`,"time":"${new Date(now).toISOString()}"`);
  });

  it('stays right when the time moves back into an earlier second', () => {
    const later = Date.UTC(2026, 11, 5, 1, 42, 44, 500);
    const earlier = Date.UTC(2026, 11, 5, 1, 42, 43, 250);
    expect(isoTimestamp(later)).toBe(`,"time":"${new Date(later).toISOString()}"`);
    expect(isoTimestamp(earlier)).toBe(`,"time":"${new Date(earlier).toISOString()}"`);
  });

  it('matches every millisecond of a second and the next second', () => {
    const start = Date.UTC(2026, 11, 5, 10, 0, 0, 0);
    for (let now = start; now < start + 2_000; now += 1) {
      expect(isoTimestamp(now)).toBe(`,"time":"${new Date(now).toISOString()}"`);
    }
  });
});
