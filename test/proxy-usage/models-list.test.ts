import { describe, expect, it } from 'vitest';
import { priceTableVersion } from '../../src/models/built-in-catalog.js';
import { ModelCatalog } from '../../src/models/catalog.js';
import type { ProviderId } from '../../src/providers/providers.js';
import { isModelAllowed, listModels } from '../../src/proxy/models-list.js';

const catalog = ModelCatalog.builtIn();

function idsOf(providers: ProviderId[], allowList: string[] | null): string[] {
  return listModels(catalog, { configuredProviders: new Set(providers), allowList }).data.map((model) => model.id);
}

function catalogIdsOf(provider: ProviderId): string[] {
  return catalog
    .list()
    .filter((entry) => entry.provider === provider)
    .map((entry) => entry.id);
}

describe('listModels', () => {
  it('returns the OpenAI list shape', () => {
    const list = listModels(catalog, { configuredProviders: new Set(['OPENAI']), allowList: null });

    expect(list.object).toBe('list');
    expect(list.data).toContainEqual({
      id: 'openai/gpt-4o',
      object: 'model',
      created: Date.parse(`${priceTableVersion}T00:00:00Z`) / 1000,
      owned_by: 'openai',
    });
  });

  it('lists only configured providers', () => {
    expect(idsOf(['OPENAI'], null)).toEqual(catalogIdsOf('OPENAI'));
  });

  it('names vertex as owner', () => {
    const list = listModels(catalog, { configuredProviders: new Set(['VERTEX_AI']), allowList: null });

    expect(new Set(list.data.map((model) => model.owned_by))).toEqual(new Set(['vertex']));
  });

  it('lists nothing without credentials', () => {
    expect(idsOf([], null)).toEqual([]);
  });

  it('applies exact ids and patterns', () => {
    const ids = idsOf(['OPENAI', 'ANTHROPIC', 'XAI'], ['openai/gpt-4o', 'anthropic/*']);

    expect(ids).toEqual(['openai/gpt-4o', ...catalogIdsOf('ANTHROPIC')].sort(byCatalogOrder));
  });

  it('skips allowed models without credentials', () => {
    expect(idsOf(['OPENAI'], ['anthropic/*'])).toEqual([]);
  });

  it('lists nothing for an empty allow-list', () => {
    expect(idsOf(['OPENAI', 'ANTHROPIC'], [])).toEqual([]);
  });

  it('lists operator models', () => {
    const extended = catalog.extend([{ id: 'zai/glm-5', contextWindow: 200_000, maxOutputTokens: 128_000 }]);

    const list = listModels(extended, { configuredProviders: new Set(['ZAI']), allowList: ['zai/glm-5'] });

    expect(list.data.map((model) => model.id)).toEqual(['zai/glm-5']);
  });
});

describe('isModelAllowed', () => {
  const sonnet = { provider: 'ANTHROPIC', model: 'claude-sonnet-4-5' } as const;

  it('allows everything without a list', () => {
    expect(isModelAllowed(null, sonnet)).toBe(true);
  });

  it('allows an exact id', () => {
    expect(isModelAllowed(['anthropic/claude-sonnet-4-5'], sonnet)).toBe(true);
  });

  it('allows a provider pattern', () => {
    expect(isModelAllowed(['anthropic/*'], sonnet)).toBe(true);
  });

  it('rejects another provider pattern', () => {
    expect(isModelAllowed(['openai/*'], sonnet)).toBe(false);
  });

  it('rejects a dated id for the short one', () => {
    expect(isModelAllowed(['anthropic/claude-sonnet-4-5'], { ...sonnet, model: 'claude-sonnet-4-5-20250929' })).toBe(false);
  });

  it('rejects a prefix of the id', () => {
    expect(isModelAllowed(['anthropic/claude-sonnet-4'], sonnet)).toBe(false);
  });

  it('matches vertex models by canonical prefix', () => {
    expect(isModelAllowed(['vertex/*'], { provider: 'VERTEX_AI', model: 'google/gemini-2.5-pro' })).toBe(true);
  });

  it('rejects everything with an empty list', () => {
    expect(isModelAllowed([], sonnet)).toBe(false);
  });
});

function byCatalogOrder(left: string, right: string): number {
  const order = catalog.list().map((entry) => entry.id);
  return order.indexOf(left) - order.indexOf(right);
}
