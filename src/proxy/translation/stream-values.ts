/**
 * Readers for the untyped JSON of upstream stream events. Unlike the request readers of
 * wire-values.ts they never throw, because a stream parser skips or replaces what it cannot read.
 */
import { isObject, type Json } from './wire-values.js';

/** Parses the data of one SSE event, and returns undefined unless it is a JSON object. */
export function parseEventObject(data: string): Json | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  return isObject(parsed) ? parsed : undefined;
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** Returns the value when it is a string, else the empty string. */
export function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
