/**
 * A request field that the chosen upstream cannot honour in a way that would change the result,
 * so forwarding it silently would be wrong. Answered with 400 naming the field.
 */
export class RequestFieldError extends Error {
  readonly code = 'unsupported_parameter';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestFieldError';
  }
}
