import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Key material that prints as "[redacted]" through JSON.stringify (and so through pino),
 * util.inspect, console.log and string conversion, so that logging a configuration object does not
 * log its keys. Only `reveal()` returns the bytes.
 */
export class RedactedKey {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Returns the key bytes themselves, not a copy. */
  reveal(): Buffer {
    return this.#bytes;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
