import { describe, expect, it } from 'vitest';
import {
  emptyUsage,
  fromAnthropicUsage,
  fromBedrockConverseUsage,
  fromDeepSeekUsage,
  fromOpenAiUsage,
  fromXaiUsage,
  toAnthropicUsage,
  toOpenAiUsage,
} from '../../src/proxy/usage.js';

describe('fromOpenAiUsage', () => {
  const openAi = {
    prompt_tokens: 2006,
    completion_tokens: 300,
    total_tokens: 2306,
    prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 192,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };

  it('subtracts cached tokens from input', () => {
    const usage = fromOpenAiUsage(openAi);

    expect(usage.inputUncached).toBe(86);
    expect(usage.cacheRead).toBe(1920);
    expect(usage.cacheWrite).toBe(0);
  });

  it('keeps reasoning inside output', () => {
    const usage = fromOpenAiUsage(openAi);

    expect(usage.output).toBe(300);
    expect(usage.reasoning).toBe(192);
  });

  it('reads Mistral usage', () => {
    const usage = fromOpenAiUsage({ prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 });

    expect(usage).toEqual({ inputUncached: 12, cacheRead: 0, cacheWrite: 0, output: 34, reasoning: 0 });
  });

  it('reads zAI cached tokens', () => {
    const usage = fromOpenAiUsage({
      prompt_tokens: 2400,
      completion_tokens: 120,
      total_tokens: 2520,
      prompt_tokens_details: { cached_tokens: 2048 },
    });

    expect(usage).toEqual({ inputUncached: 352, cacheRead: 2048, cacheWrite: 0, output: 120, reasoning: 0 });
  });

  it('adds reasoning when total shows it outside', () => {
    const usage = fromOpenAiUsage({
      prompt_tokens: 100,
      completion_tokens: 20,
      total_tokens: 170,
      completion_tokens_details: { reasoning_tokens: 50 },
    });

    expect(usage.output).toBe(70);
    expect(usage.reasoning).toBe(50);
  });

  it('reads the null usage of stream chunks', () => {
    expect(fromOpenAiUsage(null)).toEqual(emptyUsage);
  });

  it('tolerates null details', () => {
    const usage = fromOpenAiUsage({
      prompt_tokens: 10,
      completion_tokens: 5,
      prompt_tokens_details: null,
      completion_tokens_details: null,
    });

    expect(usage).toEqual({ inputUncached: 10, cacheRead: 0, cacheWrite: 0, output: 5, reasoning: 0 });
  });

  it('ignores malformed counts', () => {
    const usage = fromOpenAiUsage({ prompt_tokens: '10', completion_tokens: -5, total_tokens: Number.NaN });

    expect(usage).toEqual(emptyUsage);
  });

  it('caps cached tokens at the prompt', () => {
    const usage = fromOpenAiUsage({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 50 } });

    expect(usage.inputUncached).toBe(0);
    expect(usage.cacheRead).toBe(10);
  });
});

describe('fromXaiUsage', () => {
  it('adds reasoning to completion', () => {
    const usage = fromXaiUsage({
      prompt_tokens: 10120,
      completion_tokens: 1499,
      total_tokens: 14428,
      prompt_tokens_details: { text_tokens: 10120, audio_tokens: 0, image_tokens: 0, cached_tokens: 128 },
      completion_tokens_details: { reasoning_tokens: 2809, audio_tokens: 0 },
    });

    expect(usage).toEqual({ inputUncached: 9992, cacheRead: 128, cacheWrite: 0, output: 4308, reasoning: 2809 });
  });

  it('adds reasoning without a total', () => {
    const usage = fromXaiUsage({ prompt_tokens: 32, completion_tokens: 9, completion_tokens_details: { reasoning_tokens: 94 } });

    expect(usage.output).toBe(103);
  });

  it('trusts a total that includes reasoning once', () => {
    const usage = fromXaiUsage({
      prompt_tokens: 500,
      completion_tokens: 500,
      total_tokens: 1000,
      completion_tokens_details: { reasoning_tokens: 200 },
    });

    expect(usage.output).toBe(500);
  });
});

describe('fromDeepSeekUsage', () => {
  const deepSeek = {
    prompt_tokens: 1200,
    completion_tokens: 860,
    total_tokens: 2060,
    prompt_tokens_details: { cached_tokens: 1024 },
    prompt_cache_hit_tokens: 1024,
    prompt_cache_miss_tokens: 176,
    completion_tokens_details: { reasoning_tokens: 512 },
  };

  it('splits hits and misses', () => {
    const usage = fromDeepSeekUsage(deepSeek);

    expect(usage.inputUncached).toBe(176);
    expect(usage.cacheRead).toBe(1024);
  });

  it('keeps reasoning inside output', () => {
    const usage = fromDeepSeekUsage(deepSeek);

    expect(usage.output).toBe(860);
    expect(usage.reasoning).toBe(512);
  });

  it('derives misses from the prompt', () => {
    const usage = fromDeepSeekUsage({ prompt_tokens: 300, completion_tokens: 1, prompt_cache_hit_tokens: 256 });

    expect(usage.inputUncached).toBe(44);
  });

  it('falls back to OpenAI fields', () => {
    const usage = fromDeepSeekUsage({ prompt_tokens: 300, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 256 } });

    expect(usage.cacheRead).toBe(256);
    expect(usage.inputUncached).toBe(44);
  });
});

