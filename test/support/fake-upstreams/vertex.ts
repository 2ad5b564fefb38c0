import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UpstreamOverride } from '../../../src/config/upstream.config.js';
import type { VertexServiceAccount } from '../../../src/features/provider-keys/credentials.js';
import {
  countTokens,
  FakeStreamWriter,
  randomId,
  sendJsonBody,
  splitArguments,
  splitText,
  type FakeBehaviour,
  type FakeError,
  type RecordedRequest,
} from './fake-server.js';

/**
 * Fakes of Google's OAuth token endpoint and of Vertex AI, on 127.0.0.1 port 0, reached through
 * connection overrides that keep the real URL and Host. The token endpoint verifies each JWT
 * assertion with the service account's public key; Vertex accepts only access tokens that the
 * token endpoint issued, for an account allowed in the project of the URL.
 */

type Json = Record<string, unknown>;

const tokenOrigin = 'https://oauth2.googleapis.com';
const tokenAudience = 'https://oauth2.googleapis.com/token';
const cloudPlatformScope = 'https://www.googleapis.com/auth/cloud-platform';
const jwtBearerGrantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google accepts assertions whose `iat` is a little ahead of its own clock. */
const allowedClockSkewSeconds = 60;

export interface FakeServiceAccount {
  account: VertexServiceAccount;
  /** The key file as Google Cloud downloads it. */
  json: string;
  publicKey: KeyObject;
}

