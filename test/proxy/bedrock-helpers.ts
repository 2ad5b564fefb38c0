import { randomBytes } from 'node:crypto';
import { decodeGlobalID } from '@pothos/plugin-relay';
import type { BedrockRegionCredential } from '../../src/features/provider-keys/credentials.js';
import { graphql } from '../generated/gql.js';
import type { TestProviderKeyInput } from '../generated/graphql.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startFakeBedrock, type FakeBedrock, type RecordedBedrockRequest } from '../support/fake-upstreams/bedrock.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { createGatewayKey, createOrganization, runGraphql, type CreatedGatewayKey, type CreatedProviderKey } from './helpers.js';

/**
 * The proxy over the fake Bedrock. The fake serves the runtime and control plane hosts of
 * `bedrockRegions` through UPSTREAM_OVERRIDES, which keep the real URLs and Host headers, and every
 * other origin is refused, so no request can reach AWS.
 */

/** Regions the fake serves. A request for any other region fails at the gateway's transport. */
export const bedrockRegions = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-central-1', 'eu-west-1', 'ap-northeast-1'];

export const claudeModelId = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
export const claudeProfileId = `us.${claudeModelId}`;
export const llamaModelId = 'meta.llama3-1-70b-instruct-v1:0';
export const novaModelId = 'amazon.nova-pro-v1:0';

const accessKeyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Returns a new credential row in AWS's formats, random so that a leak check can search for it. */
export function newBedrockRow(region: string): BedrockRegionCredential {
  const suffix = [...randomBytes(16)].map((byte) => accessKeyAlphabet[byte % accessKeyAlphabet.length]).join('');
  return { region, accessKeyId: `AKIA${suffix}`, secretAccessKey: randomBytes(30).toString('base64') };
}

export interface BedrockProxyContext {
  database: TestDatabase;
  bedrock: FakeBedrock;
  /**
   * The credentials the fake accepts. The fake reads this array on every request, so tenants add
   * their rows to it after the start.
   */
  acceptedCredentials: BedrockRegionCredential[];
  server: InProcessServer;
  close(): Promise<void>;
}

export async function startBedrockProxyContext(environment: Record<string, string> = {}): Promise<BedrockProxyContext> {
  const acceptedCredentials: BedrockRegionCredential[] = [];
  const [database, bedrock] = await Promise.all([createTestDatabase(), startFakeBedrock({ credentials: acceptedCredentials, regions: bedrockRegions })]);
  const overrides = bedrock.overrides.map((override) => `${override.origin}=${override.address}`).join(',');
  const server = await startServerOver(database.handle, { UPSTREAM_OVERRIDES: overrides, UPSTREAM_REQUIRE_OVERRIDE: 'true', ...environment });
  return {
    database,
    bedrock,
    acceptedCredentials,
    server,
    async close() {
      // The fake first, so a request still waiting on it ends and does not hold up the server's drain.
      await bedrock.close();
      await server.stop();
      await database.destroy();
    },
  };
}

