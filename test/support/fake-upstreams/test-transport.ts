import type { UpstreamOverride } from '../../../src/config/upstream.config.js';
import { UpstreamTransport, type UpstreamTransportOptions } from '../../../src/proxy/upstream/transport.js';
import type { FakeUpstream } from './fake-server.js';

/**
 * Builds a transport that reaches only the given overrides: any other origin is rejected before
 * a connection is made, so a test cannot reach a real provider by mistake.
 */
export function createTestTransport(overrides: UpstreamOverride[], options: Partial<UpstreamTransportOptions> = {}): UpstreamTransport {
  return new UpstreamTransport({
    overrides,
    requireOverride: true,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    ...options,
  });
}

/** Returns the UPSTREAM_OVERRIDES value that routes each fake's real origin to the fake. */
export function upstreamOverridesVariable(...fakes: FakeUpstream[]): string {
  return fakes.map((fake) => `${fake.origin}=${fake.address}`).join(',');
}
