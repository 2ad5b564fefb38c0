import type { VertexTokenConfig } from '../../src/config/vertex.config.js';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { VertexTokenProvider, type VertexTokenKey } from '../../src/proxy/upstream/vertex/vertex-token-provider.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import {
  startFakeGoogleTokenEndpoint,
  startFakeVertex,
  vertexOverrides,
  type FakeGoogleTokenEndpoint,
  type FakeVertex,
  type FakeVertexOptions,
} from '../support/fake-upstreams/vertex.js';

/** A wall clock that moves only when the test moves it, starting at the real time. */
export class FakeClock {
  #now = Date.now();

  readonly now = (): number => this.#now;

  advance(milliseconds: number): void {
    this.#now += milliseconds;
  }
}

export const testTokenConfig: VertexTokenConfig = {
  refreshMarginMs: 300_000,
  maxEntries: 100,
  retryIntervalMs: 5_000,
  timeoutMs: 2_000,
};

/** The token endpoint and Vertex fakes, a transport that reaches only them, and a shared fake clock. */
export interface VertexFakes {
  clock: FakeClock;
  tokens: FakeGoogleTokenEndpoint;
  vertex: FakeVertex;
  transport: UpstreamTransport;
  close(): Promise<void>;
}

export async function startVertexFakes(options: { projects?: FakeVertexOptions['projects'] } = {}): Promise<VertexFakes> {
  const clock = new FakeClock();
  const tokens = await startFakeGoogleTokenEndpoint({ now: clock.now });
  const vertex = await startFakeVertex({ tokens, projects: options.projects ?? {} });
  const transport = createTestTransport(vertexOverrides(tokens, vertex));
  return {
    clock,
    tokens,
    vertex,
    transport,
    async close() {
      await transport.destroy();
      await Promise.all([tokens.close(), vertex.close()]);
    },
  };
}

export function createProvider(fakes: VertexFakes, config: Partial<VertexTokenConfig> = {}) {
  const logs = captureLogs();
  const provider = new VertexTokenProvider({
    transport: fakes.transport,
    config: { ...testTokenConfig, ...config },
    logger: logs.logger,
    now: fakes.clock.now,
  });
  return { provider, logs };
}

let keyCounter = 0;

/** Returns a token key for a new provider key of a new organization, unless the organization is given. */
export function newTokenKey(organizationId = `org-${++keyCounter}`): VertexTokenKey {
  return { organizationId, providerKeyId: `pk-${++keyCounter}`, credentialsVersion: 1 };
}
