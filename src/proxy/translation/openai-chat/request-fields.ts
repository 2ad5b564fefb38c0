/**
 * What happens to each top-level field of an OpenAI chat completions request on its way to a
 * non-OpenAI upstream, in one table:
 *
 * - `mapped`: read into the internal representation.
 * - `dropped`: ignored, because it does not change the output (billing, storage, latency hints).
 * - `rejected`: a RequestFieldError naming the field unless its value is one the target can honour
 *   (the default), because translating it away would silently change the output.
 *
 * Fields in no row are ignored as well, so that a field an SDK adds later does not break requests.
 */
import { RequestFieldError } from '../../upstream/request-field-error.js';
import { isObject, isUnset } from '../wire-values.js';

export type OpenAiFieldRule =
  | { kind: 'mapped' }
  | { kind: 'dropped' }
  | { kind: 'rejected'; honoured: (value: unknown) => boolean; reason: string };

const mapped: OpenAiFieldRule = { kind: 'mapped' };
const dropped: OpenAiFieldRule = { kind: 'dropped' };

function rejected(reason: string, honoured: (value: unknown) => boolean = () => false): OpenAiFieldRule {
  return { kind: 'rejected', honoured, reason };
}

const isZero = (value: unknown) => value === 0;

export const openAiRequestFields: Readonly<Record<string, OpenAiFieldRule>> = {
  model: mapped,
  messages: mapped,
  max_completion_tokens: mapped,
  max_tokens: mapped,
  temperature: mapped,
  top_p: mapped,
  // Not part of OpenAI's API, but sent by clients written for vLLM and similar servers.
  top_k: mapped,
  stop: mapped,
  tools: mapped,
  tool_choice: mapped,
  parallel_tool_calls: mapped,
  reasoning_effort: mapped,
  // LiteLLM's convention for Anthropic's thinking budget in an OpenAI-format request.
  thinking: mapped,
  user: mapped,
  // OpenAI's newer name for the end-user identifier; read when `user` is absent.
  safety_identifier: mapped,
  stream: mapped,
  stream_options: mapped,

  seed: dropped,
  store: dropped,
  metadata: dropped,
  service_tier: dropped,
  prompt_cache_key: dropped,
  prompt_cache_retention: dropped,
  // A predicted output only makes OpenAI faster, and the output is the same without it.
  prediction: dropped,
  // The gateway's own field, read by the route.
  tags: dropped,

  n: rejected('Only one choice can be generated (n = 1).', (value) => value === 1),
  logprobs: rejected('Log probabilities are not available from this model.', (value) => value === false),
  top_logprobs: rejected('Log probabilities are not available from this model.', isZero),
  logit_bias: rejected(
    'logit_bias cannot be applied to this model.',
    (value) => isObject(value) && Object.keys(value).length === 0,
  ),
  response_format: rejected(
    'JSON mode and structured outputs are not available for this model through chat completions.',
    (value) => isObject(value) && value.type === 'text',
  ),
  audio: rejected('Audio output is not available from this model.'),
  modalities: rejected(
    'This model produces text only.',
    (value) => Array.isArray(value) && value.every((modality) => modality === 'text'),
  ),
  presence_penalty: rejected('presence_penalty cannot be applied to this model.', isZero),
  frequency_penalty: rejected('frequency_penalty cannot be applied to this model.', isZero),
  functions: rejected('The deprecated functions field is not translated: send tools instead.'),
  function_call: rejected('The deprecated function_call field is not translated: send tool_choice instead.'),
  web_search_options: rejected('Web search is not available for this model through chat completions.'),
  verbosity: rejected('verbosity cannot be applied to this model.', (value) => value === 'medium'),
};

/** Throws a RequestFieldError for the first rejected field whose value cannot be honoured. */
export function checkOpenAiRequestFields(body: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(body)) {
    const rule = openAiRequestFields[field];
    if (rule?.kind !== 'rejected' || isUnset(value) || rule.honoured(value)) continue;
    throw new RequestFieldError(field, `${rule.reason} Remove ${field} from the request or use another model.`);
  }
}
