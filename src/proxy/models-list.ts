import { priceTableVersion } from '../models/built-in-catalog.js';
import type { ModelCatalog } from '../models/catalog.js';
import { formatModelReference, type ModelReference } from '../models/model-reference.js';
import { prefixOfProvider, type ProviderId } from '../providers/providers.js';

/** The body of `GET /v1/models` in OpenAI's list format. */
export interface ModelList {
  object: 'list';
  data: ModelListEntry[];
}

export interface ModelListEntry {
  /** Canonical `provider/model`, which clients send back as `model`. */
  id: string;
  object: 'model';
  /** Unix seconds. The catalog keeps no release dates, so this is the price table's date for every model. */
  created: number;
  /** The provider's model-reference prefix, such as `anthropic`. */
  owned_by: string;
}

export interface ListModelsOptions {
  /** Providers for which the gateway key has a credential. */
  configuredProviders: ReadonlySet<ProviderId>;
  /** The gateway key's allow-list in canonical form, where null allows every model. */
  allowList: readonly string[] | null;
}

const created = Date.parse(`${priceTableVersion}T00:00:00Z`) / 1000;

/** Lists the catalog models of the providers that have a credential, within the allow-list. */
export function listModels(catalog: ModelCatalog, options: ListModelsOptions): ModelList {
  const data = catalog
    .list()
    .filter((entry) => options.configuredProviders.has(entry.provider))
    .filter((entry) => isModelAllowed(options.allowList, entry))
    .map((entry): ModelListEntry => ({
      id: entry.id,
      object: 'model',
      created,
      owned_by: prefixOfProvider(entry.provider),
    }));
  return { object: 'list', data };
}

/**
 * Checks a reference against a gateway key's allow-list of canonical `provider/model` ids and
 * `provider/*` patterns. Null allows every model and an empty list allows none. The comparison is
 * exact, so `anthropic/claude-sonnet-4-5` does not allow `anthropic/claude-sonnet-4-5-20250929`.
 */
export function isModelAllowed(allowList: readonly string[] | null, reference: ModelReference): boolean {
  if (allowList === null) return true;
  const canonical = formatModelReference(reference);
  const everyModelOfProvider = `${prefixOfProvider(reference.provider)}/*`;
  return allowList.some((entry) => entry === canonical || entry === everyModelOfProvider);
}
