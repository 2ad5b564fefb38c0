import { describe, expect, it } from 'vitest';
import { builtInModels, priceTableVersion } from '../../src/models/built-in-catalog.js';
import { ModelCatalog, ModelCatalogError, parseCatalogEntries, type ResolveResult } from '../../src/models/catalog.js';
import { providers } from '../../src/providers/providers.js';

const catalog = ModelCatalog.builtIn();

function resolved(result: ResolveResult) {
  if (!result.ok) throw new Error(`resolve failed: ${result.error}`);
  return result;
}

function failed(result: ResolveResult) {
  if (result.ok) throw new Error(`resolve succeeded with ${JSON.stringify(result.reference)}`);
  return result;
}

function catalogErrorOf(entries: unknown, base = catalog): ModelCatalogError {
  try {
    base.extend(entries);
  } catch (error) {
    if (error instanceof ModelCatalogError) return error;
    throw error;
  }
  throw new Error('extend accepted the entries');
}

const operatorEntry = {
  id: 'openai/gpt-4o',
  aliases: ['house-default'],
  contextWindow: 64_000,
  maxOutputTokens: 4_096,
  prices: { inputPerMillion: 2, outputPerMillion: 9 },
};

describe('built-in catalog', () => {
  it('builds without errors', () => {
    expect(() => ModelCatalog.builtIn()).not.toThrow();
  });

  it('lists every shipped entry', () => {
    expect(catalog.list()).toHaveLength(builtInModels.length);
  });

  it('covers every provider', () => {
    for (const provider of providers) {
      expect(catalog.list().some((entry) => entry.provider === provider.id), provider.prefix).toBe(true);
    }
  });

  it('resolves every id to its entry', () => {
    for (const entry of catalog.list()) {
      const result = catalog.resolve(entry.id);

      expect(result.ok ? result.entry?.id : result.error, entry.id).toBe(entry.id);
    }
  });

  it('resolves every bare alias to its entry', () => {
    for (const entry of catalog.list()) {
      for (const name of entry.aliases.filter((alias) => !alias.includes('/'))) {
        const result = catalog.resolve(name);

        expect(result.ok ? result.entry?.id : result.error, name).toBe(entry.id);
      }
    }
  });

  it('dates the price table', () => {
    expect(priceTableVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Number.isNaN(Date.parse(priceTableVersion))).toBe(false);
  });

  it('freezes entries', () => {
    const entry = catalog.get('openai/gpt-4o')!;

    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(entry.aliases)).toBe(true);
  });
});

describe('resolve with provider/model', () => {
  it('accepts a catalog model', () => {
    const result = resolved(catalog.resolve('openai/gpt-4o'));

    expect(result.reference).toEqual({ provider: 'OPENAI', model: 'gpt-4o' });
    expect(result.entry?.id).toBe('openai/gpt-4o');
  });

  it('accepts a model the catalog lacks', () => {
    const result = resolved(catalog.resolve('openai/ft:gpt-4o-mini:acme::abc123'));

    expect(result.reference).toEqual({ provider: 'OPENAI', model: 'ft:gpt-4o-mini:acme::abc123' });
    expect(result.entry).toBeUndefined();
  });

  it('splits on the first slash', () => {
    const result = resolved(catalog.resolve('vertex/google/gemini-2.5-pro'));

    expect(result.reference.model).toBe('google/gemini-2.5-pro');
    expect(result.entry?.id).toBe('vertex/gemini-2.5-pro');
  });

  it('maps google to vertex', () => {
    const result = resolved(catalog.resolve('google/gemini-2.5-flash'));

    expect(result.reference.provider).toBe('VERTEX_AI');
    expect(result.entry?.id).toBe('vertex/gemini-2.5-flash');
  });

  it('keeps a dated alias as written', () => {
    const result = resolved(catalog.resolve('anthropic/claude-sonnet-4-5-20250929'));

    expect(result.reference.model).toBe('claude-sonnet-4-5-20250929');
    expect(result.entry?.id).toBe('anthropic/claude-sonnet-4-5');
  });

  it('ignores an alias of another provider', () => {
    const result = resolved(catalog.resolve('vertex/claude-sonnet-4-5-20250929'));

    expect(result.entry).toBeUndefined();
  });

  it('prices a Bedrock profile id', () => {
    const result = resolved(catalog.resolve('bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0'));

    expect(result.reference.model).toBe('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(result.entry?.id).toBe('bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0');
  });

  it('prices a Bedrock profile ARN', () => {
    const arn = 'arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0';

    const result = resolved(catalog.resolve(`bedrock/${arn}`));

    expect(result.reference.model).toBe(arn);
    expect(result.entry?.id).toBe('bedrock/anthropic.claude-haiku-4-5-20251001-v1:0');
  });

  it('accepts an application profile ARN unpriced', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';

    const result = resolved(catalog.resolve(`bedrock/${arn}`));

    expect(result.reference.model).toBe(arn);
    expect(result.entry).toBeUndefined();
  });

  it('rejects an unknown provider', () => {
    const result = failed(catalog.resolve('azure/gpt-4o'));

    expect(result.code).toBe('unknown_provider');
    expect(result.error).toContain('"azure"');
  });

  it('rejects an empty model', () => {
    expect(failed(catalog.resolve('openai/')).code).toBe('invalid_model_reference');
  });

  it('rejects an allow-list pattern', () => {
    const result = failed(catalog.resolve('openai/*'));

    expect(result.code).toBe('invalid_model_reference');
    expect(result.error).toContain('allow-list pattern');
  });

  it('rejects 10,000 characters without echoing them', () => {
    const result = failed(catalog.resolve(`anthropic/${'x'.repeat(10_000)}`));

    expect(result.code).toBe('invalid_model_reference');
    expect(result.error).not.toContain('x'.repeat(100));
  });
});

