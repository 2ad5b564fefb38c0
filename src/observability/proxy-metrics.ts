import type { Registry } from 'prom-client';
import { providers, type ProviderId } from '../providers/providers.js';
import type { RequestLogEntry } from '../proxy/request-log/request-log-entry.js';
import { overheadBuckets, requestDurationBuckets } from './buckets.js';
import { CounterFamily, HistogramFamily, type CounterCell, type HistogramCell } from './metric-families.js';

/** `provider` label of requests that ended before a provider was chosen, such as an unknown model. */
const noProvider = 'none';

/** Label values of the credential sources, lower case like every other label value here. */
const credentialSourceLabels = { GATEWAY_KEY: 'gateway_key', ORGANIZATION: 'organization', PLATFORM: 'platform' } as const;

/** Returns `2xx`, `4xx` or `5xx` for a status, and `499` alone for a client that closed the connection. */
export function statusClass(status: number): string {
  if (status === 499) return '499';
  if (status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
  return 'other';
}

/** The label children of one provider, bound once so that an observation does no label lookup. */
interface ProviderChildren {
  label: string;
  duration: HistogramCell;
  upstream: HistogramCell;
  firstByte: HistogramCell;
  overhead: HistogramCell;
  inputUncached: CounterCell;
  cacheRead: CounterCell;
  cacheWrite: CounterCell;
  output: CounterCell;
  reasoning: CounterCell;
  /** Request counters keyed by `statusClass credentialSource`, bound on first use. */
  requests: Map<string, CounterCell>;
}

/**
 * Proxied requests by provider, status class and credential source; their latencies; and their
 * tokens. Every label value comes from a fixed set: the provider of the catalog entry that the
 * request resolved to (never the model text a client sent), a status class and a credential source.
 */
export class ProxyMetrics {
  readonly #requests: CounterFamily<'provider' | 'status_class' | 'credential_source'>;
  readonly #children = new Map<ProviderId | typeof noProvider, ProviderChildren>();

  constructor(registry: Registry) {
    this.#requests = new CounterFamily({
      name: 'keyroute_proxy_requests_total',
      help: 'Proxied requests of authenticated gateway keys, by provider, status class (2xx, 4xx, 5xx, or 499 for a client that left) and credential source.',
      labelNames: ['provider', 'status_class', 'credential_source'],
      registers: [registry],
    });
    const duration = new HistogramFamily({
      name: 'keyroute_proxy_request_duration_seconds',
      help: 'Time from the arrival of a proxied request to the end of its response, by provider.',
      labelNames: ['provider'],
      buckets: requestDurationBuckets,
      registers: [registry],
    });
    const upstream = new HistogramFamily({
      name: 'keyroute_proxy_upstream_duration_seconds',
      help: 'Time the provider took, from sending the upstream request to the end of its response, by provider.',
      labelNames: ['provider'],
      buckets: requestDurationBuckets,
      registers: [registry],
    });
    const firstByte = new HistogramFamily({
      name: 'keyroute_proxy_time_to_first_byte_seconds',
      help: 'Time from the arrival of a proxied request to the first response byte sent to the client, by provider.',
      labelNames: ['provider'],
      buckets: requestDurationBuckets,
      registers: [registry],
    });
    const overhead = new HistogramFamily({
      name: 'keyroute_proxy_overhead_seconds',
      help: 'Gateway overhead of a proxied request: its total duration minus the upstream duration, by provider. Requests that never reached a provider are not observed.',
      labelNames: ['provider'],
      buckets: overheadBuckets,
      registers: [registry],
    });
    const tokens = new CounterFamily({
      name: 'keyroute_proxy_tokens_total',
      help:
        'Tokens of proxied requests by provider and direction: input_uncached, cache_read and cache_write (input), output, ' +
        'and reasoning, which is a part of output and must not be added to it.',
      labelNames: ['provider', 'direction'],
      registers: [registry],
    });

    for (const label of [...providers.map((provider) => provider.prefix), noProvider]) {
      const id = providers.find((provider) => provider.prefix === label)?.id ?? noProvider;
      this.#children.set(id, {
        label,
        duration: duration.cell({ provider: label }),
        upstream: upstream.cell({ provider: label }),
        firstByte: firstByte.cell({ provider: label }),
        overhead: overhead.cell({ provider: label }),
        inputUncached: tokens.cell({ provider: label, direction: 'input_uncached' }),
        cacheRead: tokens.cell({ provider: label, direction: 'cache_read' }),
        cacheWrite: tokens.cell({ provider: label, direction: 'cache_write' }),
        output: tokens.cell({ provider: label, direction: 'output' }),
        reasoning: tokens.cell({ provider: label, direction: 'reasoning' }),
        requests: new Map(),
      });
    }
  }

  /** Records one proxied request from its request log entry. */
  observe(entry: RequestLogEntry): void {
    const children = this.#children.get(entry.provider ?? noProvider) ?? this.#children.get(noProvider)!;
    const statusLabel = statusClass(entry.status);
    const sourceLabel = entry.credentialSource === null ? 'none' : credentialSourceLabels[entry.credentialSource];
    const key = `${statusLabel} ${sourceLabel}`;
    let requests = children.requests.get(key);
    if (requests === undefined) {
      requests = this.#requests.cell({ provider: children.label, status_class: statusLabel, credential_source: sourceLabel });
      children.requests.set(key, requests);
    }
    requests.inc();

    children.duration.observe(entry.latencyMs / 1000);
    if (entry.ttfbMs !== null) children.firstByte.observe(entry.ttfbMs / 1000);
    if (entry.upstreamLatencyMs !== null) {
      children.upstream.observe(entry.upstreamLatencyMs / 1000);
      children.overhead.observe(Math.max(0, entry.latencyMs - entry.upstreamLatencyMs) / 1000);
    }

    // `> 0` also skips null and NaN, which must not reach a counter.
    if (entry.inputUncachedTokens! > 0) children.inputUncached.inc(entry.inputUncachedTokens!);
    if (entry.cacheReadTokens! > 0) children.cacheRead.inc(entry.cacheReadTokens!);
    if (entry.cacheWriteTokens! > 0) children.cacheWrite.inc(entry.cacheWriteTokens!);
    if (entry.outputTokens! > 0) children.output.inc(entry.outputTokens!);
    if (entry.reasoningTokens! > 0) children.reasoning.inc(entry.reasoningTokens!);
  }
}
