import type { IncomingMessage } from 'node:http';

/** Raised when a request body is larger than the route allows. */
export class PayloadTooLargeError extends Error {
  readonly code = 'payload_too_large';

  constructor(readonly limitBytes: number) {
    super(`The request body is larger than the limit of ${limitBytes} bytes.`);
  }
}

/**
 * Reads the whole body, failing as soon as it exceeds `limitBytes` (by the declared Content-Length
 * when there is one, else while reading) so an oversized body is never buffered.
 */
export async function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    request.resume();
    throw new PayloadTooLargeError(limitBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) {
      request.resume();
      throw new PayloadTooLargeError(limitBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