describe('resolve with a bare id', () => {
  it('finds gpt-4o', () => {
    const result = resolved(catalog.resolve('gpt-4o'));

    expect(result.reference).toEqual({ provider: 'OPENAI', model: 'gpt-4o' });
    expect(result.entry?.id).toBe('openai/gpt-4o');
  });

  it('finds claude-sonnet-4-5', () => {
    const result = resolved(catalog.resolve('claude-sonnet-4-5'));

    expect(result.reference).toEqual({ provider: 'ANTHROPIC', model: 'claude-sonnet-4-5' });
  });

  it('sends an alias as the entry model', () => {
    const result = resolved(catalog.resolve('claude-haiku-4-5-20251001'));

    expect(result.reference).toEqual({ provider: 'ANTHROPIC', model: 'claude-haiku-4-5' });
  });

  it('finds a Vertex Claude id', () => {
    const result = resolved(catalog.resolve('claude-sonnet-4-5@20250929'));

    expect(result.reference).toEqual({ provider: 'VERTEX_AI', model: 'claude-sonnet-4-5@20250929' });
  });

  it('finds a Bedrock base id', () => {
    const result = resolved(catalog.resolve('anthropic.claude-opus-4-1-20250805-v1:0'));

    expect(result.reference.provider).toBe('BEDROCK');
  });

  it('rejects an unknown id', () => {
    const result = failed(catalog.resolve('gpt-9-ultra'));

    expect(result.code).toBe('unknown_model');
    expect(result.error).toContain('"gpt-9-ultra"');
    expect(result.error).toContain('provider/model');
  });

  it('rejects an empty id', () => {
    const result = failed(catalog.resolve(''));

    expect(result.code).toBe('invalid_model_reference');
    expect(result.error).toContain('empty');
  });

  it('rejects 10,000 characters without echoing them', () => {
    const result = failed(catalog.resolve('x'.repeat(10_000)));

    expect(result.code).toBe('invalid_model_reference');
    expect(result.error).toContain('10000 characters');
    expect(result.error.length).toBeLessThan(200);
  });

  it('rejects a model id two providers share', () => {
    const shared = catalog.extend([
      { id: 'vertex/claude-opus-4-6', contextWindow: 1_000_000, maxOutputTokens: 128_000 },
    ]);

    const result = failed(shared.resolve('claude-opus-4-6'));

    expect(result.code).toBe('ambiguous_model');
    expect(result.error).toContain('anthropic/claude-opus-4-6');
    expect(result.error).toContain('vertex/claude-opus-4-6');
  });

  it('prefers an alias over a shared model id', () => {
    const shared = catalog.extend([
      { id: 'vertex/claude-opus-4-6', contextWindow: 1_000_000, maxOutputTokens: 128_000 },
      { id: 'anthropic/claude-opus-4-6', aliases: ['claude-opus-4-6'], contextWindow: 1_000_000, maxOutputTokens: 128_000 },
    ]);

    const result = resolved(shared.resolve('claude-opus-4-6'));

    expect(result.reference.provider).toBe('ANTHROPIC');
  });
});

describe('extend', () => {
  it('overrides a built-in by id', () => {
    const extended = catalog.extend([operatorEntry]);

    const entry = extended.get('openai/gpt-4o');

    expect(entry?.contextWindow).toBe(64_000);
    expect(entry?.prices).toEqual({ inputPerMillion: 2, outputPerMillion: 9 });
  });

  it('keeps the entry count on override', () => {
    expect(catalog.extend([operatorEntry]).list()).toHaveLength(catalog.list().length);
  });

  it('leaves the original unchanged', () => {
    catalog.extend([operatorEntry]);

    expect(catalog.get('openai/gpt-4o')?.contextWindow).toBe(128_000);
  });

  it('adds a new model', () => {
    const extended = catalog.extend([
      { id: 'mistral/codestral-latest', aliases: ['codestral'], contextWindow: 256_000, maxOutputTokens: 256_000 },
    ]);

    const result = resolved(extended.resolve('codestral'));

    expect(result.reference).toEqual({ provider: 'MISTRAL', model: 'codestral-latest' });
    expect(result.entry?.prices).toBeUndefined();
  });

  it('canonicalizes a google id', () => {
    const extended = catalog.extend([{ id: 'google/gemini-3-pro', contextWindow: 1_000_000, maxOutputTokens: 65_536 }]);

    expect(extended.get('vertex/gemini-3-pro')?.provider).toBe('VERTEX_AI');
  });

  it('moves a claimed alias', () => {
    const extended = catalog.extend([
      {
        id: 'bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0',
        aliases: ['claude-sonnet-4-5'],
        contextWindow: 200_000,
        maxOutputTokens: 64_000,
      },
    ]);

    const result = resolved(extended.resolve('claude-sonnet-4-5'));

    expect(result.reference.provider).toBe('BEDROCK');
    expect(extended.get('anthropic/claude-sonnet-4-5')?.aliases).toEqual(['claude-sonnet-4-5-20250929']);
  });

  it('accepts an empty list', () => {
    expect(catalog.extend([]).list()).toHaveLength(catalog.list().length);
  });
});

