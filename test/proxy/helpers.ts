import Anthropic, { type ClientOptions as AnthropicOptions } from '@anthropic-ai/sdk';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import OpenAI, { type ClientOptions as OpenAiOptions } from 'openai';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { CreateGatewayKeyInput, WriteContext } from '../../src/features/gateway-keys/gateway-key.service.js';
import type { AssignmentInput } from '../../src/features/provider-keys/provider-key.service.js';
import type { SettingsInput } from '../../src/features/provider-keys/settings.js';
import type { ProviderId } from '../../src/providers/providers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startFakeAnthropic } from '../support/fake-upstreams/anthropic.js';
import type { FakeUpstream, RecordedRequest } from '../support/fake-upstreams/fake-server.js';
import { startFakeOpenAiCompatible } from '../support/fake-upstreams/openai-compatible.js';
import { upstreamOverridesVariable } from '../support/fake-upstreams/test-transport.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { apiKeyFor } from '../proxy-directory/helpers.js';

export type { InProcessServer } from '../support/in-process-server.js';

/** One fake per upstream origin the proxy can reach. zAI's China platform has an origin of its own. */
export interface Fakes {
  openai: FakeUpstream;
  mistral: FakeUpstream;
  deepseek: FakeUpstream;
  xai: FakeUpstream;
  zai: FakeUpstream;
  zaiChina: FakeUpstream;
  anthropic: FakeUpstream;
}

/** The API key each fake accepts, one per provider. Both zAI fakes accept the zAI key. */
export type UpstreamSecrets = Record<'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI' | 'ANTHROPIC', string>;

/**
 * One test file's proxy: the fakes, a migrated database, and a server over them whose upstream
 * origins all lead to the fakes. Further servers with other settings can share the database.
 */
export interface ProxyTestContext {
  database: TestDatabase;
  fakes: Fakes;
  secrets: UpstreamSecrets;
  server: InProcessServer;
  /** Starts another server over the same database and fakes, with extra environment variables. */
  startServer(environment?: Record<string, string>): Promise<InProcessServer>;
  close(): Promise<void>;
}

export const writeContextLabel = 'proxy test';

export async function startFakes(secrets: UpstreamSecrets): Promise<Fakes> {
  const [openai, mistral, deepseek, xai, zai, zaiChina, anthropic] = await Promise.all([
    startFakeOpenAiCompatible({ provider: 'OPENAI', expectedKey: secrets.OPENAI }),
    startFakeOpenAiCompatible({ provider: 'MISTRAL', expectedKey: secrets.MISTRAL }),
    startFakeOpenAiCompatible({ provider: 'DEEPSEEK', expectedKey: secrets.DEEPSEEK }),
    startFakeOpenAiCompatible({ provider: 'XAI', expectedKey: secrets.XAI }),
    startFakeOpenAiCompatible({ provider: 'ZAI', expectedKey: secrets.ZAI }),
    startFakeOpenAiCompatible({ provider: 'ZAI', expectedKey: secrets.ZAI, origin: 'https://open.bigmodel.cn' }),
    startFakeAnthropic({ expectedKey: secrets.ANTHROPIC }),
  ]);
  return { openai: openai!, mistral: mistral!, deepseek: deepseek!, xai: xai!, zai: zai!, zaiChina: zaiChina!, anthropic: anthropic! };
}

/** Environment that routes every upstream origin to its fake and rejects any other origin. */
export function upstreamEnvironment(fakes: Fakes): Record<string, string> {
  return {
    UPSTREAM_OVERRIDES: upstreamOverridesVariable(...Object.values(fakes)),
    UPSTREAM_REQUIRE_OVERRIDE: 'true',
  };
}

/** Fresh random API keys, one per provider, in each provider's format. */
export function newUpstreamSecrets(): UpstreamSecrets {
  return {
    OPENAI: apiKeyFor('OPENAI'),
    MISTRAL: apiKeyFor('MISTRAL'),
    DEEPSEEK: apiKeyFor('DEEPSEEK'),
    XAI: apiKeyFor('XAI'),
    ZAI: apiKeyFor('ZAI'),
    ANTHROPIC: apiKeyFor('ANTHROPIC'),
  };
}

export async function startProxyContext(
  environment: Record<string, string> = {},
  secrets: UpstreamSecrets = newUpstreamSecrets(),
): Promise<ProxyTestContext> {
  const [database, fakes] = await Promise.all([createTestDatabase(), startFakes(secrets)]);
  const servers: InProcessServer[] = [];
  const startServer = async (extra: Record<string, string> = {}) => {
    const server = await startServerOver(database.handle, { ...upstreamEnvironment(fakes), ...extra });
    servers.push(server);
    return server;
  };
  const server = await startServer(environment);

  return {
    database,
    fakes,
    secrets,
    server,
    startServer,
    async close() {
      // Fakes first, so a request still waiting on one ends and does not hold up the server's drain.
      await Promise.all(Object.values(fakes).map((fake) => fake.close()));
      for (const started of servers.splice(0)) await started.stop();
      await database.destroy();
    },
  };
}

export function writeContext(organizationId: string): WriteContext {
  return { organizationId, actor: { tokenId: null, label: writeContextLabel } };
}

export async function createOrganization(server: InProcessServer, options: { platformCredentialsAllowed?: boolean } = {}): Promise<string> {
  const { services } = server.running.app;
  const organization = await services.organizations.create(`organization ${Math.random().toString(36).slice(2, 8)}`);
  if (options.platformCredentialsAllowed) {
    await services.organizations.setPlatformCredentialsAllowed(organization.id, true, writeContext(organization.id).actor);
  }
  return organization.id;
}