const CreateBedrockKey = graphql(`
  mutation BedrockProxyCreateKey($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload {
        providerKey { id credentials { ... on BedrockRegions { regions { region accessKeyId secretAccessKey } } } }
      }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

const UpdateBedrockKey = graphql(`
  mutation BedrockProxyUpdateKey($input: UpdateProviderKeyInput!) {
    updateProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload { providerKey { credentialsVersion } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

export const TestBedrockKey = graphql(`
  mutation BedrockProxyTestKey($input: TestProviderKeyInput!) {
    testProviderKey(input: $input) {
      __typename
      ... on ProviderKeyTestResult {
        outcome
        message
        httpStatus
        regions { row testedRegion outcome message httpStatus latencyMs }
      }
      ... on RateLimitedError { retryAfterSeconds }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`);

export interface BedrockTenant {
  organizationId: string;
  /** A management token of the organization, with write scope. */
  token: string;
  gatewayKey: CreatedGatewayKey;
  providerKey: CreatedProviderKey;
  rows: BedrockRegionCredential[];
}

/**
 * Creates an organization, a gateway key, and an organization-wide Bedrock provider key through the
 * createProviderKey mutation, with these rows and default region. The fake accepts each row's
 * credentials, except the rows of the regions in `unknownRows` (whose access key id it does not
 * know) and in `wrongSecretRows` (for which it expects another secret).
 */
export async function createBedrockTenant(
  context: BedrockProxyContext,
  options: { rows: BedrockRegionCredential[]; defaultRegion?: string | null; unknownRows?: string[]; wrongSecretRows?: string[] },
): Promise<BedrockTenant> {
  const { server } = context;
  for (const row of options.rows) {
    if (options.unknownRows?.includes(row.region)) continue;
    const secretAccessKey = options.wrongSecretRows?.includes(row.region) ? randomBytes(30).toString('base64') : row.secretAccessKey;
    context.acceptedCredentials.push({ ...row, secretAccessKey });
  }

  const organizationId = await createOrganization(server);
  const { token } = await server.running.app.services.managementTokens.issue({ organizationId, scope: 'write', actorLabel: 'bedrock proxy test' });
  const gatewayKey = await createGatewayKey(server, organizationId);
  const name = `Bedrock ${Math.random().toString(36).slice(2, 8)}`;
  const result = await runGraphql(server, token, CreateBedrockKey, {
    input: {
      provider: 'BEDROCK',
      name,
      credentials: { bedrockRegions: options.rows.map(({ region, accessKeyId, secretAccessKey }) => ({ region, accessKeyId, secretAccessKey })) },
      settings: options.defaultRegion === undefined ? null : { bedrock: { defaultRegion: options.defaultRegion } },
      assignment: { organization: true },
    },
  });
  const created = result.createProviderKey;
  if (created.__typename !== 'ProviderKeyPayload') {
    const errors = created.__typename === 'ValidationError' ? JSON.stringify(created.fieldErrors) : '';
    throw new Error(`createProviderKey returned ${created.__typename} ${errors}`);
  }
  const globalId = created.providerKey.id;
  return { organizationId, token, gatewayKey, providerKey: { id: decodeGlobalID(globalId).id, globalId, name }, rows: options.rows };
}

/**
 * Replaces the secret access key of one row through the updateProviderKey mutation, keeping its
 * access key id and the other rows, and makes the fake accept only the new secret for that key id.
 * Returns the new credentials version.
 */
export async function rotateSecret(context: BedrockProxyContext, tenant: BedrockTenant, region: string): Promise<number> {
  const row = tenant.rows.find((candidate) => candidate.region === region);
  if (!row) throw new Error(`the tenant has no row for ${region}`);
  const secretAccessKey = randomBytes(30).toString('base64');
  const result = await runGraphql(context.server, tenant.token, UpdateBedrockKey, {
    input: {
      id: tenant.providerKey.globalId,
      credentials: { bedrockRegions: tenant.rows.map((each) => (each === row ? { region, secretAccessKey } : { region: each.region })) },
    },
  });
  const updated = result.updateProviderKey;
  if (updated.__typename !== 'ProviderKeyPayload') throw new Error(`updateProviderKey returned ${updated.__typename}`);
  row.secretAccessKey = secretAccessKey;
  for (const accepted of context.acceptedCredentials) if (accepted.accessKeyId === row.accessKeyId) accepted.secretAccessKey = secretAccessKey;
  return updated.providerKey.credentialsVersion;
}

/** Runs testProviderKey and returns its result. */
export async function testProviderKey(context: BedrockProxyContext, tenant: BedrockTenant, input: TestProviderKeyInput) {
  return (await runGraphql(context.server, tenant.token, TestBedrockKey, { input })).testProviderKey;
}

/** Returns the last request the fake received, and throws when there is none. */
export function lastBedrockRequest(context: Pick<BedrockProxyContext, 'bedrock'>): RecordedBedrockRequest {
  const request = context.bedrock.requests.at(-1);
  if (!request) throw new Error('the fake Bedrock received no request');
  return request;
}

/** Returns the access key id, region and service of the credential scope in a request's SigV4 Authorization header. */
export function credentialScopeOf(request: RecordedBedrockRequest): { accessKeyId: string; region: string; service: string } | undefined {
  const match = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(request.headers.authorization ?? ''));
  return match ? { accessKeyId: match[1]!, region: match[2]!, service: match[3]! } : undefined;
}

/** Returns the request body the fake received, as a JSON object. */
export function bodyOf(request: RecordedBedrockRequest): Record<string, unknown> {
  return request.body as Record<string, unknown>;
}
