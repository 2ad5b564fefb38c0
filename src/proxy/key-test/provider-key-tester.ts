import type { Credentials } from '../../features/provider-keys/credentials.js';
import type { ProviderId } from '../../providers/providers.js';
import { defaultAnthropicVersion } from '../upstream/anthropic-adapter.js';
import { anthropicBaseUrl, chatCompletionsUrl, isOpenAiCompatible } from '../upstream/endpoints.js';
import { readUpstreamText, type UpstreamTransport } from '../upstream/transport.js';
import { toUpstreamTransportError } from '../upstream/transport-error.js';
import { mapUpstreamError } from '../upstream-error-mapping.js';
import { testVertexCredentials } from '../upstream/vertex/vertex-key-test.js';
import { summarizeBedrockTest, testBedrockCredentials, type BedrockRegionTestResult } from '../upstream/bedrock/bedrock-key-test.js';

export type KeyTestOutcome = 'VALID' | 'INVALID' | 'NO_FUNDS' | 'NOT_PERMITTED' | 'TRANSIENT';

export interface KeyTestResult {
  outcome: KeyTestOutcome;
  /** The provider's explanation, scrubbed of secrets; null when the key works. */
  message: string | null;
  httpStatus: number | null;
  latencyMs: number;
  /** Bedrock only: the outcome of each credential row, since each region has its own IAM key. */
  regions?: BedrockRegionTestResult[];
}

/** Providers whose keys can be tested by this version. */
export function canTestProvider(provider: ProviderId): boolean {
  return provider === 'ANTHROPIC' || provider === 'VERTEX_AI' || provider === 'BEDROCK' || isOpenAiCompatible(provider);
}

/**
 * Checks credentials against the provider's fixed model-list endpoint, which costs nothing and
 * needs a valid key. Vertex keys get a new access token and a Gemini token count instead
 * (vertex-key-test.ts), and Bedrock keys a signed foundation-model list per region row
 * (bedrock-key-test.ts). The URL comes from code, never from the request, so a test cannot be aimed
 * at another host.
 */
export class ProviderKeyTester {
  constructor(
    private readonly transport: UpstreamTransport,
    private readonly timeoutMs: number,
  ) {}

  async test(provider: ProviderId, credentials: Credentials, settings: Record<string, unknown>): Promise<KeyTestResult> {
    if (provider === 'VERTEX_AI' && credentials.kind === 'VERTEX_SERVICE_ACCOUNT') {
      return testVertexCredentials({ transport: this.transport, serviceAccount: credentials.serviceAccount, settings, timeoutMs: this.timeoutMs });
    }
    if (provider === 'BEDROCK' && credentials.kind === 'BEDROCK_REGIONS') {
      const regions = await testBedrockCredentials(this.transport, credentials, settings, { timeoutMs: this.timeoutMs });
      return { ...summarizeBedrockTest(regions), regions };
    }
    if (credentials.kind !== 'API_KEY' || !canTestProvider(provider)) {
      throw new Error(`Testing ${provider} credentials is not supported.`);
    }
    const { url, headers } = this.#request(provider, credentials.apiKey, settings);
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      const response = await this.transport.request({ url, method: 'GET', headers, signal: AbortSignal.timeout(this.timeoutMs) });
      if (response.statusCode < 400) {
        await response.body.dump();
        return { outcome: 'VALID', message: null, httpStatus: response.statusCode, latencyMs: latency() };
      }
      const error = mapUpstreamError({
        provider,
        status: response.statusCode,
        headers: response.headers,
        body: await readUpstreamText(response.body),
        secrets: [credentials.apiKey],
      });
      return { outcome: outcomeOf(response.statusCode, error.code, error.headers['x-should-retry']), message: error.message, httpStatus: response.statusCode, latencyMs: latency() };
    } catch (error) {
      const transportError = toUpstreamTransportError(error, url.origin);
      const timedOut = (error as Error)?.name === 'TimeoutError';
      if (!transportError && !timedOut) throw error;
      return {
        outcome: 'TRANSIENT',
        message: timedOut ? `The provider did not respond within ${this.timeoutMs} ms.` : transportError!.message,
        httpStatus: null,
        latencyMs: latency(),
      };
    }
  }

  #request(provider: ProviderId, apiKey: string, settings: Record<string, unknown>): { url: URL; headers: Record<string, string> } {
    if (provider === 'ANTHROPIC') {
      return {
        url: new URL('/v1/models?limit=1', anthropicBaseUrl),
        headers: { 'x-api-key': apiKey, 'anthropic-version': defaultAnthropicVersion },
      };
    }
    if (!isOpenAiCompatible(provider)) throw new Error(`Testing ${provider} credentials is not supported.`);
    // The model list sits beside chat completions on every OpenAI-compatible API.
    const url = new URL(chatCompletionsUrl(provider, settings).href.replace(/\/chat\/completions$/, '/models'));
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (provider === 'OPENAI') {
      if (typeof settings.organizationId === 'string') headers['openai-organization'] = settings.organizationId;
      if (typeof settings.projectId === 'string') headers['openai-project'] = settings.projectId;
    }
    return { url, headers };
  }
}

function outcomeOf(status: number, code: string, shouldRetry: string | undefined): KeyTestOutcome {
  if (status === 402 || (status === 429 && shouldRetry === 'false')) return 'NO_FUNDS';
  if (status === 403) return 'NOT_PERMITTED';
  if (status === 401 || code === 'provider_authentication_error') return 'INVALID';
  return 'TRANSIENT';
}
