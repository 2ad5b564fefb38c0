/**
 * What happens to each top-level field of an Anthropic Messages request on its way to an
 * OpenAI-family upstream, in one table:
 *
 * - `mapped`: read into the internal representation.
 * - `dropped`: ignored, because it does not change the output.
 * - `rejected`: a RequestFieldError naming the field whenever it is set, because it needs Anthropic's
 *   own servers (server-side tools, context editing, structured outputs).
 *
 * Fields in no row are ignored as well, so that a field a newer SDK adds does not break requests.
 */
import { RequestFieldError } from '../../upstream/request-field-error.js';
import { isUnset } from '../wire-values.js';

export type AnthropicFieldRule = { kind: 'mapped' } | { kind: 'dropped' } | { kind: 'rejected'; reason: string };

const mapped: AnthropicFieldRule = { kind: 'mapped' };
const dropped: AnthropicFieldRule = { kind: 'dropped' };

export const anthropicRequestFields: Readonly<Record<string, AnthropicFieldRule>> = {
  model: mapped,
  messages: mapped,
  system: mapped,
  max_tokens: mapped,
  temperature: mapped,
  top_p: mapped,
  top_k: mapped,
  stop_sequences: mapped,
  tools: mapped,
  tool_choice: mapped,
  thinking: mapped,
  metadata: mapped,
  stream: mapped,

  service_tier: dropped,
  // The gateway's own field, read by the route.
  tags: dropped,

  container: { kind: 'rejected', reason: 'Code execution containers exist only on Anthropic.' },
  mcp_servers: { kind: 'rejected', reason: 'MCP servers are called by Anthropic itself and cannot be used with this model.' },
  context_management: { kind: 'rejected', reason: 'Context editing runs on Anthropic and cannot be applied to this model.' },
  output_format: { kind: 'rejected', reason: 'Structured outputs cannot be translated for this model.' },
};

/** Throws a RequestFieldError for the first rejected field that is set. */
export function checkAnthropicRequestFields(body: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(body)) {
    const rule = anthropicRequestFields[field];
    if (rule?.kind !== 'rejected' || isUnset(value)) continue;
    throw new RequestFieldError(field, `${rule.reason} Remove ${field} from the request or use an Anthropic model.`);
  }
}
