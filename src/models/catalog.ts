import { z } from 'zod';
import { providers, type ProviderId } from '../providers/providers.js';
import { builtInModels } from './built-in-catalog.js';
import {
  checkBareModelId,
  formatModelReference,
  maxModelIdLength,
  parseModelReference,
  quote,
  type ModelReference,
  type ModelReferenceErrorCode,
} from './model-reference.js';

/** List prices in USD per million tokens, which is the same number as micro-USD per token. */
export interface ModelPrices {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  /** Price of prompt-cache reads. Without it they are priced as input. */
  readonly cacheReadPerMillion?: number;
  /** Price of prompt-cache writes. Without it they are priced as input. */
  readonly cacheWritePerMillion?: number;
}

export interface CatalogModel {
  /** Canonical `provider/model`, such as `anthropic/claude-sonnet-4-5`. */
  readonly id: string;
  readonly provider: ProviderId;
  /** The provider's model id, sent upstream when a request names this entry by a bare id. */
  readonly model: string;
  /**
   * Other names of the same upstream model. A bare alias resolves to this entry and is sent upstream
   * as `model`, so an alias must never name a different model.
   */
  readonly aliases: readonly string[];
  readonly contextWindow: number;
  readonly maxOutputTokens: number;
  /** List prices, absent when unknown. A model without them has no cost. */
  readonly prices?: ModelPrices;
}

export type ResolveResult =
  | { ok: true; reference: ModelReference; entry?: CatalogModel }
  | { ok: false; code: ModelReferenceErrorCode; error: string };

/** Raised for invalid catalog entries, with one line per problem in `problems` naming the entry and field. */
export class ModelCatalogError extends Error {
  readonly code = 'invalid_model_catalog';

  constructor(readonly problems: string[]) {
    super(
      `Invalid model catalog entries (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n` +
        problems.map((problem) => `  ${problem}`).join('\n'),
    );
    this.name = 'ModelCatalogError';
  }
}

const maxTokens = 100_000_000;
const maxPricePerMillion = 10_000;

/** Builds a zod error message that also reports a missing value. */
function expecting(expected: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? `missing; ${expected}` : expected);
}

const tokenLimit = z
  .number({ error: expecting('expected a number of tokens') })
  .int({ error: 'expected a whole number of tokens' })
  .min(1, { error: 'expected at least 1 token' })
  .max(maxTokens, { error: `expected at most ${maxTokens} tokens` });

// Six decimals are one micro-USD per million tokens, the resolution of the cost arithmetic.
const price = z
  .number({ error: expecting('expected a price in USD per million tokens') })
  .min(0, { error: 'expected a price of 0 or more' })
  .max(maxPricePerMillion, { error: `expected a price of at most ${maxPricePerMillion} USD per million tokens` })
  .refine((value) => Math.abs(value * 1_000_000 - Math.round(value * 1_000_000)) < 1e-6, {
    error: 'expected at most 6 decimal places',
  });

const alias = z
  .string({ error: 'expected a string' })
  .refine((value) => checkBareModelId(value) === undefined, {
    error: `expected 1 to ${maxModelIdLength} characters without spaces or control characters`,
  });

