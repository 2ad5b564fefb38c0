import { prefixOfProvider, providerForPrefix, providers, type ProviderId } from '../providers/providers.js';

export interface ModelReference {
  provider: ProviderId;
  /** The provider's model id, which may itself contain `/` or be an ARN. */
  model: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const maxModelLength = 256;
const controlOrSpace = /[\s\u0000-\u001f\u007f]/;

/**
 * Parses `provider/model`, splitting on the first `/` only. Bare model ids (catalog aliases) are
 * resolved by the model catalog, not here.
 */
export function parseModelReference(text: string): ParseResult<ModelReference> {
  const slash = text.indexOf('/');
  if (slash <= 0) {
    return { ok: false, error: `expected provider/model such as openai/gpt-4o, got ${quote(text)}` };
  }
  const prefix = text.slice(0, slash);
  const provider = providerForPrefix(prefix);
  if (!provider) {
    return {
      ok: false,
      error: `unknown provider ${quote(prefix)}; expected one of ${providers.map((entry) => entry.prefix).join(', ')}`,
    };
  }
  const model = text.slice(slash + 1);
  if (model.length === 0 || model.length > maxModelLength || controlOrSpace.test(model)) {
    return {
      ok: false,
      error: `expected a model id of 1 to ${maxModelLength} characters without spaces after ${quote(prefix + '/')}`,
    };
  }
  return { ok: true, value: { provider, model } };
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

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
