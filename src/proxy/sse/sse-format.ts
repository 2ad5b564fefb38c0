import type { SseEvent } from './sse-parser.js';

const lineBreak = /\r\n|\r|\n/;

/**
 * Serializes one event: an `event:` line when named, one `data:` line per line of `data`, and
 * the blank line that dispatches it. Throws when the name or id contains a line break, because
 * that would inject a field of its own.
 */
export function formatSseEvent(event: SseEvent): string {
  let text = '';
  if (event.event !== undefined) {
    if (lineBreak.test(event.event)) throw new Error('An SSE event name must not contain a line break.');
    text += `event: ${event.event}\n`;
  }
  if (event.id !== undefined) {
    if (lineBreak.test(event.id)) throw new Error('An SSE event id must not contain a line break.');
    text += `id: ${event.id}\n`;
  }
  for (const line of event.data.split(lineBreak)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/**
 * Returns a comment line and a blank line. SSE clients skip it (the decoders of the `openai` 6.49 and
 * `@anthropic-ai/sdk` 1.17 packages among them), but it keeps the connection from idling out at
 * the client and at proxies in between.
 */
export function sseHeartbeat(): string {
  return ': keep-alive\n\n';
}
