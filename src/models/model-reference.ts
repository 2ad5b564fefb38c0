import { prefixAliases, prefixOfProvider, providerForPrefix, providers, type ProviderId } from '../providers/providers.js';

export interface ModelReference {
  provider: ProviderId;
  /** The provider's model id, which may itself contain `/` or be an ARN. */
  model: string;
}

/** Stable codes of reference failures, for callers that must branch without reading the message. */
export type ModelReferenceErrorCode =
  | 'invalid_model_reference'
  | 'unknown_provider'
  | 'unknown_model'
  | 'ambiguous_model';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; code: ModelReferenceErrorCode; error: string };

/** Maximum length of a model id, the part after `provider/` or a bare catalog id. */
export const maxModelIdLength = 256;
const maxPrefixLength = Math.max(...[...providers.map((entry) => entry.prefix), ...Object.keys(prefixAliases)].map((prefix) => prefix.length));
const maxReferenceLength = maxPrefixLength + 1 + maxModelIdLength;
const controlOrSpace = /[\s\u0000-\u001f\u007f]/;

/**
 * Parses `provider/model`, splitting on the first `/` only. Bare model ids (catalog aliases) are
 * resolved by the model catalog, not here.
 */
export function parseModelReference(text: string): ParseResult<ModelReference> {
  // Checked first so that no later message quotes an oversized value.
  if (text.length > maxReferenceLength) {
    return {
      ok: false,
      code: 'invalid_model_reference',
      error: `model reference is ${text.length} characters long; the maximum is ${maxReferenceLength} (provider/ and a model id of at most ${maxModelIdLength})`,
    };
  }
  const slash = text.indexOf('/');
  if (slash <= 0) {
    return {
      ok: false,
      code: 'invalid_model_reference',
      error: `expected provider/model such as openai/gpt-4o, got ${quote(text)}`,
    };
  }
  const prefix = text.slice(0, slash);
  const provider = providerForPrefix(prefix);
  if (!provider) {
    return {
      ok: false,
      code: 'unknown_provider',
      error: `unknown provider ${quote(prefix)}; expected one of ${providers.map((entry) => entry.prefix).join(', ')}`,
    };
  }
  const model = text.slice(slash + 1);
  if (model.length === 0 || model.length > maxModelIdLength || controlOrSpace.test(model)) {
    return {
      ok: false,
      code: 'invalid_model_reference',
      error: `expected a model id of 1 to ${maxModelIdLength} characters without spaces after ${quote(prefix + '/')}`,
    };
  }
  return { ok: true, value: { provider, model } };
}

/**
 * Checks a bare model id, the form without `provider/` that the catalog looks up. Returns the
 * error message, or undefined for a well-formed id.
 */
export function checkBareModelId(text: string): string | undefined {
  if (text.length === 0) {
    return 'model is empty; expected provider/model such as openai/gpt-4o, or a catalog model id such as gpt-4o';
  }
  if (text.length > maxModelIdLength) {
    return `model id is ${text.length} characters long; the maximum is ${maxModelIdLength}`;
  }
  if (controlOrSpace.test(text)) {
    return `expected a model id without spaces or control characters, got ${quote(text)}`;
  }
  return undefined;
}

/** The canonical text of a reference: the provider's own prefix, so `google/x` becomes `vertex/x`. */
export function formatModelReference(reference: ModelReference): string {
  return `${prefixOfProvider(reference.provider)}/${reference.model}`;
}

/**
 * Parses an allow-list entry: a canonical model reference or `provider/*` for every model of a
 * provider. Returns the canonical form.
 */
export function parseAllowListEntry(text: string): ParseResult<string> {
  const parsed = parseModelReference(text);
  if (!parsed.ok) return parsed;
  return { ok: true, value: formatModelReference(parsed.value) };
}

/** Quotes a value for an error message, cut to 80 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
