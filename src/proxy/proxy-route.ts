import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/environment.js';
import { encodeGlobalID } from '../graphql/global-id.js';
import { PayloadTooLargeError, readBody } from '../http/body.js';
import { sendJson } from '../http/respond.js';
import type { Logger } from '../logger.js';
import type { ProxyMetrics } from '../observability/proxy-metrics.js';
import type { ModelCatalog } from '../models/catalog.js';
import { prefixOfProvider, providers, type ProviderId } from '../providers/providers.js';
import type { RequestIds } from '../request-context.js';
import { extractGatewayKey } from './directory/gateway-key-header.js';
import type { AuthenticatedGatewayKey, ProxyDirectory, Resolved } from './directory/proxy-directory.js';
import { ProxyError, sendProxyError, type ClientDialect } from './errors.js';
import { forward } from './forward.js';
import { isModelAllowed, listModels } from './models-list.js';
import { ProxyCall } from './proxy-call.js';
import type { RequestLogWriter } from './request-log/request-log-writer.js';
import { buildUpstreamRequest, chooseUpstreamApi } from './upstream-request.js';
import { RequestFieldError } from './upstream/request-field-error.js';
import type { UpstreamTransport } from './upstream/transport.js';
import type { VertexTokenProvider } from './upstream/vertex/vertex-token-provider.js';
import type { BedrockSignerCache } from './upstream/bedrock/bedrock-signer.js';

type Json = Record<string, unknown>;
type Operation = 'chat' | 'messages' | 'count_tokens' | 'models';

interface RouteSpec {
  method: 'GET' | 'POST';
  dialect: ClientDialect;
  operation: Operation;
}

/** The proxy routes, matched on the path only (Claude Code appends `?beta=true`). */
const routes: Record<string, RouteSpec> = {
  '/v1/chat/completions': { method: 'POST', dialect: 'openai', operation: 'chat' },
  '/v1/messages': { method: 'POST', dialect: 'anthropic', operation: 'messages' },
  '/v1/messages/count_tokens': { method: 'POST', dialect: 'anthropic', operation: 'count_tokens' },
  '/v1/models': { method: 'GET', dialect: 'openai', operation: 'models' },
};

export interface ProxyDependencies {
  config: Config;
  logger: Logger;
  directory: ProxyDirectory;
  transport: UpstreamTransport;
  catalog: ModelCatalog;
  requestLog: RequestLogWriter;
  /** Records each logged request's status, latencies and tokens; absent when metrics are off. */
  metrics?: ProxyMetrics | undefined;
  /** Access tokens of Vertex AI service accounts, cached per provider key. */
  vertexTokens: VertexTokenProvider;
  /** SigV4 signers per Bedrock credential set and region. */
  bedrockSigners: BedrockSignerCache;
}

/**
 * Deepest JSON nesting a proxied body may have, counting the body object as level 1. JSON.parse
 * accepts any depth, but JSON.stringify, which renders every upstream body, recurses and overflows
 * the stack at a few thousand levels (between 3,000 and 5,000 in this server on Node 20). 512
 * leaves room for deep tool schemas and stays far below that.
 */
const maxJsonDepth = 512;

/**
 * Returns true when valid JSON text nests objects or arrays deeper than `limit`. It scans the bytes
 * once without allocating, since every proxied body passes through it: quotes and backslashes are
 * ASCII, and no byte of a multi-byte UTF-8 character can be mistaken for them.
 */
function nestsDeeperThan(json: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < json.length; index += 1) {
    const byte = json[index]!;
    if (inString) {
      if (byte === backslash) index += 1;
      else if (byte === quote) inString = false;
    } else if (byte === quote) {
      inString = true;
    } else if (byte === openBrace || byte === openBracket) {
      depth += 1;
      if (depth > limit) return true;
    } else if (byte === closeBrace || byte === closeBracket) {
      depth -= 1;
    }
  }
  return false;
}

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

/** Tags from `X-Keyroute-Tags` or `X-Edgee-Tags` (comma-separated), else the body's `tags` array. */
function readTags(request: IncomingMessage, body: Json | undefined): string[] {
  const header = request.headers['x-keyroute-tags'] ?? request.headers['x-edgee-tags'];
  if (typeof header === 'string') return header.split(',');
  if (Array.isArray(body?.tags)) return (body.tags as unknown[]).filter((tag): tag is string => typeof tag === 'string');
  return [];
}

/** Returns the provider key id as clients and the GraphQL API know it (a global id). */
function providerKeyLabel(resolved: Extract<Resolved, { kind: 'use' | 'disabled' | 'unavailable' }>): string | null {
  if (resolved.providerKeyId === null) return null;
  let label = providerKeyLabels.get(resolved.providerKeyId);
  if (label === undefined) {
    // The map only saves re-encoding, so emptying it when full is enough to bound it.
    if (providerKeyLabels.size >= maxProviderKeyLabels) providerKeyLabels.clear();
    label = encodeGlobalID('ProviderKey', resolved.providerKeyId);
    providerKeyLabels.set(resolved.providerKeyId, label);
  }
  return label;
}

