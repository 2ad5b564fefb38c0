import type { CatalogEntryInput } from './catalog.js';

/**
 * Date of the list prices below. The request log stores it beside each cost, so that a cost can be
 * traced to the table that produced it. Change it whenever a price changes.
 */
export const priceTableVersion = '2026-12-04';

// Prices are USD per million tokens at each provider's pay-as-you-go list price, without batch
// discounts. A missing cache price means that the provider bills no separate rate for it.

const claudeOpus45 = { inputPerMillion: 5, outputPerMillion: 25, cacheWritePerMillion: 6.25, cacheReadPerMillion: 0.5 };
const claudeOpus41 = { inputPerMillion: 15, outputPerMillion: 75, cacheWritePerMillion: 18.75, cacheReadPerMillion: 1.5 };
const claudeSonnet = { inputPerMillion: 3, outputPerMillion: 15, cacheWritePerMillion: 3.75, cacheReadPerMillion: 0.3 };
const claudeHaiku45 = { inputPerMillion: 1, outputPerMillion: 5, cacheWritePerMillion: 1.25, cacheReadPerMillion: 0.1 };

// Anthropic: model ids, limits and prices from Anthropic's model overview and pricing pages.
// NOTE: the cache write price is the 5-minute one. Usage does not say which writes were 1-hour ones,
// which cost 2× input, so those are under-counted. Sonnet 4 and 4.5 bill prompts over 200K tokens at
// $6 input / $22.50 output, which this flat table does not model either.
const anthropic: CatalogEntryInput[] = [
  { id: 'anthropic/claude-opus-4-6', contextWindow: 1_000_000, maxOutputTokens: 128_000, prices: claudeOpus45 },
  {
    id: 'anthropic/claude-opus-4-5',
    aliases: ['claude-opus-4-5-20251101'],
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeOpus45,
  },
  // Anthropic lists Opus 4.1 as retired on its own API, but Bedrock and Vertex still serve it.
  {
    id: 'anthropic/claude-opus-4-1',
    aliases: ['claude-opus-4-1-20250805'],
    contextWindow: 200_000,
    maxOutputTokens: 32_000,
    prices: claudeOpus41,
  },
  // NOTE: unverified context window and output limit, from a third-party listing. The prices are Anthropic's.
  { id: 'anthropic/claude-sonnet-4-6', contextWindow: 1_000_000, maxOutputTokens: 64_000, prices: claudeSonnet },
  {
    id: 'anthropic/claude-sonnet-4-5',
    aliases: ['claude-sonnet-4-5-20250929'],
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeSonnet,
  },
  {
    id: 'anthropic/claude-sonnet-4',
    aliases: ['claude-sonnet-4-20250514'],
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeSonnet,
  },
  {
    id: 'anthropic/claude-haiku-4-5',
    aliases: ['claude-haiku-4-5-20251001'],
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeHaiku45,
  },
];

// OpenAI: cache reads are the "cached input" price, and OpenAI bills no cache writes.
// NOTE: unverified after 2025. OpenAI's pricing page now lists mostly newer models, so these are the
// 2025 list prices of the models named here.
const openai: CatalogEntryInput[] = [
  {
    id: 'openai/gpt-4o',
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    prices: { inputPerMillion: 2.5, outputPerMillion: 10, cacheReadPerMillion: 1.25 },
  },
  {
    id: 'openai/gpt-4o-mini',
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    prices: { inputPerMillion: 0.15, outputPerMillion: 0.6, cacheReadPerMillion: 0.075 },
  },
  {
    id: 'openai/gpt-4.1',
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    prices: { inputPerMillion: 2, outputPerMillion: 8, cacheReadPerMillion: 0.5 },
  },
  {
    id: 'openai/gpt-4.1-mini',
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    prices: { inputPerMillion: 0.4, outputPerMillion: 1.6, cacheReadPerMillion: 0.1 },
  },
  {
    id: 'openai/gpt-4.1-nano',
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    prices: { inputPerMillion: 0.1, outputPerMillion: 0.4, cacheReadPerMillion: 0.025 },
  },
  {
    id: 'openai/o3',
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    prices: { inputPerMillion: 2, outputPerMillion: 8, cacheReadPerMillion: 0.5 },
  },
  {
    id: 'openai/o4-mini',
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    prices: { inputPerMillion: 1.1, outputPerMillion: 4.4, cacheReadPerMillion: 0.275 },
  },
  {
    id: 'openai/gpt-5',
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 1.25, outputPerMillion: 10, cacheReadPerMillion: 0.125 },
  },
  {
    id: 'openai/gpt-5-mini',
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 0.25, outputPerMillion: 2, cacheReadPerMillion: 0.025 },
  },
  {
    id: 'openai/gpt-5-nano',
    contextWindow: 400_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 0.05, outputPerMillion: 0.4, cacheReadPerMillion: 0.005 },
  },
];

