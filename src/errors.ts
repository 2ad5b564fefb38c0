import { CryptoError } from './crypto/errors.js';

/**
 * Expected failures. Each class has a stable `code` that clients branch on; GraphQL exposes them as
 * members of result unions implementing the `Error` interface. Anything else is unexpected and is
 * masked for clients and logged with the request id.
 */

export abstract class ExpectedError extends Error {
  abstract readonly code: string;
}

export interface FieldIssue {
  /** Path of the invalid input value, such as `["input", "modelAllowList", 2]`. */
  path: (string | number)[];
  message: string;
}

export class ValidationError extends ExpectedError {
  readonly code = 'validation_failed';

  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`).join('; '));
    this.name = 'ValidationError';
  }

  static at(path: (string | number)[], message: string): ValidationError {
    return new ValidationError([{ path, message }]);
  }
}

export class NotFoundError extends ExpectedError {
  readonly code = 'not_found';

  constructor(readonly typeName: string, readonly id: string) {
    super(`No ${typeName} with id ${id} was found in this organization.`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ExpectedError {
  readonly code = 'conflict';

  /** @param existing the object already in the way, when there is one. */
  constructor(message: string, readonly existing?: { typeName: string; id: string }) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The key backend (AWS KMS or the keyring) failed, so secrets cannot be written or read now. */
export class EncryptionUnavailableError extends ExpectedError {
  readonly code = 'encryption_unavailable';

  constructor(message: string, readonly retryable: boolean) {
    super(message);
    this.name = 'EncryptionUnavailableError';
  }
}

export class ForbiddenError extends ExpectedError {
  readonly code = 'forbidden';

  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** Formats an input path as `input.modelAllowList[2]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text.length === 0 ? part : `.${part}`;
  }
  return text;
}

/** Too many requests of one kind from this organization; retry after the given time. */
export class RateLimitedError extends ExpectedError {
  readonly code = 'rate_limited';

  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
    this.name = 'RateLimitedError';
  }
}

/** Rethrows a key backend failure as EncryptionUnavailableError; other errors unchanged. */
export function toEncryptionUnavailable(error: unknown): never {
  if (error instanceof CryptoError) throw new EncryptionUnavailableError(error.message, error.retryable);
  throw error;
}
