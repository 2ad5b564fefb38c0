import { createHash } from 'node:crypto';

/**
 * Anthropic's pattern for `tool_use.id` and `tool_result.tool_use_id`: its 400 quotes it as
 * "String should match pattern '^[a-zA-Z0-9_-]+$'". OpenAI-format clients can carry ids from other
 * upstreams that break it, such as Kimi's `functions.get_weather:0`.
 */
export const anthropicToolIdPattern = /^[a-zA-Z0-9_-]+$/;

/**
 * Rewrites tool call ids that an upstream would reject, the same way in an assistant's calls and in
 * the results that reply to them, and restores the originals in what goes back to the client.
 *
 * A rewritten id is derived from a SHA-256 of the original, so the same conversation sent twice
 * gets the same ids (the upstream's prompt cache keeps working) and two originals never share one.
 * Ids that are already valid are kept unchanged.
 */
export class ToolIdMap {
  private readonly rewritten = new Map<string, string>();
  private readonly originals = new Map<string, string>();

  constructor(
    private readonly isValid: (id: string) => boolean,
    private readonly prefix: string,
  ) {}

  /** Returns the id to send upstream for a client's id. */
  rewrite(id: string): string {
    if (this.isValid(id)) return id;

    let mapped = this.rewritten.get(id);
    if (mapped === undefined) {
      mapped = `${this.prefix}${createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
      this.rewritten.set(id, mapped);
      this.originals.set(mapped, id);
    }
    return mapped;
  }

  /** Returns the client's id for an id from the upstream; ids this map did not make pass through. */
  restore(id: string): string {
    return this.originals.get(id) ?? id;
  }

  /** The number of ids rewritten so far. */
  get size(): number {
    return this.rewritten.size;
  }
}

/**
 * Creates the map for an Anthropic upstream. The `toolu_kr` prefix makes a rewritten id easy to tell
 * apart in logs; base64url digits stay inside Anthropic's pattern.
 */
export function createAnthropicToolIdMap(): ToolIdMap {
  return new ToolIdMap((id) => anthropicToolIdPattern.test(id), 'toolu_kr');
}
