import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { parse } from 'graphql';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  createFakeServiceAccount,
  startFakeGoogleTokenEndpoint,
  startFakeVertex,
  vertexOverrides,
  type FakeGoogleTokenEndpoint,
  type FakeServiceAccount,
  type FakeVertex,
  type VertexRecordedRequest,
} from '../support/fake-upstreams/vertex.js';
import { startServerOver, type InProcessServer } from '../support/in-process-server.js';
import { createGatewayKey, createOrganization, runGraphql, type CreatedGatewayKey, type CreatedProviderKey } from './helpers.js';

/**
 * The proxy over the Google token endpoint and Vertex AI fakes. Both are reached through
 * UPSTREAM_OVERRIDES with their real URLs and Host headers, and every other origin is refused, so
 * no request can leave for Google.
 */

/** Locations the Vertex fake serves: the global endpoint, two regions and a multi-region. */
export const vertexLocations = ['global', 'us-east5', 'europe-west1', 'eu'];

export interface VertexProxyContext {
  database: TestDatabase;
  tokens: FakeGoogleTokenEndpoint;
  vertex: FakeVertex;
  /**
   * The service accounts (by client_email) allowed in each Google Cloud project. The Vertex fake
   * reads this object on every request, so tests add to it after the start.
   */
  projects: Record<string, string[]>;
  server: InProcessServer;
  /** UPSTREAM_OVERRIDES of the fakes, for further servers. */
  overrides: string;
  /** Starts another server over the same database, with these environment variables added. */
  startServer(environment?: Record<string, string>): Promise<InProcessServer>;
  close(): Promise<void>;
}

export async function startVertexProxyContext(environment: Record<string, string> = {}): Promise<VertexProxyContext> {
  const projects: Record<string, string[]> = {};
  const [database, tokens] = await Promise.all([createTestDatabase(), startFakeGoogleTokenEndpoint()]);
  const vertex = await startFakeVertex({ tokens, projects, locations: vertexLocations });
  const overrides = vertexOverrides(tokens, vertex).map((override) => `${override.origin}=${override.address}`).join(',');
  const servers: InProcessServer[] = [];
  const startServer = async (extra: Record<string, string> = {}) => {
    const server = await startServerOver(database.handle, { UPSTREAM_OVERRIDES: overrides, UPSTREAM_REQUIRE_OVERRIDE: 'true', ...environment, ...extra });
    servers.push(server);
    return server;
  };
  const server = await startServer();
  return {
    database,
    tokens,
    vertex,
    projects,
    server,
    overrides,
    startServer,
    async close() {
      // Fakes first, so a request still waiting on one ends and does not hold up the server's drain.
      await Promise.all([tokens.close(), vertex.close()]);
      for (const started of servers.splice(0)) await started.stop();
      await database.destroy();
    },
  };
}

interface CreateProviderKeyResult {
  createProviderKey: {
    __typename: string;
    providerKey?: { id: string; credentials: { clientEmail: string; privateKey: string; projectId: string } };
    fieldErrors?: { path: string[]; message: string }[];
  };
}

const CreateVertexKey = parse(`
  mutation VertexProxyCreateKey($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload {
        providerKey { id credentials { ... on VertexServiceAccount { clientEmail privateKey projectId } } }
      }
      ... on ValidationError { fieldErrors { path message } }
    }
  }
`) as TypedDocumentNode<CreateProviderKeyResult, { input: unknown }>;

export interface VertexTenant {
  organizationId: string;
  gatewayKey: CreatedGatewayKey;
  providerKey: CreatedProviderKey;
  serviceAccount: FakeServiceAccount;
  /** The project in the service account's key file. */
  project: string;
  /** A write-scope management token of the organization. */
  managementToken: string;
}

/**
 * Creates an organization, a gateway key, and an organization-wide Vertex provider key through
 * the createProviderKey mutation, with a new service account that the token endpoint accepts and
 * that may call models in its own project (and in `extraProjects`).
 */