// NOTE: unverified. The `-latest` ids move to new model versions, and the prices and context windows
// are those of the versions they named in 2025 (Large 3, Medium 3.1, Small 3.2). Mistral documents no
// output limit apart from the context window, so the context window is used.
const mistral: CatalogEntryInput[] = [
  {
    id: 'mistral/mistral-large-latest',
    contextWindow: 256_000,
    maxOutputTokens: 256_000,
    prices: { inputPerMillion: 0.5, outputPerMillion: 1.5 },
  },
  {
    id: 'mistral/mistral-medium-latest',
    contextWindow: 128_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 0.4, outputPerMillion: 2 },
  },
  {
    id: 'mistral/mistral-small-latest',
    contextWindow: 128_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 0.1, outputPerMillion: 0.3 },
  },
];

// DeepSeek bills cache misses as input and cache hits at their own rate, with no write price. Since
// 2026-08-16 it bills off-peak hours at half the peak price, and these are the peak prices, so costs
// are an upper bound. The documented context "1M" and output "384K" are read as 2^20 and 384 × 1024.
// NOTE: unverified: prices and limits change often, and `deepseek-v4-pro` was reported in September
// 2026 to be served and billed as `deepseek-flash`.
const deepseekFlash = { inputPerMillion: 0.3, outputPerMillion: 1.2, cacheReadPerMillion: 0.006 };
const deepseek: CatalogEntryInput[] = [
  // DeepSeek serves the older name `deepseek-v4-flash` with the same model, at the same price.
  {
    id: 'deepseek/deepseek-flash',
    aliases: ['deepseek-v4-flash'],
    contextWindow: 1_048_576,
    maxOutputTokens: 393_216,
    prices: deepseekFlash,
  },
  {
    id: 'deepseek/deepseek-v4-pro',
    contextWindow: 1_048_576,
    maxOutputTokens: 393_216,
    prices: { inputPerMillion: 1.32, outputPerMillion: 3.96, cacheReadPerMillion: 0.044 },
  },
  // NOTE: DeepSeek retired these two names on 2026-07-24 and rejects requests that use them. They stay
  // listed because clients still send them. Before that date they were billed as V4 Flash.
  { id: 'deepseek/deepseek-chat', contextWindow: 1_048_576, maxOutputTokens: 393_216, prices: deepseekFlash },
  { id: 'deepseek/deepseek-reasoner', contextWindow: 1_048_576, maxOutputTokens: 393_216, prices: deepseekFlash },
];

// xAI: prices for prompts up to 128K tokens. Grok 4 doubles both rates above that, which is not modelled.
// NOTE: unverified output limits. xAI documents only the context window, so it is used for both.
const xai: CatalogEntryInput[] = [
  {
    id: 'xai/grok-4',
    aliases: ['grok-4-0709'],
    contextWindow: 256_000,
    maxOutputTokens: 256_000,
    prices: { inputPerMillion: 3, outputPerMillion: 15, cacheReadPerMillion: 0.75 },
  },
  {
    id: 'xai/grok-4-1-fast-reasoning',
    contextWindow: 2_000_000,
    maxOutputTokens: 2_000_000,
    prices: { inputPerMillion: 0.2, outputPerMillion: 0.5, cacheReadPerMillion: 0.05 },
  },
  {
    id: 'xai/grok-4-1-fast-non-reasoning',
    contextWindow: 2_000_000,
    maxOutputTokens: 2_000_000,
    prices: { inputPerMillion: 0.2, outputPerMillion: 0.5, cacheReadPerMillion: 0.05 },
  },
  {
    id: 'xai/grok-code-fast-1',
    contextWindow: 256_000,
    maxOutputTokens: 256_000,
    prices: { inputPerMillion: 0.2, outputPerMillion: 1.5, cacheReadPerMillion: 0.02 },
  },
  {
    id: 'xai/grok-3-mini',
    contextWindow: 131_072,
    maxOutputTokens: 131_072,
    prices: { inputPerMillion: 0.3, outputPerMillion: 0.5, cacheReadPerMillion: 0.075 },
  },
];