export interface CreatedGatewayKey {
  id: string;
  secret: string;
  name: string;
}

export async function createGatewayKey(
  server: InProcessServer,
  organizationId: string,
  input: Partial<CreateGatewayKeyInput> = {},
): Promise<CreatedGatewayKey> {
  const name = input.name ?? `app ${Math.random().toString(36).slice(2, 8)}`;
  const { gatewayKey, secret } = await server.running.app.services.gatewayKeys.create(writeContext(organizationId), { ...input, name });
  return { id: gatewayKey.id, secret, name };
}

export interface CreatedProviderKey {
  id: string;
  /** The id that clients and the GraphQL API see, as in `x-keyroute-provider-key-id`. */
  globalId: string;
  name: string;
}

export async function createProviderKey(
  server: InProcessServer,
  organizationId: string,
  input: { provider: ProviderId; apiKey: string; assignment: AssignmentInput; enabled?: boolean; settings?: SettingsInput; name?: string },
): Promise<CreatedProviderKey> {
  const name = input.name ?? `${input.provider} key ${Math.random().toString(36).slice(2, 8)}`;
  const { providerKey } = await server.running.app.services.providerKeys.create(writeContext(organizationId), {
    provider: input.provider,
    name,
    enabled: input.enabled ?? true,
    credentials: { apiKey: input.apiKey },
    settings: input.settings ?? null,
    assignment: input.assignment,
  });
  return { id: providerKey.id, globalId: encodeGlobalID('ProviderKey', providerKey.id), name };
}

/**
 * Creates an organization with one gateway key and, for each provider given, an
 * organization-wide provider key that contains the secret which that provider's fake accepts.
 */
export async function createTenant(
  context: Pick<ProxyTestContext, 'server' | 'secrets'>,
  providers: (keyof UpstreamSecrets)[],
  gatewayKeyInput: Partial<CreateGatewayKeyInput> = {},
): Promise<{ organizationId: string; gatewayKey: CreatedGatewayKey; providerKeys: Partial<Record<keyof UpstreamSecrets, CreatedProviderKey>> }> {
  const organizationId = await createOrganization(context.server);
  const gatewayKey = await createGatewayKey(context.server, organizationId, gatewayKeyInput);
  const providerKeys: Partial<Record<keyof UpstreamSecrets, CreatedProviderKey>> = {};
  for (const provider of providers) {
    providerKeys[provider] = await createProviderKey(context.server, organizationId, {
      provider,
      apiKey: context.secrets[provider],
      assignment: { organization: true },
    });
  }
  return { organizationId, gatewayKey, providerKeys };
}

/** Builds the official OpenAI client for the proxy, without retries unless `options` sets maxRetries. */
export function openAiClient(server: InProcessServer, gatewayKey: string, options: OpenAiOptions = {}): OpenAI {
  return new OpenAI({ apiKey: gatewayKey, baseURL: `${server.baseUrl}/v1`, maxRetries: 0, ...options });
}

/** Builds the official Anthropic client for the proxy, without retries unless `options` sets maxRetries. */
export function anthropicClient(server: InProcessServer, gatewayKey: string, options: AnthropicOptions = {}): Anthropic {
  return new Anthropic({ apiKey: gatewayKey, baseURL: server.baseUrl, maxRetries: 0, ...options });
}

/** Writes the queued request log entries and returns the rows of one gateway key, oldest first. */
export async function requestLogRows(context: Pick<ProxyTestContext, 'database'>, server: InProcessServer, gatewayKeyId: string) {
  await server.running.app.requestLog.flush();
  return context.database.db
    .selectFrom('request_logs')
    .selectAll()
    .where('gateway_key_id', '=', gatewayKeyId)
    .orderBy('occurred_at')
    .execute();
}

/**
 * Waits until a gateway key has `count` request log rows, since a row is queued only once its
 * request has finished on the server, which can be a moment after the client saw the end.
 */
export async function waitForRequestLogRows(
  context: Pick<ProxyTestContext, 'database'>,
  server: InProcessServer,
  gatewayKeyId: string,
  count: number,
  timeoutMs = 5_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await requestLogRows(context, server, gatewayKeyId);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Returns the last request a fake received, and throws when there is none. */
export function lastRequest(fake: FakeUpstream): RecordedRequest {
  const request = fake.requests.at(-1);
  if (!request) throw new Error(`the fake ${fake.provider} received no request`);
  return request;
}

/** The client credential headers that must never reach an upstream. */
export const clientAuthHeaders = ['x-keyroute-api-key', 'x-edgee-api-key'] as const;

/** Awaits a promise that must reject and returns its reason; a fulfilled promise fails the test. */
export async function rejectionOf<Reason = unknown>(promise: PromiseLike<unknown>): Promise<Reason> {
  try {
    await promise;
  } catch (error) {
    return error as Reason;
  }
  throw new Error('expected a rejection, but the promise was fulfilled');
}

/** Runs a typed GraphQL document against the server with a management token, and throws on GraphQL errors. */
export async function runGraphql<Result, Variables>(
  server: InProcessServer,
  token: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  const response = await fetch(`${server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const parsed = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (parsed.errors !== undefined || parsed.data === undefined) {
    throw new Error(`GraphQL failed with HTTP ${response.status}: ${JSON.stringify(parsed.errors)}`);
  }
  return parsed.data;
}