describe('extend validation', () => {
  it('rejects a non-array', () => {
    const error = catalogErrorOf({ models: [] });

    expect(error.problems).toEqual(['expected a JSON array of model entries']);
  });

  it('rejects a non-object entry', () => {
    const error = catalogErrorOf([42]);

    expect(error.problems[0]).toMatch(/^entry 1: expected an object/);
  });

  it('names a missing field', () => {
    const error = catalogErrorOf([{ id: 'openai/gpt-x', contextWindow: 1000 }]);

    expect(error.problems).toEqual(['entry 1 ("openai/gpt-x"): maxOutputTokens: missing; expected a number of tokens']);
  });

  it('names an unknown field', () => {
    const error = catalogErrorOf([{ ...operatorEntry, contextWindows: 5 }]);

    expect(error.problems).toEqual(['entry 1 ("openai/gpt-4o"): unknown field "contextWindows"; check its spelling']);
  });

  it('names an unknown provider', () => {
    const error = catalogErrorOf([{ ...operatorEntry, id: 'azure/gpt-4o' }]);

    expect(error.problems[0]).toContain('entry 1 ("azure/gpt-4o"): id: unknown provider "azure"');
  });

  it('rejects a provider pattern as id', () => {
    const error = catalogErrorOf([{ ...operatorEntry, id: 'openai/*' }]);

    expect(error.problems[0]).toContain('id: expected one model');
  });

  it('rejects a fractional token limit', () => {
    const error = catalogErrorOf([{ ...operatorEntry, maxOutputTokens: 10.5 }]);

    expect(error.problems).toEqual(['entry 1 ("openai/gpt-4o"): maxOutputTokens: expected a whole number of tokens']);
  });

  it('rejects a negative price', () => {
    const error = catalogErrorOf([{ ...operatorEntry, prices: { inputPerMillion: -1, outputPerMillion: 9 } }]);

    expect(error.problems).toEqual(['entry 1 ("openai/gpt-4o"): prices.inputPerMillion: expected a price of 0 or more']);
  });

  it('rejects a price as a string', () => {
    const error = catalogErrorOf([{ ...operatorEntry, prices: { inputPerMillion: '2.5', outputPerMillion: 9 } }]);

    expect(error.problems[0]).toContain('prices.inputPerMillion: expected a price in USD per million tokens');
  });

  it('rejects a seventh decimal', () => {
    const error = catalogErrorOf([{ ...operatorEntry, prices: { inputPerMillion: 0.0000001, outputPerMillion: 9 } }]);

    expect(error.problems[0]).toContain('prices.inputPerMillion: expected at most 6 decimal places');
  });

  it('rejects an alias with a space', () => {
    const error = catalogErrorOf([{ ...operatorEntry, aliases: ['house default'] }]);

    expect(error.problems[0]).toContain('aliases.0: expected 1 to 256 characters');
  });

  it('rejects a repeated id', () => {
    const error = catalogErrorOf([operatorEntry, { ...operatorEntry, aliases: [] }]);

    expect(error.problems).toEqual(['entry 2 ("openai/gpt-4o"): id: "openai/gpt-4o" repeats the id of entry 1']);
  });

  it('rejects an alias used twice', () => {
    const error = catalogErrorOf([operatorEntry, { ...operatorEntry, id: 'openai/gpt-4.1' }]);

    expect(error.problems).toEqual(['entry 2 ("openai/gpt-4.1"): aliases: "house-default" is already an alias of entry 1']);
  });

  it('reports every problem at once', () => {
    const error = catalogErrorOf([{ id: 'openai/a', contextWindow: 0, maxOutputTokens: 1 }, { id: 'nope/b' }]);

    expect(error.problems).toHaveLength(4);
    expect(error.message).toContain('4 problems');
  });

  it('has a stable code', () => {
    expect(catalogErrorOf([1]).code).toBe('invalid_model_catalog');
  });
});

describe('parseCatalogEntries', () => {
  it('derives provider and model from id', () => {
    const parsed = parseCatalogEntries([{ id: 'google/gemini-x', contextWindow: 10, maxOutputTokens: 5 }]);

    expect(parsed).toEqual({
      ok: true,
      models: [
        { id: 'vertex/gemini-x', provider: 'VERTEX_AI', model: 'gemini-x', aliases: [], contextWindow: 10, maxOutputTokens: 5 },
      ],
    });
  });
});