// zAI pay-as-you-go prices. GLM Coding Plan keys pay a flat fee instead, so their costs are notional.
// NOTE: unverified cache prices and GLM-4.5 limits, from third-party listings.
const zai: CatalogEntryInput[] = [
  {
    id: 'zai/glm-4.6',
    contextWindow: 200_000,
    maxOutputTokens: 128_000,
    prices: { inputPerMillion: 0.6, outputPerMillion: 2.2, cacheReadPerMillion: 0.11 },
  },
  {
    id: 'zai/glm-4.5',
    contextWindow: 128_000,
    maxOutputTokens: 96_000,
    prices: { inputPerMillion: 0.6, outputPerMillion: 2.2, cacheReadPerMillion: 0.11 },
  },
  {
    id: 'zai/glm-4.5-air',
    contextWindow: 128_000,
    maxOutputTokens: 96_000,
    prices: { inputPerMillion: 0.2, outputPerMillion: 1.1, cacheReadPerMillion: 0.03 },
  },
];

// Vertex: Gemini through the OpenAI-compatible endpoint, which takes the model as `google/<id>`, so
// that spelling is an alias. Prices are for prompts up to 200K tokens, and Gemini 2.5 Pro costs
// $2.50 / $15 above that, which is not modelled.
// NOTE: unverified cache read prices, which Google has changed more than once.
// Claude on Vertex: the global endpoint's prices, which equal Anthropic's. Regional endpoints of
// Sonnet 4.5 and later models carry a premium that is not modelled.
const vertex: CatalogEntryInput[] = [
  {
    id: 'vertex/gemini-2.5-pro',
    aliases: ['google/gemini-2.5-pro'],
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    prices: { inputPerMillion: 1.25, outputPerMillion: 10, cacheReadPerMillion: 0.125 },
  },
  {
    id: 'vertex/gemini-2.5-flash',
    aliases: ['google/gemini-2.5-flash'],
    contextWindow: 1_048_576,
    maxOutputTokens: 65_535,
    prices: { inputPerMillion: 0.3, outputPerMillion: 2.5, cacheReadPerMillion: 0.03 },
  },
  { id: 'vertex/claude-opus-4-5@20251101', contextWindow: 200_000, maxOutputTokens: 64_000, prices: claudeOpus45 },
  { id: 'vertex/claude-opus-4-1@20250805', contextWindow: 200_000, maxOutputTokens: 32_000, prices: claudeOpus41 },
  { id: 'vertex/claude-sonnet-4-5@20250929', contextWindow: 200_000, maxOutputTokens: 64_000, prices: claudeSonnet },
  { id: 'vertex/claude-sonnet-4@20250514', contextWindow: 200_000, maxOutputTokens: 64_000, prices: claudeSonnet },
  { id: 'vertex/claude-haiku-4-5@20251001', contextWindow: 200_000, maxOutputTokens: 64_000, prices: claudeHaiku45 },
];

// Bedrock: base model ids. Cross-region profile ids (`us.`, `eu.`, `global.`, …) and ARNs find these
// entries through ModelCatalog.find. Prices are the global ones, equal to Anthropic's.
const bedrock: CatalogEntryInput[] = [
  {
    id: 'bedrock/anthropic.claude-opus-4-5-20251101-v1:0',
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeOpus45,
  },
  {
    id: 'bedrock/anthropic.claude-opus-4-1-20250805-v1:0',
    contextWindow: 200_000,
    maxOutputTokens: 32_000,
    prices: claudeOpus41,
  },
  {
    id: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0',
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeSonnet,
  },
  {
    id: 'bedrock/anthropic.claude-sonnet-4-20250514-v1:0',
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeSonnet,
  },
  {
    id: 'bedrock/anthropic.claude-haiku-4-5-20251001-v1:0',
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    prices: claudeHaiku45,
  },
];

/** The models shipped with the gateway, in the catalog file's form. */
export const builtInModels: readonly CatalogEntryInput[] = [
  ...anthropic,
  ...openai,
  ...vertex,
  ...mistral,
  ...deepseek,
  ...xai,
  ...zai,
  ...bedrock,
];
