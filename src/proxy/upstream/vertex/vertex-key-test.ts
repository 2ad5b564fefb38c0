import type { VertexServiceAccount } from '../../../features/provider-keys/credentials.js';
import type { KeyTestOutcome, KeyTestResult } from '../../key-test/provider-key-tester.js';
import { readUpstreamText, type UpstreamTransport } from '../transport.js';
import { toUpstreamTransportError } from '../transport-error.js';
import { GoogleTokenError, requestGoogleAccessToken } from './google-access-token.js';
import { resolveVertexTarget, vertexGeminiCountTokensUrl } from './vertex-endpoints.js';
import { mapVertexError } from './vertex-errors.js';

/**
 * The model whose token count probes a Vertex key. Gemini models need no Model Garden enablement
 * and counting tokens generates nothing, so the call costs nothing.
 * NOTE: the model id is fixed in code. Once Google retires it, the probe gets 404, which still
 * proves the credential, so the test reports VALID with a message.
 */
export const vertexKeyTestModel = 'gemini-2.5-flash';

function outcomeForStatus(status: number): KeyTestOutcome {
  if (status === 401) return 'INVALID';
  if (status === 403) return 'NOT_PERMITTED';
  return 'TRANSIENT';
}

/**
 * Tests a Vertex service account in two steps, both within `timeoutMs`. The first obtains a new
 * access token from Google's token endpoint, never a cached one, so the key itself is checked.
 * The second calls Gemini's `countTokens` in the key's location and project, which checks that
 * the Vertex AI API is enabled and that the account may call models there.
 *
 * | result                                         | outcome                 |
 * |------------------------------------------------|-------------------------|
 * | token rejected (`invalid_grant` …), 401        | INVALID                 |
 * | 403 (API disabled, missing role)               | NOT_PERMITTED           |
 * | 2xx                                            | VALID                   |
 * | 404 (the probe model is not in this location)  | VALID, with a message   |
 * | timeout, network failure, 429, 5xx, other      | TRANSIENT               |
 */
export async function testVertexCredentials(options: {
  transport: UpstreamTransport;
  serviceAccount: VertexServiceAccount;
  settings: Record<string, unknown>;
  timeoutMs: number;
  /** Wall clock in milliseconds, for the assertion. Defaults to Date.now. */
  now?: () => number;
}): Promise<KeyTestResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const timedOut = (): KeyTestResult => ({
    outcome: 'TRANSIENT',
    message: `Google did not respond within ${options.timeoutMs} ms.`,
    httpStatus: null,
    latencyMs: latency(),
  });
  const target = resolveVertexTarget({ settings: options.settings, serviceAccount: options.serviceAccount, locationHeader: undefined });
  const url = vertexGeminiCountTokensUrl(target, vertexKeyTestModel);

  let accessToken: string;
  try {
    const token = await requestGoogleAccessToken(options.transport, options.serviceAccount, {
      now: options.now ?? Date.now,
      timeoutMs: options.timeoutMs,
      signal: deadline,
    });
    accessToken = token.token;
  } catch (error) {
    if (deadline.aborted) return timedOut();
    if (!(error instanceof GoogleTokenError)) throw error;
    return {
      outcome: error.failure === 'credential_rejected' ? 'INVALID' : 'TRANSIENT',
      message: error.message,
      httpStatus: error.httpStatus,
      latencyMs: latency(),
    };
  }

  try {
    const response = await options.transport.request({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'ping' }] }] }),
      signal: deadline,
    });
    if (response.statusCode < 400) {
      await response.body.dump();
      return { outcome: 'VALID', message: null, httpStatus: response.statusCode, latencyMs: latency() };
    }
    const error = mapVertexError({
      status: response.statusCode,
      headers: response.headers,
      body: await readUpstreamText(response.body),
      secrets: [accessToken, options.serviceAccount.private_key],
      target,
      model: `google/${vertexKeyTestModel}`,
    });
    if (response.statusCode === 404) {
      return {
        outcome: 'VALID',
        message: `The credential works, but the probe model could not be used: ${error.message}`,
        httpStatus: 404,
        latencyMs: latency(),
      };
    }
    return { outcome: outcomeForStatus(response.statusCode), message: error.message, httpStatus: response.statusCode, latencyMs: latency() };
  } catch (error) {
    if (deadline.aborted) return timedOut();
    const transportError = toUpstreamTransportError(error, url.origin);
    if (!transportError) throw error;
    return { outcome: 'TRANSIENT', message: transportError.message, httpStatus: null, latencyMs: latency() };
  }
}
