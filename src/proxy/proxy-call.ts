import { randomUUID } from 'node:crypto';
import type { AuthenticatedGatewayKey } from './directory/proxy-directory.js';
import type { CredentialSource } from '../features/provider-keys/resolution.js';
import type { CatalogModel } from '../models/catalog.js';
import { priceTableVersion } from '../models/built-in-catalog.js';
import type { ProviderId } from '../providers/providers.js';
import type { RequestIds } from '../request-context.js';
import { costMicroUsd } from './cost.js';
import { boundTags, type RequestLogEntry } from './request-log/request-log-entry.js';
import type { CanonicalUsage } from './usage.js';

/**
 * State of one proxied request, filled in step by step and turned into one request log row at
 * the end, whatever the outcome.
 */
export class ProxyCall {
  readonly startedAt = performance.now();
  readonly occurredAt = new Date();
  gatewayKey: AuthenticatedGatewayKey | undefined;
  provider: ProviderId | undefined;
  model: string | undefined;
  catalogEntry: CatalogModel | undefined;
  providerKeyId: string | null = null;
  credentialSource: CredentialSource | null = null;
  /** The cloud region that served the request, for Bedrock. */
  region: string | null = null;
  stream = false;
  status = 0;
  errorCode: string | null = null;
  firstByteAt: number | undefined;
  upstreamStartedAt: number | undefined;
  upstreamEndedAt: number | undefined;
  usage: CanonicalUsage | undefined;
  rawUsage: Record<string, unknown> | null = null;
  upstreamRequestId: string | null = null;
  tags: string[] = [];

  constructor(readonly ids: RequestIds) {}

  markFirstByte(): void {
    this.firstByteAt ??= performance.now();
  }

  /** Builds the log row; returns undefined without an authenticated gateway key, since such a request has no organization. */
  toLogEntry(finalStatus: number): RequestLogEntry | undefined {
    if (!this.gatewayKey) return undefined;
    const endedAt = performance.now();
    const usage = this.usage;
    const cost = usage ? costMicroUsd(usage, this.catalogEntry) : null;
    return {
      id: randomUUID(),
      occurredAt: this.occurredAt,
      organizationId: this.gatewayKey.organizationId,
      gatewayKeyId: this.gatewayKey.id,
      providerKeyId: this.providerKeyId,
      credentialSource: this.credentialSource,
      provider: this.provider ?? null,
      model: this.model ?? null,
      region: this.region,
      stream: this.stream,
      status: finalStatus,
      errorCode: this.errorCode,
      latencyMs: endedAt - this.startedAt,
      ttfbMs: this.firstByteAt === undefined ? null : this.firstByteAt - this.startedAt,
      upstreamLatencyMs:
        this.upstreamStartedAt === undefined ? null : (this.upstreamEndedAt ?? endedAt) - this.upstreamStartedAt,
      inputUncachedTokens: usage?.inputUncached ?? null,
      cacheReadTokens: usage?.cacheRead ?? null,
      cacheWriteTokens: usage?.cacheWrite ?? null,
      outputTokens: usage?.output ?? null,
      reasoningTokens: usage?.reasoning ?? null,
      rawUsage: this.rawUsage,
      costMicroUsd: cost,
      priceTableVersion: cost === null ? null : priceTableVersion,
      tags: boundTags(this.tags),
      requestId: this.ids.requestId,
      clientRequestId: this.ids.clientRequestId ?? null,
      upstreamRequestId: this.upstreamRequestId,
    };
  }
}
