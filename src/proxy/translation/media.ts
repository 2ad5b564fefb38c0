/**
 * Image and document sources shared by both formats: data URLs, media types and the checks that
 * make a bad attachment a 400 naming its path before any upstream call.
 */
import type { ImageSource } from './ir.js';
import { RequestFieldError } from '../upstream/request-field-error.js';

/** The image types Anthropic accepts, which OpenAI's vision models accept as well. */
export const acceptedImageTypes: readonly string[] = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

const base64Text = /^[A-Za-z0-9+/]*={0,2}$/;
// `data:<media type>[;<parameter>]*;base64,<data>`, as in RFC 2397. Only base64 payloads are read.
const dataUrl = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/s;

/** Lowercases a media type and turns the common misspelling `image/jpg` into `image/jpeg`. */
export function canonicalMediaType(mediaType: string): string {
  const lower = mediaType.trim().toLowerCase();
  return lower === 'image/jpg' ? 'image/jpeg' : lower;
}

/** Returns the canonical image type, or throws a RequestFieldError naming `path` for other types. */
export function checkImageType(mediaType: string, path: string): string {
  const canonical = canonicalMediaType(mediaType);
  if (acceptedImageTypes.includes(canonical)) return canonical;
  throw new RequestFieldError(
    path,
    `Unsupported image type ${JSON.stringify(canonical)} at ${path}: send image/jpeg, image/png, image/gif or image/webp.`,
  );
}

/** Checks that base64 data is non-empty and uses only the base64 alphabet. */
export function checkBase64(data: string, path: string): string {
  if (data.length === 0 || !base64Text.test(data)) {
    throw new RequestFieldError(path, `Invalid base64 data at ${path}: send the file encoded as standard base64.`);
  }
  return data;
}

/** Splits a base64 data URL into its media type and data; anything else is a RequestFieldError. */
export function parseDataUrl(url: string, path: string): { mediaType: string; data: string } {
  const match = dataUrl.exec(url);
  if (!match) {
    throw new RequestFieldError(path, `Invalid data URL at ${path}: expected data:<media type>;base64,<data>.`);
  }
  return { mediaType: canonicalMediaType(match[1]!), data: checkBase64(match[3]!, path) };
}

export function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/**
 * Reads an image URL as OpenAI clients send it: a base64 data URL with an accepted image type, or an
 * http(s) URL that the upstream fetches itself.
 */
export function parseImageUrl(url: string, path: string): ImageSource {
  if (isHttpUrl(url)) return { kind: 'url', url };
  if (!url.startsWith('data:')) {
    throw new RequestFieldError(path, `Invalid image URL at ${path}: send an http(s) URL or a base64 data URL.`);
  }
  const { mediaType, data } = parseDataUrl(url, path);
  return { kind: 'base64', mediaType: checkImageType(mediaType, path), data };
}

export function toDataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}
