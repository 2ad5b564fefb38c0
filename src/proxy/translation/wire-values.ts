/**
 * Readers for the untyped JSON of client requests. Each one checks one value and throws a
 * RequestFieldError that names its path in the client's format, so the route returns 400 before any
 * upstream call. Error messages name the expected form, never the value, since it may be a prompt.
 */
import type { CacheHint } from './ir.js';
import { RequestFieldError } from '../upstream/request-field-error.js';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for a field that is absent or JSON null: clients send both for "not set". */
export function isUnset(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

export function readObject(value: unknown, path: string): Json {
  if (!isObject(value)) throw invalid(path, 'a JSON object');
  return value;
}

export function readArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(path, 'an array');
  return value;
}

/**
 * Reads a conversation's `messages`, which both formats require to hold at least one message. An
 * empty list is rejected here, before any upstream call, rather than by the upstream.
 */
export function readMessages(value: unknown): unknown[] {
  const messages = readArray(value, 'messages');
  if (messages.length === 0) throw invalid('messages', 'at least one message');
  return messages;
}

export function readString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(path, 'a string');
  return value;
}

export function readOptionalString(value: unknown, path: string): string | undefined {
  return isUnset(value) ? undefined : readString(value, path);
}

export function readOptionalNumber(value: unknown, path: string): number | undefined {
  if (isUnset(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(path, 'a number');
  return value;
}

/** Reads a token count: a whole number of 1 or more. */
export function readOptionalCount(value: unknown, path: string): number | undefined {
  if (isUnset(value)) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid(path, 'a whole number of 1 or more');
  return value;
}

export function readOptionalBoolean(value: unknown, path: string): boolean | undefined {
  if (isUnset(value)) return undefined;
  if (typeof value !== 'boolean') throw invalid(path, 'true or false');
  return value;
}

/** Reads a stop sequence setting, a string or an array of strings, as an array. */
export function readStopSequences(value: unknown, path: string): string[] | undefined {
  if (isUnset(value)) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return [...value];
  throw invalid(path, 'a string or an array of strings');
}

/** Reads Anthropic's `cache_control`, which some OpenAI-format clients also put on content parts. */
export function readCacheControl(value: unknown, path: string): CacheHint | undefined {
  if (isUnset(value)) return undefined;
  const control = readObject(value, path);
  if (control.type !== 'ephemeral') throw invalid(`${path}.type`, '"ephemeral"');
  const ttl = readOptionalString(control.ttl, `${path}.ttl`);
  return ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl };
}

/** Renders a cache hint as Anthropic's `cache_control`. */
export function renderCacheControl(hint: CacheHint): Json {
  return hint.ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl: hint.ttl };
}

/** Adds `cache_control` to a rendered Anthropic block when the part carries a cache hint. */
export function withCacheControl<T extends Json>(block: T, hint: CacheHint | undefined): T {
  if (hint !== undefined) (block as Json).cache_control = renderCacheControl(hint);
  return block;
}

export function invalid(path: string, expected: string): RequestFieldError {
  return new RequestFieldError(path, `Invalid ${path}: expected ${expected}.`);
}
