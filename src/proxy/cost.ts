import type { CatalogModel } from '../models/catalog.js';
import type { CanonicalUsage } from './usage.js';

const picoPerMicro = 1_000_000n;

/**
 * Computes the list-price cost of a request in micro-USD (1 USD = 1,000,000), or null when the model
 * has no catalog entry or the entry has no prices.
 *
 * A price in USD per million tokens equals micro-USD per token, so each count is multiplied by its
 * price scaled to pico-USD per token, which is exact for prices of up to 6 decimals (the catalog
 * enforces that). The sum is rounded once, half up, to a whole micro-USD.
 *
 * Cache reads and writes use their own prices when the entry has them, else the input price.
 * Reasoning tokens are not added: `usage.output` already contains them, because every provider here
 * bills reasoning as output. Anthropic bills thinking as output tokens (its context-window guide) and
 * counts it in `output_tokens`. OpenAI counts reasoning inside `completion_tokens`, and the other
 * OpenAI-shaped usage is read the same way unless `total_tokens` shows otherwise. xAI reports
 * reasoning outside `completion_tokens`, and fromXaiUsage adds it back.
 */
export function costMicroUsd(usage: CanonicalUsage, entry?: CatalogModel): number | null {
  const prices = entry?.prices;
  if (!prices) return null;

  const input = picoPerToken(prices.inputPerMillion);
  const pico =
    tokens(usage.inputUncached) * input +
    tokens(usage.cacheRead) * (prices.cacheReadPerMillion === undefined ? input : picoPerToken(prices.cacheReadPerMillion)) +
    tokens(usage.cacheWrite) * (prices.cacheWritePerMillion === undefined ? input : picoPerToken(prices.cacheWritePerMillion)) +
    tokens(usage.output) * picoPerToken(prices.outputPerMillion);

  return Number((pico + picoPerMicro / 2n) / picoPerMicro);
}

function picoPerToken(usdPerMillion: number): bigint {
  return BigInt(Math.round(usdPerMillion * 1_000_000));
}

function tokens(count: number): bigint {
  return Number.isFinite(count) && count > 0 ? BigInt(Math.round(count)) : 0n;
}