export async function createVertexTenant(
  context: VertexProxyContext,
  options: { location?: string; projectId?: string; extraProjects?: string[]; serviceAccount?: FakeServiceAccount } = {},
): Promise<VertexTenant> {
  const serviceAccount = options.serviceAccount ?? createFakeServiceAccount();
  const email = serviceAccount.account.client_email;
  const project = serviceAccount.account.project_id;
  if (options.serviceAccount === undefined) context.tokens.register(serviceAccount);
  for (const allowed of [project, ...(options.extraProjects ?? [])]) {
    context.projects[allowed] = [...new Set([...(context.projects[allowed] ?? []), email])];
  }

  const { server } = context;
  const organizationId = await createOrganization(server);
  const { token } = await server.running.app.services.managementTokens.issue({ organizationId, scope: 'write', actorLabel: 'vertex proxy test' });
  const gatewayKey = await createGatewayKey(server, organizationId);
  const name = `Vertex ${Math.random().toString(36).slice(2, 8)}`;
  const settings =
    options.location !== undefined || options.projectId !== undefined
      ? { vertexAi: { location: options.location ?? null, projectId: options.projectId ?? null } }
      : null;
  const result = await runGraphql(server, token, CreateVertexKey, {
    input: {
      provider: 'VERTEX_AI',
      name,
      credentials: { vertexServiceAccount: serviceAccount.json },
      settings,
      assignment: { organization: true },
    },
  });
  const created = result.createProviderKey;
  if (created.providerKey === undefined) {
    throw new Error(`createProviderKey returned ${created.__typename}: ${JSON.stringify(created.fieldErrors)}`);
  }
  const globalId = created.providerKey.id;
  return { organizationId, gatewayKey, providerKey: { id: decodeGlobalID(globalId).id, globalId, name }, serviceAccount, project, managementToken: token };
}

const UpdateVertexKey = parse(`
  mutation VertexProxyUpdateKey($input: UpdateProviderKeyInput!) {
    updateProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload { providerKey { credentialsVersion } }
    }
  }
`) as TypedDocumentNode<{ updateProviderKey: { __typename: string; providerKey?: { credentialsVersion: number } } }, { input: unknown }>;

/** Replaces the tenant's service account through the updateProviderKey mutation and returns the new credentials version. */
export async function replaceServiceAccount(context: VertexProxyContext, tenant: VertexTenant, serviceAccount: FakeServiceAccount): Promise<number> {
  const result = await runGraphql(context.server, tenant.managementToken, UpdateVertexKey, {
    input: { id: tenant.providerKey.globalId, credentials: { vertexServiceAccount: serviceAccount.json } },
  });
  const updated = result.updateProviderKey.providerKey;
  if (updated === undefined) throw new Error(`updateProviderKey returned ${result.updateProviderKey.__typename}`);
  return updated.credentialsVersion;
}

/** Returns the last request the Vertex fake received, and throws when there is none. */
export function lastVertexRequest(context: Pick<VertexProxyContext, 'vertex'>): VertexRecordedRequest {
  const request = context.vertex.requests.at(-1);
  if (!request) throw new Error('the Vertex fake received no request');
  return request;
}

/** Returns the access token of a Vertex request's `Authorization: Bearer` header. */
export function bearerOf(request: VertexRecordedRequest): string | undefined {
  return /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
}

/**
 * Returns every secret a test of this context has handled: the private keys (whole, JSON-escaped
 * and per base64 line), every assertion sent to the token endpoint and every access token it issued.
 */
export function knownSecrets(context: Pick<VertexProxyContext, 'tokens'>, serviceAccounts: FakeServiceAccount[]): string[] {
  const keys = serviceAccounts.flatMap(({ account }) => {
    const pem = account.private_key;
    const lines = pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    return [pem, JSON.stringify(pem).slice(1, -1), ...lines];
  });
  const assertions = context.tokens.requests
    .map((request) => new URLSearchParams(request.rawBody).get('assertion') ?? '')
    .filter((assertion) => assertion !== '');
  const accessTokens = context.tokens.mints.map((mint) => mint.accessToken);
  return [...keys, ...assertions, ...accessTokens];
}

/**
 * Returns the 24-character pieces of `secrets` that occur in `text`, so that a secret cut short or
 * split by a length limit is still found.
 */
export function leakedPieces(text: string, secrets: string[]): string[] {
  const pieces = secrets.flatMap((secret) => secret.match(/[^]{24}/g) ?? [secret]);
  return [...new Set(pieces.filter((piece) => text.includes(piece)))];
}