/** Creates a service account with a fresh 2048-bit RSA key, shaped like a downloaded key file. */
export function createFakeServiceAccount(options: { projectId?: string; clientEmail?: string; privateKeyId?: string } = {}): FakeServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const projectId = options.projectId ?? `fake-project-${randomBytes(3).toString('hex')}`;
  const clientEmail = options.clientEmail ?? `keyroute-test@${projectId}.iam.gserviceaccount.com`;
  const account: VertexServiceAccount = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: options.privateKeyId ?? randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: String(100_000_000_000_000_000_000n + BigInt(randomBytes(4).readUInt32BE())),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenAudience,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
  return { account, json: JSON.stringify(account, null, 2), publicKey };
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Starts an HTTP server on 127.0.0.1, port 0, and returns it with its address. */
async function listen(handler: (incoming: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<{ server: Server; address: string }> {
  const server = createServer((incoming, response) => {
    handler(incoming, response).catch((error: unknown) => {
      if (!response.headersSent) sendJsonBody(response, 500, { error: { code: 500, message: `fake failed: ${String(error)}`, status: 'INTERNAL' } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, address: `http://127.0.0.1:${port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Builds a RecordedRequest, the record the other fakes keep, from an incoming request. */
async function recordRequest(incoming: IncomingMessage, response: ServerResponse): Promise<RecordedRequest> {
  let resolveClosed!: (value: { aborted: boolean }) => void;
  const closed = new Promise<{ aborted: boolean }>((resolve) => (resolveClosed = resolve));
  response.on('close', () => resolveClosed({ aborted: !response.writableFinished }));
  const rawBody = await readBody(incoming);
  return {
    method: incoming.method ?? 'GET',
    path: incoming.url ?? '/',
    headers: incoming.headers,
    rawBody,
    body: parseJson(rawBody),
    remotePort: incoming.socket.remotePort,
    sawBackpressure: false,
    closed,
  };
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

/** One access token the fake token endpoint issued. */
export interface FakeMint {
  clientEmail: string;
  /** The JWT header's `kid`, or null when the assertion had none (google-auth-library sends none). */
  keyId: string | null;
  header: Json;
  claims: Json;
  accessToken: string;
  /** Fake-clock milliseconds. */
  expiresAtMs: number;
}

export interface FakeTokenBehaviour {
  /**
   * Responds with this OAuth error instead of a token: status 400 and `{error, error_description}`
   * unless `status` or `body` is set. `echoAssertion` appends the assertion received to the
   * description, as a careless endpoint would.
   */
  error?: { error?: string; description?: string; status?: number; body?: unknown; echoAssertion?: boolean };
  /** Lifetime in seconds of the token issued; 3599 by default, as Google sends. */
  expiresIn?: number;
  /** Replaces the token response entirely. */
  body?: unknown;
  /** Waits this long before responding. */
  headersDelayMs?: number;
  /** Never responds. */
  silent?: boolean;
}

export interface FakeGoogleTokenEndpoint {
  readonly origin: string;
  readonly address: string;
  readonly override: UpstreamOverride;
  readonly requests: RecordedRequest[];
  /** Successful mints in order. */
  readonly mints: FakeMint[];
  /** Accepts assertions signed by this key of the account. An account can have several keys, as on Google Cloud. */
  register(serviceAccount: FakeServiceAccount): void;
  /** Stops accepting this key of the account, as after the key was deleted in Google Cloud. */
  deleteKey(serviceAccount: FakeServiceAccount): void;
  /** Makes the account's assertions fail with Google's response for a deleted or disabled account. */
  disable(clientEmail: string): void;
  enqueue(...behaviours: FakeTokenBehaviour[]): void;
  /** Mints so far, for one account or all. */
  mintCount(clientEmail?: string): number;
  /** The mint of a token that is known and not expired by the fake clock. */
  findValid(accessToken: string): FakeMint | undefined;
  close(): Promise<void>;
}

function oauthError(response: ServerResponse, error: string, description: string, status = 400): void {
  sendJsonBody(response, status, { error, error_description: description });
}

/**
 * Checks an assertion as Google documents it in "Using OAuth 2.0 for Server to Server
 * Applications": RS256 signature by the account's key, `iss`, the cloud-platform `scope`, `aud`
 * equal to the token endpoint, `iat` not in the future and `exp` at most one hour after it.
 * Returns the rejection, or the verified header and claims. The error codes are Google's, and so
 * are the descriptions except those of malformed assertions.
 */
function verifyAssertion(
  assertion: string,
  accounts: ReadonlyMap<string, readonly FakeServiceAccount[]>,
  disabled: ReadonlySet<string>,
  nowSeconds: number,
): { rejection: { error: string; description: string } } | { header: Json; claims: Json; account: FakeServiceAccount } {
  const invalidGrant = (description: string) => ({ rejection: { error: 'invalid_grant', description } });
  const parts = assertion.split('.');
  if (parts.length !== 3) return invalidGrant('Invalid JWT: the assertion does not have three parts.');
  const [encodedHeader, encodedClaims, encodedSignature] = parts as [string, string, string];
  const header = parseJson(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
  const claims = parseJson(Buffer.from(encodedClaims, 'base64url').toString('utf8'));
  if (!isRecord(header) || !isRecord(claims)) return invalidGrant('Invalid JWT: the header or claims are not JSON.');
  if (header.alg !== 'RS256') return invalidGrant(`Invalid JWT: unsupported algorithm ${String(header.alg)}.`);

  const clientEmail = typeof claims.iss === 'string' ? claims.iss : '';
  const keys = accounts.get(clientEmail);
  if (!keys || disabled.has(clientEmail)) return invalidGrant('Invalid grant: account not found');
  // With a `kid`, only that key may have signed; without one, any key of the account.
  const candidates = header.kid === undefined ? keys : keys.filter((key) => key.account.private_key_id === header.kid);
  const signingInput = Buffer.from(`${encodedHeader}.${encodedClaims}`, 'ascii');
  const signature = Buffer.from(encodedSignature, 'base64url');
  const serviceAccount = candidates.find((key) => verify('sha256', signingInput, key.publicKey, signature));
  if (!serviceAccount) return invalidGrant('Invalid JWT Signature.');

  if (claims.aud !== tokenAudience) return invalidGrant('Invalid JWT: Failed audience check.');
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  if (!scopes.includes(cloudPlatformScope)) {
    return { rejection: { error: 'invalid_scope', description: `Invalid OAuth scope or ID token audience provided: ${String(claims.scope)}` } };
  }
  const { iat, exp } = claims;
  const timeframe =
    typeof iat === 'number' && typeof exp === 'number' && iat <= nowSeconds + allowedClockSkewSeconds && exp > nowSeconds && exp > iat && exp - iat <= 3_600;
  if (!timeframe) {
    return invalidGrant(
      'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
    );
  }
  return { header, claims, account: serviceAccount };
}

/**
 * Starts a fake of `https://oauth2.googleapis.com/token` for the JWT-bearer grant. `now` is the
 * fake clock in milliseconds, shared with the code under test when that code uses a fake clock.
 */
export async function startFakeGoogleTokenEndpoint(options: { now?: () => number } = {}): Promise<FakeGoogleTokenEndpoint> {
  const now = options.now ?? Date.now;
  const accounts = new Map<string, FakeServiceAccount[]>();
  const disabled = new Set<string>();
  const queue: FakeTokenBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const mints: FakeMint[] = [];
  const byToken = new Map<string, FakeMint>();

  const { server, address } = await listen(async (incoming, response) => {
    const request = await recordRequest(incoming, response);
    requests.push(request);
    const reject = (rejection: string, status: number, error: string) => {
      request.rejection = rejection;
      oauthError(response, error, `fake token endpoint: ${rejection}`, status);
    };
    if (incoming.headers.host !== 'oauth2.googleapis.com') return reject(`Host was ${String(incoming.headers.host)}`, 421, 'invalid_request');
    if (request.method !== 'POST' || request.path !== '/token') return reject(`${request.method} ${request.path} is not the token endpoint`, 404, 'invalid_request');
    if (!String(incoming.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return reject(`content-type was ${String(incoming.headers['content-type'])}`, 400, 'invalid_request');
    }
    const form = new URLSearchParams(request.rawBody);
    if (form.get('grant_type') !== jwtBearerGrantType) {
      request.rejection = `grant_type was ${String(form.get('grant_type'))}`;
      return oauthError(response, 'unsupported_grant_type', 'Invalid grant_type: ' + String(form.get('grant_type')));
    }
    const verified = verifyAssertion(form.get('assertion') ?? '', accounts, disabled, Math.floor(now() / 1_000));
    if ('rejection' in verified) {
      request.rejection = verified.rejection.description;
      return oauthError(response, verified.rejection.error, verified.rejection.description);
    }

    const behaviour = queue.shift() ?? {};
    if (behaviour.silent) return;
    if (behaviour.headersDelayMs) await sleep(behaviour.headersDelayMs);
    if (response.destroyed) return;
    if (behaviour.error) {
      const { error = 'invalid_grant', description = 'Invalid grant: account not found', status = 400, body, echoAssertion } = behaviour.error;
      const echoed = echoAssertion ? `${description} Assertion: ${form.get('assertion') ?? ''}` : description;
      sendJsonBody(response, status, body ?? { error, error_description: echoed });
      return;
    }
    if (behaviour.body !== undefined) {
      sendJsonBody(response, 200, behaviour.body);
      return;
    }
    const expiresIn = behaviour.expiresIn ?? 3_599;
    const mint: FakeMint = {
      clientEmail: verified.account.account.client_email,
      keyId: typeof verified.header.kid === 'string' ? verified.header.kid : null,
      header: verified.header,
      claims: verified.claims,
      accessToken: `ya29.fake-${randomBytes(24).toString('base64url')}`,
      expiresAtMs: now() + expiresIn * 1_000,
    };
    mints.push(mint);
    byToken.set(mint.accessToken, mint);
    sendJsonBody(response, 200, { access_token: mint.accessToken, expires_in: expiresIn, token_type: 'Bearer' });
  });

  return {
    origin: tokenOrigin,
    address,
    override: { origin: tokenOrigin, address },
    requests,
    mints,
    register(serviceAccount) {
      const email = serviceAccount.account.client_email;
      accounts.set(email, [...(accounts.get(email) ?? []), serviceAccount]);
      disabled.delete(email);
    },
    deleteKey(serviceAccount) {
      const email = serviceAccount.account.client_email;
      accounts.set(email, (accounts.get(email) ?? []).filter((key) => key.account.private_key_id !== serviceAccount.account.private_key_id));
    },
    disable(clientEmail) {
      disabled.add(clientEmail);
    },
    enqueue(...behaviours) {
      queue.push(...behaviours);
    },
    mintCount(clientEmail) {
      return clientEmail === undefined ? mints.length : mints.filter((mint) => mint.clientEmail === clientEmail).length;
    },
    findValid(accessToken) {
      const mint = byToken.get(accessToken);
      return mint !== undefined && now() < mint.expiresAtMs ? mint : undefined;
    },
    close: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------
// Vertex AI

/** One Vertex request as the fake received it, with what it read from the URL and token. */
export interface VertexRecordedRequest extends RecordedRequest {
  location?: string;
  project?: string;
  /** The client_email of the token's account, when the token was valid. */
  clientEmail?: string;
}

export interface FakeVertexOptions {
  tokens: FakeGoogleTokenEndpoint;
  /** Which service accounts (by client_email) may call models in which project. */
  projects: Record<string, string[]>;
  /** Locations served; each gets its origin. Defaults to global, us-central1, europe-west1, us and eu. */
  locations?: string[];
  /** Claude model ids served by rawPredict. */
  claudeModels?: string[];
  /** `publisher/model` ids served by the OpenAI-compatible endpoint. */
  openAiModels?: string[];
  /** Gemini model ids served by the native countTokens method. */
  geminiModels?: string[];
}

export interface FakeVertex {
  /** The real origins served, one per location. */
  readonly origins: string[];
  readonly address: string;
  /** One override per origin, all to this fake. */
  readonly overrides: UpstreamOverride[];
  readonly requests: VertexRecordedRequest[];
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Makes Vertex respond 401 to this token from now on, as for a revoked token. */
  revoke(accessToken: string): void;
  close(): Promise<void>;
}

const googleStatusNames: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const defaultGoogleMessages: Record<number, string> = {
  401: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  429: 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.',
  500: 'Internal error encountered.',
  503: 'The service is currently unavailable.',
};

/** Google's error body, with an ErrorInfo detail when a reason is given (as `FakeError.code`). */
function googleErrorBody(error: FakeError, credential?: string): unknown {
  if (error.body !== undefined) return error.body;
  let message = error.message ?? defaultGoogleMessages[error.status] ?? `HTTP ${error.status}`;
  if (error.echoCredential) message += ` Token: ${credential ?? ''}`;
  const status = googleStatusNames[error.status] ?? (error.status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  const details =
    error.code !== undefined
      ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: error.code, domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com' } }]
      : undefined;
  return { error: { code: error.status, message, status, ...(details && { details }) } };
}

/**
 * Sends a Google error. The OpenAI-compatible endpoint wraps it in an array, as Vertex does there;
 * the other methods send the object.
 */
function sendGoogleError(response: ServerResponse, error: FakeError, options: { array?: boolean; credential?: string } = {}): void {
  const body = googleErrorBody(error, options.credential);
  sendJsonBody(response, error.status, options.array && error.body === undefined ? [body] : body, error.headers ?? {});
}

/** Claude on Vertex reports body errors in Anthropic's shape. */
function sendAnthropicError(response: ServerResponse, status: number, type: string, message: string): void {
  sendJsonBody(response, status, { type: 'error', error: { type, message } });
}

function hostOf(location: string): string {
  if (location === 'global') return 'aiplatform.googleapis.com';
  if (location === 'us' || location === 'eu') return `aiplatform.${location}.rep.googleapis.com`;
  return `${location}-aiplatform.googleapis.com`;
}

const pathPattern = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/(.+)$/;

/**
 * Starts a fake of Vertex AI's OpenAI-compatible chat completions, Claude's rawPredict,
 * streamRawPredict and count-tokens, and Gemini's countTokens. Beyond what Vertex documents, it
 * rejects a `model` field in a rawPredict body and a `stream` value that does not match the
 * method, so that adapters that leave them wrong fail here.
 */
export async function startFakeVertex(options: FakeVertexOptions): Promise<FakeVertex> {
  const locations = options.locations ?? ['global', 'us-central1', 'europe-west1', 'us', 'eu'];
  const claudeModels = new Set(options.claudeModels ?? ['claude-sonnet-4-5@20250929', 'claude-haiku-4-5@20251001', 'claude-opus-4-1@20250805']);
  const openAiModels = new Set(options.openAiModels ?? ['google/gemini-2.5-flash', 'google/gemini-2.5-pro', 'meta/llama-4-maverick-17b-128e-instruct-maas']);
  const geminiModels = new Set(options.geminiModels ?? ['gemini-2.5-flash', 'gemini-2.5-pro']);
  const hosts = new Map(locations.map((location) => [hostOf(location), location]));
  const queue: FakeBehaviour[] = [];
  const requests: VertexRecordedRequest[] = [];
  const revoked = new Set<string>();

  const { server, address } = await listen(async (incoming, response) => {
    const request: VertexRecordedRequest = await recordRequest(incoming, response);
    requests.push(request);
    const path = request.path.split('?', 1)[0]!;
    const match = pathPattern.exec(path);
    const array = match?.[3] === 'endpoints/openapi/chat/completions';
    const fail = (rejection: string, error: FakeError) => {
      request.rejection = rejection;
      sendGoogleError(response, error, { array });
    };

    const hostLocation = hosts.get(String(incoming.headers.host));
    if (hostLocation === undefined) return fail(`Host was ${String(incoming.headers.host)}`, { status: 421, message: 'fake Vertex: unknown host' });
    if (!match) return fail(`no Vertex resource in ${path}`, { status: 404, message: `fake Vertex: the URL ${path} was not found on this server.` });
    const [, project, location, resource] = match as unknown as [string, string, string, string];
    request.project = decodeURIComponent(project);
    request.location = decodeURIComponent(location);
    if (request.location !== hostLocation) {
      return fail(`location ${request.location} sent to the host of ${hostLocation}`, {
        status: 400,
        message: `Request contains an invalid argument: location ${request.location} is not served by ${String(incoming.headers.host)}.`,
      });
    }
    for (const leaked of ['x-keyroute-api-key', 'x-edgee-api-key', 'x-api-key']) {
      if (incoming.headers[leaked] !== undefined) return fail(`the client header ${leaked} reached Vertex`, { status: 400, message: `fake Vertex: ${leaked} must not be sent` });
    }

    const authorization = String(incoming.headers.authorization ?? '');
    const token = /^Bearer (\S+)$/.exec(authorization)?.[1];
    const mint = token !== undefined && !revoked.has(token) ? options.tokens.findValid(token) : undefined;
    if (token === undefined) {
      return fail('no bearer token', {
        status: 401,
        message: 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      });
    }
    if (mint === undefined) return fail('unknown, expired or revoked token', { status: 401 });
    request.clientEmail = mint.clientEmail;
    if (!(options.projects[request.project] ?? []).includes(mint.clientEmail)) {
      return fail(`${mint.clientEmail} may not use project ${request.project}`, {
        status: 403,
        code: 'IAM_PERMISSION_DENIED',
        message: `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${request.project}/locations/${request.location}/${resource}' (or it may not exist).`,
      });
    }

    const behaviour = queue.shift() ?? {};
    if (behaviour.silent) return;
    if (behaviour.headersDelayMs) await sleep(behaviour.headersDelayMs);
    if (response.destroyed) return;
    if (behaviour.error) {
      sendGoogleError(response, behaviour.error, { array, credential: token });
      return;
    }
    const exchange = { request, response, credential: token, behaviour };
    const base = `projects/${request.project}/locations/${request.location}`;

    if (request.method !== 'POST') return fail(`${request.method} is not served`, { status: 404, message: `fake Vertex: ${request.method} ${path} is not served.` });
    if (resource === 'endpoints/openapi/chat/completions') return respondToChat(exchange, openAiModels);
    const claude = /^publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(resource);
    if (claude) {
      const model = decodeURIComponent(claude[1]!);
      if (model === 'count-tokens' && claude[2] === 'rawPredict') return respondToClaudeCount(exchange, claudeModels, base);
      if (!claudeModels.has(model)) {
        return fail(`unknown Claude model ${model}`, { status: 404, message: `Publisher Model \`${base}/publishers/anthropic/models/${model}\` not found.` });
      }
      return respondToClaude(exchange, model, claude[2] === 'streamRawPredict');
    }
    const gemini = /^publishers\/google\/models\/([^/:]+):countTokens$/.exec(resource);
    if (gemini) {
      const model = decodeURIComponent(gemini[1]!);
      if (!geminiModels.has(model)) {
        return fail(`unknown Gemini model ${model}`, { status: 404, message: `Publisher Model \`${base}/publishers/google/models/${model}\` not found.` });
      }
      const contents = isRecord(request.body) ? request.body.contents : undefined;
      if (!Array.isArray(contents)) return fail('contents missing', { status: 400, message: 'Request contains an invalid argument: contents is required.' });
      sendJsonBody(response, 200, { totalTokens: countTokens(contents), totalBillableCharacters: JSON.stringify(contents).length });
      return;
    }
    return fail(`unknown method ${resource}`, { status: 404, message: `fake Vertex: ${path} is not served.` });
  });

  const origins = locations.map((location) => `https://${hostOf(location)}`);
  return {
    origins,
    address,
    overrides: origins.map((origin) => ({ origin, address })),
    requests,
    enqueue(...behaviours) {
      queue.push(...behaviours);
    },
    revoke(accessToken) {
      revoked.add(accessToken);
    },
    close: () => closeServer(server),
  };
}

interface VertexExchange {
  request: VertexRecordedRequest;
  response: ServerResponse;
  credential: string;
  behaviour: FakeBehaviour;
}

/** Checks a Messages body the way Claude does, and returns the error message, or undefined. */
function checkMessagesBody(body: unknown, countOnly: boolean): string | undefined {
  if (!isRecord(body)) return 'The request body is not valid JSON.';
  if (typeof body.anthropic_version !== 'string' || body.anthropic_version === '') return 'anthropic_version: Field required';
  if (!countOnly && typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  for (const [index, message] of body.messages.entries()) {
    const role = isRecord(message) ? message.role : undefined;
    if (role !== 'user' && role !== 'assistant') return `messages.${index}.role: Input should be 'user' or 'assistant'`;
  }
  return undefined;
}

function respondToClaudeCount(exchange: VertexExchange, claudeModels: ReadonlySet<string>, base: string): void {
  const { request, response } = exchange;
  const invalid = checkMessagesBody(request.body, true);
  if (invalid) {
    request.rejection = invalid;
    return sendAnthropicError(response, 400, 'invalid_request_error', invalid);
  }
  const body = request.body as Json;
  if (typeof body.model !== 'string') {
    request.rejection = 'count-tokens body without model';
    return sendAnthropicError(response, 400, 'invalid_request_error', 'model: Field required');
  }
  if (!claudeModels.has(body.model)) {
    request.rejection = `unknown Claude model ${body.model}`;
    return sendGoogleError(response, { status: 404, message: `Publisher Model \`${base}/publishers/anthropic/models/${body.model}\` not found.` });
  }
  sendJsonBody(response, 200, { input_tokens: countTokens([body.system, body.messages, body.tools]) });
}

async function respondToClaude(exchange: VertexExchange, model: string, streamMethod: boolean): Promise<void> {
  const { request, response, behaviour } = exchange;
  const invalid = checkMessagesBody(request.body, false);
  const body = request.body as Json;
  const problem =
    invalid ??
    (body.model !== undefined ? 'model: Extra inputs are not permitted; the model is in the URL' : undefined) ??
    (streamMethod !== (body.stream === true) ? `stream must be ${streamMethod} for ${streamMethod ? 'streamRawPredict' : 'rawPredict'}` : undefined);
  if (problem) {
    request.rejection = problem;
    return sendAnthropicError(response, 400, 'invalid_request_error', problem);
  }

  // A reply with tool calls ends with `tool_use` blocks after any text, as Claude sends them.
  const toolCalls = (behaviour.reply?.toolCalls ?? []).map((call) => ({ ...call, id: call.id ?? randomId('toolu_vrtx_'), json: JSON.stringify(call.arguments) }));
  const text = behaviour.reply?.text ?? (toolCalls.length > 0 ? '' : 'Hello from the fake Claude on Vertex.');
  const stopReason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
  const inputTokens = countTokens([body.system, body.messages, body.tools]);
  const outputTokens = countTokens(text) + toolCalls.reduce((sum, call) => sum + countTokens(call.json), 0);
  const id = randomId('msg_vrtx_');
  if (!streamMethod) {
    const content = [
      ...(text !== '' ? [{ type: 'text', text }] : []),
      ...toolCalls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments })),
    ];
    sendJsonBody(response, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens },
    });
    return;
  }

  const event = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const writer = new FakeStreamWriter(exchange, () => event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
  if (!(await writer.start())) return;
  const start = event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  });
  if (!(await writer.event(start))) return;
  let index = 0;
  if (text !== '') {
    if (!(await writer.event(event('content_block_start', { index, content_block: { type: 'text', text: '' } })))) return;
    if (!(await writer.event(event('ping', {})))) return;
    for (const piece of splitText(text, behaviour.reply?.deltaSize)) {
      if (!(await writer.delta(event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } })))) return;
    }
    if (toolCalls.length === 0 && !(await writer.finishDeltas())) return;
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  for (const call of toolCalls) {
    const block = { type: 'tool_use', id: call.id, name: call.name, input: {} };
    if (!(await writer.event(event('content_block_start', { index, content_block: block })))) return;
    // Claude sends one ping, after the first block starts.
    if (index === 0 && !(await writer.event(event('ping', {})))) return;
    for (const fragment of splitArguments(call.json)) {
      if (!(await writer.delta(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: fragment } })))) return;
    }
    if (!(await writer.event(event('content_block_stop', { index })))) return;
    index += 1;
  }
  if (toolCalls.length > 0 && !(await writer.finishDeltas())) return;
  const delta = event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  if (!(await writer.event(delta))) return;
  writer.end(event('message_stop', {}));
}

async function respondToChat(exchange: VertexExchange, openAiModels: ReadonlySet<string>): Promise<void> {
  const { request, response, behaviour } = exchange;
  const body = request.body;
  const invalid = (message: string) => {
    request.rejection = message;
    sendGoogleError(response, { status: 400, message }, { array: true });
  };
  if (!isRecord(body)) return invalid('Request contains an invalid argument: the body is not JSON.');
  const model = typeof body.model === 'string' ? body.model : '';
  if (!model.includes('/')) return invalid(`Request contains an invalid argument: model ${JSON.stringify(model)} must be publisher/model, such as google/gemini-2.5-flash.`);
  if (!openAiModels.has(model)) {
    request.rejection = `unknown model ${model}`;
    return sendGoogleError(response, { status: 404, message: `Publisher Model \`${model}\` was not found or your project does not have access to it.` }, { array: true });
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) return invalid('Request contains an invalid argument: messages must not be empty.');

  const text = behaviour.reply?.text ?? 'Hello from the fake Gemini on Vertex.';
  const promptTokens = countTokens(body.messages);
  const completionTokens = countTokens(text);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const id = randomId('chatcmpl-');
  const created = Math.floor(Date.now() / 1_000);
  if (body.stream !== true) {
    sendJsonBody(response, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage,
    });
    return;
  }

  const chunk = (choices: unknown[], extra: Json = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  const writer = new FakeStreamWriter(exchange, () => `data: ${JSON.stringify([googleErrorBody({ status: 500 })])}\n\n`);
  if (!(await writer.start())) return;
  if (!(await writer.event(chunk([{ index: 0, delta: { role: 'assistant' }, finish_reason: null }])))) return;
  for (const piece of splitText(text, behaviour.reply?.deltaSize)) {
    if (!(await writer.delta(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }])))) return;
  }
  if (!(await writer.finishDeltas())) return;
  // Gemini's OpenAI layer sends usage with the last chunk whether or not stream_options asked for it.
  if (!(await writer.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }], { usage })))) return;
  writer.end('data: [DONE]\n\n');
}

/** Routes both fakes through one set of overrides. */
export function vertexOverrides(tokens: FakeGoogleTokenEndpoint, vertex: FakeVertex): UpstreamOverride[] {
  return [tokens.override, ...vertex.overrides];
}
