import { RequestFieldError } from '../../src/proxy/upstream/request-field-error.js';

/** Runs a translation step that must fail and returns its RequestFieldError. */
export function fieldErrorOf(run: () => unknown): RequestFieldError {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestFieldError) return error;
    throw error;
  }
  throw new Error('expected a RequestFieldError, but the call succeeded');
}

/** A 1×1 transparent PNG, base64. */
export const pngBase64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** A minimal PDF header, base64; the translators never read the bytes. */
export const pdfBase64 = Buffer.from('%PDF-1.4\n%%EOF\n').toString('base64');
