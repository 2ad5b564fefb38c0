import { describe, expect, it } from 'vitest';
import { ModelCatalog, type CatalogModel } from '../../src/models/catalog.js';
import { costMicroUsd } from '../../src/proxy/cost.js';
import { emptyUsage, type CanonicalUsage } from '../../src/proxy/usage.js';

const catalog = ModelCatalog.builtIn();

function entry(id: string): CatalogModel {
  const found = catalog.get(id);
  if (!found) throw new Error(`no catalog entry ${id}`);
  return found;
}

function usage(counts: Partial<CanonicalUsage>): CanonicalUsage {
  return { ...emptyUsage, ...counts };
}

describe('costMicroUsd', () => {
  it('prices each token column', () => {
    // Claude Sonnet 4.5: input 3, cache read 0.30, cache write 3.75, output 15 micro-USD per token.
    // 472 × 3 + 20,480 × 0.30 + 1,024 × 3.75 + 356 × 15 = 1,416 + 6,144 + 3,840 + 5,340 = 16,740.
    const cost = costMicroUsd(
      usage({ inputUncached: 472, cacheRead: 20_480, cacheWrite: 1_024, output: 356 }),
      entry('anthropic/claude-sonnet-4-5'),
    );

    expect(cost).toBe(16_740);
  });

  it('rounds half up', () => {
    // GPT-4o mini cache reads: 20 × 0.075 = 1.5 micro-USD.
    expect(costMicroUsd(usage({ cacheRead: 20 }), entry('openai/gpt-4o-mini'))).toBe(2);
  });

  it('rounds below half down', () => {
    // GPT-4o mini input: 3 × 0.15 = 0.45 micro-USD.
    expect(costMicroUsd(usage({ inputUncached: 3 }), entry('openai/gpt-4o-mini'))).toBe(0);
  });

  it('rounds the sum, not each column', () => {
    // GPT-4o mini: 3 × 0.15 + 1 × 0.60 = 1.05 micro-USD; rounding each column first would give 0 + 1.
    expect(costMicroUsd(usage({ inputUncached: 3, output: 1 }), entry('openai/gpt-4o-mini'))).toBe(1);
  });

  it('prices cache at input without cache prices', () => {
    // Mistral Small: input 0.10, output 0.30. 1,000 × 0.10 + 1,000 × 0.10 + 100 × 0.30 = 230.
    const cost = costMicroUsd(
      usage({ cacheRead: 1_000, cacheWrite: 1_000, output: 100 }),
      entry('mistral/mistral-small-latest'),
    );

    expect(cost).toBe(230);
  });

  it('does not add reasoning to output', () => {
    // o4-mini output 4.40: 1,000 output tokens, 800 of them reasoning, cost 4,400.
    expect(costMicroUsd(usage({ output: 1_000, reasoning: 800 }), entry('openai/o4-mini'))).toBe(4_400);
  });

  it('prices DeepSeek hits and misses', () => {
    // V4 Pro: miss 1.32, hit 0.044, output 3.96.
    // 176 × 1.32 + 1,024 × 0.044 + 860 × 3.96 = 232.32 + 45.056 + 3,405.6 = 3,682.976 → 3,683.
    const cost = costMicroUsd(
      usage({ inputUncached: 176, cacheRead: 1_024, output: 860, reasoning: 512 }),
      entry('deepseek/deepseek-v4-pro'),
    );

    expect(cost).toBe(3_683);
  });

  it('stays exact for large counts', () => {
    // Claude Opus 4.1 output 75: 2,000,000 × 75 = 150,000,000 micro-USD (150 USD).
    expect(costMicroUsd(usage({ output: 2_000_000 }), entry('anthropic/claude-opus-4-1'))).toBe(150_000_000);
  });

  it('stays exact past 2^53 pico-USD', () => {
    // 80,000,000 × 75 + 80,000,000 × 18.75 = 6,000,000,000 + 1,500,000,000 = 7,500,000,000 micro-USD.
    const cost = costMicroUsd(usage({ output: 80_000_000, cacheWrite: 80_000_000 }), entry('anthropic/claude-opus-4-1'));

    expect(cost).toBe(7_500_000_000);
  });

  it('returns zero for no tokens', () => {
    expect(costMicroUsd(emptyUsage, entry('openai/gpt-4o'))).toBe(0);
  });

  it('returns null without an entry', () => {
    expect(costMicroUsd(usage({ output: 10 }))).toBeNull();
  });

  it('returns null without prices', () => {
    const unpriced = catalog
      .extend([{ id: 'openai/gpt-internal', contextWindow: 1_000, maxOutputTokens: 100 }])
      .get('openai/gpt-internal');

    expect(costMicroUsd(usage({ output: 10 }), unpriced)).toBeNull();
  });
});