describe('fromAnthropicUsage', () => {
  const messageStart = {
    input_tokens: 472,
    cache_creation_input_tokens: 1024,
    cache_read_input_tokens: 20480,
    output_tokens: 1,
    service_tier: 'standard',
  };

  it('keeps cache counts apart from input', () => {
    const usage = fromAnthropicUsage(messageStart);

    expect(usage).toEqual({ inputUncached: 472, cacheRead: 20480, cacheWrite: 1024, output: 1, reasoning: 0 });
  });

  it('replaces output with the delta total', () => {
    const usage = fromAnthropicUsage({ output_tokens: 356 }, fromAnthropicUsage(messageStart));

    expect(usage.output).toBe(356);
  });

  it('keeps start counts the delta omits', () => {
    const usage = fromAnthropicUsage({ output_tokens: 356 }, fromAnthropicUsage(messageStart));

    expect(usage.inputUncached).toBe(472);
    expect(usage.cacheRead).toBe(20480);
    expect(usage.cacheWrite).toBe(1024);
  });

  it('takes cumulative input from the delta', () => {
    const delta = {
      input_tokens: 480,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: 20480,
      output_tokens: 356,
    };

    const usage = fromAnthropicUsage(delta, fromAnthropicUsage(messageStart));

    expect(usage.inputUncached).toBe(480);
    expect(usage.cacheWrite).toBe(1024);
  });

  it('sums the cache creation split', () => {
    const usage = fromAnthropicUsage({
      input_tokens: 10,
      cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 200 },
      output_tokens: 5,
    });

    expect(usage.cacheWrite).toBe(500);
  });

  it('reads missing usage as zero', () => {
    expect(fromAnthropicUsage(undefined)).toEqual(emptyUsage);
  });
});

describe('fromBedrockConverseUsage', () => {
  it('reads the metadata usage', () => {
    const usage = fromBedrockConverseUsage({
      inputTokens: 30,
      outputTokens: 628,
      totalTokens: 1658,
      cacheReadInputTokens: 1000,
      cacheWriteInputTokens: 0,
    });

    expect(usage).toEqual({ inputUncached: 30, cacheRead: 1000, cacheWrite: 0, output: 628, reasoning: 0 });
  });
});

describe('toOpenAiUsage', () => {
  const anthropic = fromAnthropicUsage({
    input_tokens: 472,
    cache_creation_input_tokens: 1024,
    cache_read_input_tokens: 20480,
    output_tokens: 356,
  });

  it('counts every input token in prompt_tokens', () => {
    expect(toOpenAiUsage(anthropic).prompt_tokens).toBe(21976);
  });

  it('reports cache reads as cached_tokens', () => {
    expect(toOpenAiUsage(anthropic).prompt_tokens_details).toEqual({ cached_tokens: 20480 });
  });

  it('adds up the total', () => {
    expect(toOpenAiUsage(anthropic).total_tokens).toBe(22332);
  });

  it('reports reasoning tokens', () => {
    const usage = toOpenAiUsage({ ...emptyUsage, output: 300, reasoning: 192 });

    expect(usage.completion_tokens).toBe(300);
    expect(usage.completion_tokens_details).toEqual({ reasoning_tokens: 192 });
  });

  it('round-trips OpenAI usage', () => {
    const original = {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920 },
      completion_tokens_details: { reasoning_tokens: 192 },
    };

    expect(toOpenAiUsage(fromOpenAiUsage(original))).toEqual(original);
  });
});

describe('toAnthropicUsage', () => {
  it('excludes cached tokens from input', () => {
    const usage = toAnthropicUsage(
      fromOpenAiUsage({ prompt_tokens: 2006, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1920 } }),
    );

    expect(usage).toEqual({ input_tokens: 86, cache_creation_input_tokens: 0, cache_read_input_tokens: 1920, output_tokens: 300 });
  });

  it('round-trips Anthropic usage', () => {
    const original = { input_tokens: 472, cache_creation_input_tokens: 1024, cache_read_input_tokens: 20480, output_tokens: 356 };

    expect(toAnthropicUsage(fromAnthropicUsage(original))).toEqual(original);
  });
});