const referenceId = z
  .string({ error: expecting('expected provider/model such as openai/gpt-4o') })
  .transform((value, context) => {
    const parsed = parseModelReference(value);
    if (!parsed.ok) {
      context.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    if (parsed.value.model === '*') {
      context.addIssue({ code: 'custom', message: 'expected one model, not the allow-list pattern provider/*' });
      return z.NEVER;
    }
    return parsed.value;
  });

const pricesSchema = z.strictObject(
  {
    inputPerMillion: price,
    outputPerMillion: price,
    cacheReadPerMillion: price.optional(),
    cacheWritePerMillion: price.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type' ? 'expected an object with inputPerMillion and outputPerMillion' : undefined,
  },
);

const entryFields = ['id', 'aliases', 'contextWindow', 'maxOutputTokens', 'prices'];

/**
 * One entry as the operator writes it in the catalog file. The provider and model come from `id`,
 * and unknown fields are rejected so that a misspelt field name is reported instead of ignored.
 */
const entrySchema = z.strictObject(
  {
    id: referenceId,
    aliases: z.array(alias, { error: 'expected an array of strings' }).max(100).default([]),
    contextWindow: tokenLimit,
    maxOutputTokens: tokenLimit,
    prices: pricesSchema.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type' ? `expected an object with the fields ${entryFields.join(', ')}` : undefined,
  },
);

/** A catalog entry in the form of the catalog file: `id`, optional `aliases` and `prices`, token limits. */
export type CatalogEntryInput = z.input<typeof entrySchema>;

const entriesSchema = z.array(z.unknown(), { error: 'expected a JSON array of model entries' });

/**
 * Validates catalog entries in the file form and returns them as catalog models. Every problem is
 * collected and names the entry by position and id. Duplicate ids and aliases within the list are
 * problems too.
 */
export function parseCatalogEntries(input: unknown): { ok: true; models: CatalogModel[] } | { ok: false; problems: string[] } {
  const list = entriesSchema.safeParse(input);
  if (!list.success) return { ok: false, problems: list.error.issues.map((issue) => issue.message) };

  const problems: string[] = [];
  const models: CatalogModel[] = [];
  const idOwners = new Map<string, number>();
  const aliasOwners = new Map<string, number>();

  list.data.forEach((raw, index) => {
    const label = describeEntry(raw, index);
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${label}: ${describeIssue(issue)}`);
      return;
    }

    const { id: reference, aliases, contextWindow, maxOutputTokens, prices } = parsed.data;
    const id = formatModelReference(reference);
    const earlierId = idOwners.get(id);
    if (earlierId !== undefined) {
      problems.push(`${label}: id: ${quote(id)} repeats the id of entry ${earlierId + 1}`);
      return;
    }
    idOwners.set(id, index);

    for (const name of new Set(aliases)) {
      const earlierAlias = aliasOwners.get(name);
      if (earlierAlias !== undefined && earlierAlias !== index) {
        problems.push(`${label}: aliases: ${quote(name)} is already an alias of entry ${earlierAlias + 1}`);
      }
      aliasOwners.set(name, index);
    }

    models.push(
      freezeModel({
        id,
        provider: reference.provider,
        model: reference.model,
        aliases: [...new Set(aliases)],
        contextWindow,
        maxOutputTokens,
        ...(prices && { prices }),
      }),
    );
  });

  return problems.length > 0 ? { ok: false, problems } : { ok: true, models };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    return `${field}unknown field ${keys}; check its spelling`;
  }
  return `${field}${issue.message}`;
}

function describeEntry(raw: unknown, index: number): string {
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? raw.id : undefined;
  return typeof id === 'string' ? `entry ${index + 1} (${quote(id)})` : `entry ${index + 1}`;
}

function freezeModel(model: CatalogModel): CatalogModel {
  Object.freeze(model.aliases);
  if (model.prices) Object.freeze(model.prices);
  return Object.freeze(model);
}

// Cross-region inference profile prefixes of Bedrock model ids, such as `us.anthropic.claude-…`.
const bedrockProfilePrefix = /^(?:us|us-gov|eu|apac|jp|au|ca|global)\./;
// A foundation-model or system inference-profile ARN ends with the model or profile id.
const bedrockArn = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?:foundation-model|inference-profile)\/(.+)$/;

/**
 * Models known to the gateway: ids, aliases, token limits and list prices. Instances are immutable,
 * and `extend` returns a new catalog.
 */
export class ModelCatalog {
  readonly #models: ReadonlyMap<string, CatalogModel>;
  // Alias → entry. An alias belongs to one entry at most.
  readonly #aliases: ReadonlyMap<string, CatalogModel>;
  // Bare model id → entries, because two providers can serve a model under the same id.
  readonly #modelIds: ReadonlyMap<string, readonly CatalogModel[]>;

  private constructor(models: ReadonlyMap<string, CatalogModel>) {
    this.#models = models;

    const aliases = new Map<string, CatalogModel>();
    const modelIds = new Map<string, CatalogModel[]>();
    for (const model of models.values()) {
      for (const name of model.aliases) aliases.set(name, model);
      modelIds.set(model.model, [...(modelIds.get(model.model) ?? []), model]);
    }
    this.#aliases = aliases;
    this.#modelIds = modelIds;
  }

  /** The catalog shipped with the gateway. */
  static builtIn(): ModelCatalog {
    return new ModelCatalog(new Map()).extend(builtInModels);
  }

  /**
   * Returns a catalog with `entries` added. An entry whose id is already present replaces that entry
   * whole, and an alias claimed by a new entry is taken from the entry that had it.
   *
   * @throws ModelCatalogError naming each invalid entry and field.
   */
  extend(entries: unknown): ModelCatalog {
    const parsed = parseCatalogEntries(entries);
    if (!parsed.ok) throw new ModelCatalogError(parsed.problems);

    const claimed = new Set(parsed.models.flatMap((model) => model.aliases));
    const merged = new Map<string, CatalogModel>();
    for (const [id, model] of this.#models) {
      const kept = model.aliases.filter((name) => !claimed.has(name));
      merged.set(id, kept.length === model.aliases.length ? model : freezeModel({ ...model, aliases: kept }));
    }
    for (const model of parsed.models) merged.set(model.id, model);
    return new ModelCatalog(merged);
  }

  /** Returns every entry: built-in ones in their order, then added ones. */
  list(): CatalogModel[] {
    return [...this.#models.values()];
  }

  /** Returns the entry with this canonical id, such as `openai/gpt-4o`. */
  get(id: string): CatalogModel | undefined {
    return this.#models.get(id);
  }

  /**
   * Finds the entry that prices a reference: its canonical id, else an alias of an entry of the same
   * provider. Bedrock profile ids and ARNs fall back to the entry of the model they name.
   */
  find(reference: ModelReference): CatalogModel | undefined {
    const byId = this.#entryOf(reference.provider, reference.model);
    if (byId || reference.provider !== 'BEDROCK') return byId;

    const fromArn = bedrockArn.exec(reference.model)?.[1];
    const byArn = fromArn === undefined ? undefined : this.#entryOf('BEDROCK', fromArn);
    if (byArn) return byArn;
    // NOTE: Anthropic prices geographic profiles (us., eu., …) of Claude Sonnet 4.5 and later 10% above
    // global ones, and the entries hold the global price, so such requests are under-counted.
    return this.#entryOf('BEDROCK', (fromArn ?? reference.model).replace(bedrockProfilePrefix, ''));
  }

  /**
   * Resolves what a client wrote in `model`. `provider/model` splits on the first `/`, accepts any model
   * id of a known provider and attaches the catalog entry when there is one. A bare id must be a
   * catalog alias or the model id of exactly one entry, and resolves to that entry's model.
   */
  resolve(text: string): ResolveResult {
    if (text.includes('/')) return this.#resolveQualified(text);

    const invalid = checkBareModelId(text);
    if (invalid !== undefined) return { ok: false, code: 'invalid_model_reference', error: invalid };

    // An alias names one entry, but several providers may offer a model under the same id.
    const aliased = this.#aliases.get(text);
    const candidates = aliased ? [aliased] : (this.#modelIds.get(text) ?? []);
    if (candidates.length > 1) {
      return {
        ok: false,
        code: 'ambiguous_model',
        error: `model ${quote(text)} is offered by ${candidates.map((model) => model.id).join(' and ')}; write one of these provider/model ids`,
      };
    }
    const entry = candidates[0];
    if (!entry) {
      return {
        ok: false,
        code: 'unknown_model',
        error:
          `unknown model ${quote(text)}; write it as provider/model, where provider is one of ` +
          `${providers.map((provider) => provider.prefix).join(', ')}, or use an id listed by GET /v1/models`,
      };
    }
    return { ok: true, reference: { provider: entry.provider, model: entry.model }, entry };
  }

  #resolveQualified(text: string): ResolveResult {
    const parsed = parseModelReference(text);
    if (!parsed.ok) return parsed;
    if (parsed.value.model === '*') {
      return {
        ok: false,
        code: 'invalid_model_reference',
        error: `${quote(text)} is an allow-list pattern, not a model; name one model such as ${formatModelReference({ ...parsed.value, model: 'model-id' })}`,
      };
    }
    const entry = this.find(parsed.value);
    return entry ? { ok: true, reference: parsed.value, entry } : { ok: true, reference: parsed.value };
  }

  #entryOf(provider: ProviderId, name: string): CatalogModel | undefined {
    const byId = this.#models.get(formatModelReference({ provider, model: name }));
    if (byId) return byId;
    const byAlias = this.#aliases.get(name);
    return byAlias?.provider === provider ? byAlias : undefined;
  }
}
