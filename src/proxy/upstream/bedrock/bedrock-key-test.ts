import type { BedrockRegionCredential } from '../../../features/provider-keys/credentials.js';
import type { KeyTestOutcome } from '../../key-test/provider-key-tester.js';
import { readUpstreamText, type UpstreamTransport } from '../transport.js';
import { toUpstreamTransportError } from '../transport-error.js';
import { foundationModelsUrl } from './bedrock-endpoints.js';
import { mapBedrockHttpError } from './bedrock-errors.js';
import { globalRowRegion } from './bedrock-region.js';
import { BedrockSigner } from './bedrock-signer.js';

/** The outcome of one credential row. */
export interface BedrockRegionTestResult {
  /** The row's region as stored: an AWS region or `global`. */
  row: string;
  /** The region the row was tested in: the row's own, or for the `global` row the key's default region. */
  testedRegion: string;
  outcome: KeyTestOutcome;
  /** Bedrock's explanation, scrubbed of secrets; null when the row works. */
  message: string | null;
  httpStatus: number | null;
  latencyMs: number;
}

export interface BedrockKeyTestOptions {
  /** Time allowed for each row's request, in milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * The region the `global` row is tested in when the key has no default region. Any region with
 * Bedrock would do, since IAM credentials are valid in every region of their partition.
 */
export const globalRowFallbackTestRegion = 'us-east-1';

/** Severity order for summarizing several rows: the first outcome in this list that any row has wins. */
const outcomeSeverity: readonly KeyTestOutcome[] = ['INVALID', 'NOT_PERMITTED', 'NO_FUNDS', 'TRANSIENT', 'VALID'];

function outcomeOf(status: number, code: string, upstreamCode: string | null): KeyTestOutcome {
  if (code === 'provider_authentication_error') return 'INVALID';
  if (status === 403 || upstreamCode === 'AccessDeniedException') return 'NOT_PERMITTED';
  return 'TRANSIENT';
}

/**
 * Tests one credential row with a signed ListFoundationModels request (`GET /foundation-models` on
 * the control plane `bedrock.<region>.amazonaws.com`, service `bedrock`). It runs no model, so no
 * tokens are billed, and it proves that the access key id, the secret and the region are valid. It
 * does not prove model access, which only a model invocation shows.
 */
// NOTE: unverified against live AWS that an identity without bedrock:ListFoundationModels gets
// AccessDeniedException here rather than a credential error. Such a row is reported NOT_PERMITTED.
async function testRow(
  transport: UpstreamTransport,
  row: BedrockRegionCredential,
  testedRegion: string,
  options: BedrockKeyTestOptions,
): Promise<BedrockRegionTestResult> {
  const url = foundationModelsUrl(testedRegion);
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const result = (outcome: KeyTestOutcome, message: string | null, httpStatus: number | null): BedrockRegionTestResult => ({
    row: row.region,
    testedRegion,
    outcome,
    message,
    httpStatus,
    latencyMs: latency(),
  });

  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const headers = await new BedrockSigner(row, testedRegion).sign({ method: 'GET', url, headers: { accept: 'application/json' } });
    const response = await transport.request({ url, method: 'GET', headers, signal });
    if (response.statusCode < 400) {
      await response.body.dump();
      return result('VALID', null, response.statusCode);
    }
    const error = mapBedrockHttpError(
      { status: response.statusCode, headers: response.headers, body: await readUpstreamText(response.body) },
      { region: testedRegion, secrets: [row.accessKeyId, row.secretAccessKey], iamActions: 'bedrock:ListFoundationModels' },
    );
    return result(outcomeOf(response.statusCode, error.code, error.upstreamCode), error.message, response.statusCode);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const transportError = toUpstreamTransportError(error, url.origin);
    if (timeout.aborted) return result('TRANSIENT', `AWS Bedrock did not respond within ${options.timeoutMs} ms in ${testedRegion}.`, null);
    if (!transportError) throw error;
    return result('TRANSIENT', transportError.message, null);
  }
}

/**
 * Tests every credential row of a Bedrock key, all at once: each regional row in its own region and
 * the `global` row in the key's default region (or us-east-1 without one). Returns one result per
 * row, in the rows' order.
 */
export async function testBedrockCredentials(
  transport: UpstreamTransport,
  credentials: { regions: readonly BedrockRegionCredential[] },
  settings: { readonly defaultRegion?: unknown },
  options: BedrockKeyTestOptions,
): Promise<BedrockRegionTestResult[]> {
  const defaultRegion = typeof settings.defaultRegion === 'string' ? settings.defaultRegion : globalRowFallbackTestRegion;
  return Promise.all(
    credentials.regions.map((row) => {
      const testedRegion = row.region === globalRowRegion ? defaultRegion : row.region;
      return testRow(transport, row, testedRegion, options);
    }),
  );
}

/**
 * Summarizes per-row results as one key test result: the most severe outcome of any row (INVALID,
 * then NOT_PERMITTED, NO_FUNDS, TRANSIENT), with a message that names each failing row.
 */
export function summarizeBedrockTest(results: readonly BedrockRegionTestResult[]): {
  outcome: KeyTestOutcome;
  message: string | null;
  httpStatus: number | null;
  latencyMs: number;
} {
  const failing = results.filter((result) => result.outcome !== 'VALID');
  const outcome = outcomeSeverity.find((candidate) => results.some((result) => result.outcome === candidate)) ?? 'VALID';
  const worst = failing.find((result) => result.outcome === outcome);
  const describe = (result: BedrockRegionTestResult) => {
    const text = result.message ?? result.outcome;
    const sentence = /[.!?]$/.test(text) ? text : `${text}.`;
    return result.row === result.testedRegion ? `${result.row}: ${sentence}` : `${result.row} (tested in ${result.testedRegion}): ${sentence}`;
  };
  return {
    outcome,
    message: failing.length > 0 ? failing.map(describe).join(' ') : null,
    httpStatus: worst?.httpStatus ?? results[0]?.httpStatus ?? null,
    latencyMs: Math.max(0, ...results.map((result) => result.latencyMs)),
  };
}
