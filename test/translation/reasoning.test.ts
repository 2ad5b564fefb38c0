import { describe, expect, it } from 'vitest';
import type { ReasoningEffort, ReasoningRequest } from '../../src/proxy/translation/ir.js';
import {
  effortForBudget,
  fitThinkingBudget,
  parseReasoningEffort,
  renderOpenAiReasoning,
  thinkingBudgetByEffort,
  type OpenAiFamilyTarget,
} from '../../src/proxy/translation/reasoning.js';
import { RequestFieldError } from '../../src/proxy/upstream/request-field-error.js';
import { fieldErrorOf } from './translation-support.js';

describe('reasoning effort table', () => {
  const budgets: [ReasoningEffort, number][] = [
    ['minimal', 1024],
    ['low', 2048],
    ['medium', 8192],
    ['high', 24576],
  ];

  it.each(budgets)('gives %s a budget of %i', (effort, budget) => {
    expect(thinkingBudgetByEffort[effort]).toBe(budget);
  });

  const efforts: [number, ReasoningEffort][] = [
    [1024, 'low'],
    [2048, 'low'],
    [4095, 'low'],
    [4096, 'medium'],
    [8192, 'medium'],
    [16383, 'medium'],
    [16384, 'high'],
    [24576, 'high'],
    [64000, 'high'],
  ];

  it.each(efforts)('reads a budget of %i back as %s', (budget, effort) => {
    expect(effortForBudget(budget)).toBe(effort);
  });

  it('maps every effort but minimal back to itself', () => {
    for (const effort of ['low', 'medium', 'high'] as const) {
      expect(effortForBudget(thinkingBudgetByEffort[effort])).toBe(effort);
    }
  });
});

describe('reasoning_effort values', () => {
  it('reads the four efforts', () => {
    for (const effort of ['minimal', 'low', 'medium', 'high']) {
      expect(parseReasoningEffort(effort, 'reasoning_effort')).toEqual({ enabled: true, effort });
    }
  });

  it('reads none as reasoning turned off', () => {
    expect(parseReasoningEffort('none', 'reasoning_effort')).toEqual({ enabled: false });
  });

  it('treats null as not set', () => {
    expect(parseReasoningEffort(null, 'reasoning_effort')).toBeUndefined();
  });

  it('rejects an effort without a budget', () => {
    const error = fieldErrorOf(() => parseReasoningEffort('xhigh', 'reasoning_effort'));
    expect(error.field).toBe('reasoning_effort');
    expect(error.message).toContain('xhigh');
  });
});

describe('thinking budget fitting', () => {
  const cases: [string, ReasoningRequest, number, number][] = [
    ['keeps a budget that fits', { enabled: true, effort: 'medium' }, 32000, 8192],
    ['lowers a budget to leave room for the answer', { enabled: true, effort: 'high' }, 10000, 8976],
    ['keeps the minimum under a small maximum', { enabled: true, effort: 'high' }, 1500, 1024],
    ['fits just above the minimum', { enabled: true, effort: 'low' }, 1025, 1024],
    ['raises a budget below the minimum', { enabled: true, budgetTokens: 500 }, 8000, 1024],
    ['takes an explicit budget over the effort', { enabled: true, effort: 'low', budgetTokens: 5000 }, 32000, 5000],
    ['uses medium when neither is set', { enabled: true }, 32000, 8192],
  ];

  it.each(cases)('%s', (_name, reasoning, maxTokens, budget) => {
    expect(fitThinkingBudget(reasoning, maxTokens)).toBe(budget);
  });

  it('keeps every budget below the maximum', () => {
    for (const maxTokens of [1025, 1100, 2048, 2049, 4096, 30000]) {
      expect(fitThinkingBudget({ enabled: true, effort: 'high' }, maxTokens)).toBeLessThan(maxTokens);
    }
  });

  it('rejects a maximum with no room for the minimum budget', () => {
    const error = fieldErrorOf(() => fitThinkingBudget({ enabled: true, effort: 'low' }, 1024));
    expect(error).toBeInstanceOf(RequestFieldError);
    expect(error.field).toBe('reasoning_effort');
  });

  it('names the budget field for a client that set one', () => {
    const error = fieldErrorOf(() => fitThinkingBudget({ enabled: true, budgetTokens: 2000 }, 800));
    expect(error.field).toBe('thinking.budget_tokens');
  });
});

describe('reasoning fields for OpenAI-family targets', () => {
  const enabled: ReasoningRequest = { enabled: true, effort: 'high' };
  const budgetOnly: ReasoningRequest = { enabled: true, budgetTokens: 10000 };
  const disabled: ReasoningRequest = { enabled: false };

  const cases: [OpenAiFamilyTarget, ReasoningRequest, Record<string, unknown>][] = [
    ['OPENAI', enabled, { reasoning_effort: 'high' }],
    ['OPENAI', budgetOnly, { reasoning_effort: 'medium' }],
    ['OPENAI', disabled, {}],
    ['XAI', enabled, { reasoning_effort: 'high' }],
    ['MISTRAL', enabled, { reasoning_effort: 'high' }],
    ['VERTEX', enabled, { reasoning_effort: 'high' }],
    ['DEEPSEEK', enabled, { thinking: { type: 'enabled' }, reasoning_effort: 'high' }],
    ['DEEPSEEK', disabled, { thinking: { type: 'disabled' } }],
    ['ZAI', enabled, { thinking: { type: 'enabled' } }],
    ['ZAI', disabled, { thinking: { type: 'disabled' } }],
    ['ZAI', { enabled: true }, { thinking: { type: 'enabled' } }],
    ['OPENAI', { enabled: true }, {}],
  ];

  it.each(cases)('renders for %s: %j', (target, reasoning, fields) => {
    expect(renderOpenAiReasoning(reasoning, target)).toEqual(fields);
  });

  it('renders nothing without a reasoning request', () => {
    expect(renderOpenAiReasoning(undefined, 'DEEPSEEK')).toEqual({});
  });
});
