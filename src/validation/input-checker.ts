import { ValidationError, type FieldIssue } from '../errors.js';

/**
 * Collects input problems so one response lists all of them, each with its input path.
 */
export class InputChecker {
  readonly issues: FieldIssue[] = [];

  add(path: (string | number)[], message: string): void {
    this.issues.push({ path, message });
  }

  throwIfInvalid(): void {
    if (this.issues.length > 0) throw new ValidationError(this.issues);
  }
}
