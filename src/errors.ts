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

  constructor(message: string, readonly existingId?: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class ForbiddenError extends ExpectedError {
  readonly code = 'forbidden';

  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}
