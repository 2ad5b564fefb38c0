import { formatSseEvent } from '../../src/proxy/sse/sse-format.js';
import { SseParser, type SseEvent } from '../../src/proxy/sse/sse-parser.js';
import type { StreamEvent } from '../../src/proxy/translation/ir.js';

/** A parser of one upstream format into IR events. */
export interface StreamParser {
  push(event: SseEvent): StreamEvent[];
  end(): StreamEvent[];
}

/** A renderer of IR events into one client format. */
export interface StreamRenderer {
  render(event: StreamEvent): SseEvent[];
}

/** Builds SSE text from blocks of lines, each block one event. */
export function sseText(...events: string[][]): string {
  return events.map((lines) => `${lines.join('\n')}\n\n`).join('');
}

/** Builds a data-only SSE text, one event per data value (OpenAI's format). */
export function dataOnlySse(...data: string[]): string {
  return data.map((value) => `data: ${value}\n\n`).join('');
}

/** Parses SSE text into events with the project's SSE parser, as the proxy reads an upstream body. */
export function sseEvents(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

/** Runs SSE text through a parser and returns the IR events, `end()`'s included. */
export function parseStream(parser: StreamParser, text: string): StreamEvent[] {
  const events = sseEvents(text).flatMap((event) => parser.push(event));
  events.push(...parser.end());
  return events;
}

/** Runs SSE text through a parser and a renderer, as the proxy does for a translated stream. */
export function translateStream(parser: StreamParser, renderer: StreamRenderer, text: string): SseEvent[] {
  return parseStream(parser, text).flatMap((event) => renderer.render(event));
}

/** Serializes events as the bytes a client receives. */
export function wireText(events: SseEvent[]): string {
  return events.map((event) => formatSseEvent(event)).join('');
}

/** Parses the data of each event as JSON, keeping OpenAI's `[DONE]` as the string. */
export function dataOf(events: SseEvent[]): unknown[] {
  return events.map((event) => (event.data === '[DONE]' ? '[DONE]' : JSON.parse(event.data)));
}

/** Creates a fetch that responds to every request with the given SSE text, so an SDK reads it as a provider's stream. */
export function sseFetch(text: string): typeof fetch {
  return async () =>
    new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream', 'request-id': 'req_test' } });
}
