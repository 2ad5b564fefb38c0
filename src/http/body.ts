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
 *
 * It listens for events rather than iterating the stream, because an async iterator costs several
 * promises per chunk on a path that every proxied request takes. The listeners are anonymous
 * functions passed inline: under tsx, every closure assigned to a name is wrapped in a call that
 * sets its `name` property, which costs more than the listener itself. They stay attached after
 * the promise settles, and `settled` makes them do nothing from then on.
 */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    request.resume();
    return Promise.reject(new PayloadTooLargeError(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    request.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) {
        settled = true;
        request.resume();
        reject(new PayloadTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    request.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    // 'close' before 'end' means the client went away with the body incomplete.
    request.on('close', () => {
      if (settled) return;
      settled = true;
      reject(Object.assign(new Error('The connection closed before the request body was complete.'), { code: 'ECONNRESET' }));
    });
  });
}
