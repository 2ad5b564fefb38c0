import { ProxyError } from '../../errors.js';

/** The reason a Bedrock request was rejected before anything was sent to AWS. */
export type BedrockRequestErrorReason =
  | 'invalid_model_id'
  | 'invalid_api_header'
  | 'invalid_region_header'
  | 'region_unresolved'
  | 'credentials_missing'
  | 'unsupported_content';

/**
 * A 400 for a Bedrock request that cannot be sent as it is: a malformed model id, a bad
 * `X-Keyroute-Bedrock-*` header, no region or no credentials for the chosen region, or content that
 * the chosen Bedrock API cannot carry. The message names the value and the fix, and `reason`
 * lets callers and tests branch without reading it.
 */
export class BedrockRequestError extends ProxyError {
  constructor(
    readonly reason: BedrockRequestErrorReason,
    message: string,
    param: string | null = null,
  ) {
    super({ status: 400, type: 'invalid_request_error', code: 'invalid_request_error', message, param });
    this.name = 'BedrockRequestError';
  }
}

/** Either a value or the error that replaces it, for the pure functions of the Bedrock upstream. */
export type BedrockResult<T> = { ok: true; value: T } | { ok: false; error: BedrockRequestError };