/** Global ids of provider keys by internal id: every proxied request names its key in headers. */
const providerKeyLabels = new Map<string, string>();
const maxProviderKeyLabels = 10_000;

export function createProxyRoute(dependencies: ProxyDependencies) {
  const { config, directory, transport, catalog, requestLog } = dependencies;

  async function authenticate(request: IncomingMessage): Promise<AuthenticatedGatewayKey> {
    const secret = extractGatewayKey(request.headers);
    if (!secret) {
      throw ProxyError.gateway(
        'authentication_error',
        'Missing gateway key. Send it as "Authorization: Bearer kr_…" or in the x-api-key header.',
      );
    }
    const gatewayKey = await directory.authenticate(secret);
    if (!gatewayKey) throw ProxyError.gateway('authentication_error', 'Unknown gateway key. Check the key, or create one with the createGatewayKey mutation.');
    if (!gatewayKey.active) throw ProxyError.gateway('permission_error', `The gateway key "${gatewayKey.name}" is inactive. Activate it with updateGatewayKey.`);
    if (gatewayKey.expiresAt && gatewayKey.expiresAt.getTime() <= Date.now()) {
      throw ProxyError.gateway('permission_error', `The gateway key "${gatewayKey.name}" expired at ${gatewayKey.expiresAt.toISOString()}.`);
    }
    return gatewayKey;
  }

  async function readJson(request: IncomingMessage): Promise<Json> {
    let bytes: Buffer;
    try {
      bytes = await readBody(request, config.upstream.maxBodyBytes);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        throw ProxyError.gateway('request_too_large', `The request body is larger than ${error.limitBytes} bytes (PROXY_MAX_BODY_BYTES).`);
      }
      // The client closed the connection before sending the whole body. No response can reach it,
      // and the server is not at fault, so this is not logged as an unexpected error.
      if (request.destroyed || (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        throw ProxyError.gateway('invalid_request_error', 'The connection closed before the request body was complete.');
      }
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw ProxyError.gateway('invalid_request_error', 'The request body is not valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw ProxyError.gateway('invalid_request_error', 'The request body must be a JSON object.');
    }
    if (nestsDeeperThan(bytes, maxJsonDepth)) {
      throw ProxyError.gateway(
        'invalid_request_error',
        `The request body nests JSON deeper than ${maxJsonDepth} levels. Flatten its deepest value, such as a tool's parameters schema.`,
      );
    }
    return parsed as Json;
  }

  async function listConfiguredModels(gatewayKey: AuthenticatedGatewayKey) {
    const configured = new Set<ProviderId>();
    const outcomes = await Promise.all(providers.map(async ({ id }) => [id, await directory.resolve(gatewayKey, id)] as const));
    for (const [provider, resolved] of outcomes) if (resolved.kind === 'use') configured.add(provider);
    return listModels(catalog, { configuredProviders: configured, allowList: gatewayKey.modelAllowList });
  }

  async function serve(request: IncomingMessage, response: ServerResponse, route: RouteSpec, call: ProxyCall): Promise<number> {
    const gatewayKey = await authenticate(request);
    call.gatewayKey = gatewayKey;

    if (route.operation === 'models') {
      sendJson(response, 200, await listConfiguredModels(gatewayKey));
      return 200;
    }

    const body = await readJson(request);
    call.tags = readTags(request, body);
    if (typeof body.model !== 'string' || body.model.length === 0) {
      throw ProxyError.gateway('invalid_request_error', 'The request has no model. Set "model", such as "openai/gpt-4o".', { param: 'model' });
    }
    const resolvedModel = catalog.resolve(body.model);
    if (!resolvedModel.ok) throw ProxyError.gateway('invalid_request_error', resolvedModel.error, { param: 'model' });
    const { reference } = resolvedModel;
    call.provider = reference.provider;
    call.model = `${prefixOfProvider(reference.provider)}/${reference.model}`;
    call.catalogEntry = resolvedModel.entry ?? catalog.find(reference);
    call.stream = body.stream === true && route.operation !== 'count_tokens';

    if (!isModelAllowed(gatewayKey.modelAllowList, reference)) {
      throw ProxyError.gateway('permission_error', `The model ${call.model} is not in the allow-list of the gateway key "${gatewayKey.name}".`, { param: 'model' });
    }
    const operation = route.operation;
    const api = chooseUpstreamApi(reference.provider, reference.model, route.dialect, operation);
    if (!api) {
      if (route.operation === 'count_tokens') {
        throw ProxyError.gateway(
          'not_found_error',
          `count_tokens is not available for ${call.model}; it is served for Anthropic models, and for Claude on Vertex AI.`,
        );
      }
      throw ProxyError.gateway(
        'invalid_request_error',
        `${route.dialect === 'openai' ? 'OpenAI-format' : 'Anthropic-format'} requests to ${reference.provider} are not supported yet.`,
        { param: 'model' },
      );
    }

    const resolved = await directory.resolve(gatewayKey, reference.provider);
    if (resolved.kind === 'none') {
      throw ProxyError.gateway(
        'no_provider_credential',
        `No ${reference.provider} credential serves the gateway key "${gatewayKey.name}". Create a provider key for ${reference.provider} ` +
          'assigned to the organization or to this gateway key (createProviderKey).',
      );
    }
    if (resolved.kind === 'disabled') {
      throw ProxyError.gateway('provider_key_disabled', `The ${reference.provider} provider key "${resolved.name}" (${providerKeyLabel(resolved)}) that serves this gateway key is disabled. Enable it or assign another key.`, {
        providerKeyId: providerKeyLabel(resolved),
      });
    }
    if (resolved.kind === 'unavailable') {
      call.providerKeyId = resolved.providerKeyId;
      call.credentialSource = resolved.source;
      throw ProxyError.gateway(
        'credential_unavailable',
        `The credentials of provider key ${providerKeyLabel(resolved)} cannot be decrypted now (${resolved.code}).` +
          (resolved.retryable ? ' Retry shortly.' : ' Replace the credentials of this key.'),
        { providerKeyId: providerKeyLabel(resolved), headers: { 'x-should-retry': String(resolved.retryable) } },
      );
    }
    call.providerKeyId = resolved.providerKeyId;
    call.credentialSource = resolved.source;
    const label = providerKeyLabel(resolved);
    const forwardRequest = await buildUpstreamRequest({
      provider: reference.provider,
      model: reference.model,
      dialect: route.dialect,
      operation,
      api,
      body,
      requestHeaders: request.headers,
      credentials: resolved.credentials,
      settings: resolved.settings,
      credentialsKey:
        resolved.providerKeyId === null
          ? { organizationId: 'platform', providerKeyId: 'platform', credentialsVersion: 0 }
          : { organizationId: gatewayKey.organizationId, providerKeyId: resolved.providerKeyId, credentialsVersion: resolved.credentialsVersion },
      catalogEntry: call.catalogEntry,
      stream: call.stream,
      gatewayHeaders: {
        'x-keyroute-provider': prefixOfProvider(reference.provider),
        'x-keyroute-provider-key-id': label ?? 'platform',
        'x-keyroute-credential-source': resolved.source,
      },
      providerKeyLabel: label,
      logger: dependencies.logger,
      requestId: call.ids.requestId,
    }, { vertexTokens: dependencies.vertexTokens, bedrockSigners: dependencies.bedrockSigners });
    call.region = forwardRequest.region ?? null;
    return forward(transport, config.upstream.stream, forwardRequest, response, call);
  }

  /** Serves a request under `/v1/`, with errors in the dialect of the route, and logs it. */
  return async function handleProxy(request: IncomingMessage, response: ServerResponse, ids: RequestIds, path: string): Promise<void> {
    const route = routes[path];
    const dialect: ClientDialect = route?.dialect ?? (path.startsWith('/v1/messages') ? 'anthropic' : 'openai');
    const call = new ProxyCall(ids);
    let status: number;
    try {
      if (!route) throw ProxyError.gateway('not_found_error', `No proxy route ${path}. The routes are ${Object.keys(routes).join(', ')}.`);
      if (request.method !== route.method) {
        throw new ProxyError({ status: 405, type: 'invalid_request_error', code: 'invalid_request_error', message: `${path} takes ${route.method}, not ${request.method}.`, headers: { allow: route.method } });
      }
      status = await serve(request, response, route, call);
    } catch (error) {
      let proxyError: ProxyError;
      if (error instanceof ProxyError) proxyError = error;
      else if (error instanceof RequestFieldError) proxyError = ProxyError.gateway('invalid_request_error', error.message, { param: error.field });
      else {
        dependencies.logger.error({ err: error, path, ...ids }, 'Unexpected error in the proxy');
        proxyError = ProxyError.gateway('internal_error', `Internal error; quote request id ${ids.requestId} when reporting it.`);
      }
      call.errorCode = proxyError.upstreamCode ?? proxyError.code;
      if (!response.headersSent && !response.destroyed) {
        call.markFirstByte();
        sendProxyError(response, proxyError, dialect);
      }
      status = proxyError.status;
    }
    const entry = call.toLogEntry(response.destroyed && !response.writableFinished ? 499 : status);
    if (entry) {
      requestLog.enqueue(entry);
      dependencies.metrics?.observe(entry);
    }
  };
}
