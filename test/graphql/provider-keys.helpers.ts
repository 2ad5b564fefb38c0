import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { decodeIdFor } from '../../src/graphql/global-id.js';
import type { Database } from '../../src/db/schema.js';
import type { Credentials } from '../../src/features/provider-keys/credentials.js';
import { credentialsPurpose } from '../../src/features/provider-keys/provider-key.service.js';
import type { CreateProviderKeyInput, UpdateProviderKeyInput } from '../generated/graphql.js';
import type { TestServer } from '../support/server.js';
import { execute } from './helpers.js';
import { ProviderKeyCreate, ProviderKeyUpdate } from './provider-keys.documents.js';

const upperAlphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomText(length: number, alphabet = alphanumeric): string {
  let text = '';
  for (let index = 0; index < length; index += 1) text += alphabet[randomInt(alphabet.length)];
  return text;
}

/**
 * Creates a unique string to embed in a secret, so a test can search responses, logs and rows for
 * it. It has only letters and digits, so it appears verbatim in JSON wherever the secret leaks.
 */
export function newMarker(label: string): string {
  return `MARK${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(6).toString('hex')}`;
}

/** API keys in the formats of each provider, with an optional marker in the middle. */
export const fakeKeys = {
  anthropic: (marker = '') => `sk-ant-api03-${marker}${randomText(93 - marker.length)}-${randomText(6)}AA`,
  openAiProject: (marker = '') => `sk-proj-${marker}${randomText(156 - marker.length)}`,
  openAiLegacy: (marker = '') => `sk-${marker}${randomText(48 - marker.length)}`,
  xai: (marker = '') => `xai-${marker}${randomText(80 - marker.length)}`,
  mistral: (marker = '') => `${marker}${randomText(32 - marker.length)}`,
  deepseek: (marker = '') => `sk-${marker}${randomText(32 - marker.length, '0123456789abcdef')}`,
  zai: (marker = '') => `${marker}${randomText(32 - marker.length, '0123456789abcdef')}.${randomText(16)}`,
};

/** Generates a long-term AWS access key id: AKIA and 16 uppercase letters or digits. */
export function fakeAccessKeyId(marker = ''): string {
  const middle = marker.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 12);
  return `AKIA${middle}${randomText(16 - middle.length, upperAlphanumeric)}`;
}

export function fakeSecretAccessKey(marker = ''): string {
  return `${marker}${randomText(40 - marker.length, `${alphanumeric}/+`)}`;
}

let cachedPrivateKey: string | undefined;

/** Returns a real 2048-bit RSA private key in PKCS#8 PEM, generated once per test file. */
export function rsaPrivateKeyPem(): string {
  cachedPrivateKey ??= generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  return cachedPrivateKey;
}

export interface ServiceAccountFile {
  type: string;
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri: string;
  [field: string]: unknown;
}

/** Builds a Google Cloud service-account key file as the console downloads it, with a real RSA key. */
export function serviceAccount(overrides: Partial<ServiceAccountFile> = {}): ServiceAccountFile {
  const projectId = overrides.project_id ?? `keyroute-test-${randomText(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;
  return {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: rsaPrivateKeyPem(),
    client_email: `gateway@${projectId}.iam.gserviceaccount.com`,
    client_id: String(randomInt(1e9, 2 ** 47)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    universe_domain: 'googleapis.com',
    ...overrides,
  };
}

/**
 * Returns a line from the middle of a PEM body: 64 base64 characters of the key that occur nowhere
 * else. A marker inside the key would break its parsing, so tests search for this line instead.
 */
export function pemBodySample(pem: string): string {
  const body = pem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
  return body[Math.floor(body.length / 2)]!;
}

/**
 * Computes the mask that the rule allows: the public prefix and the last 4 characters, within a
 * quarter of the key; else the last 4 alone, within that quarter; else only the ellipsis.
 */
export function expectedApiKeyMask(key: string, publicPrefix: string): string {
  const budget = Math.floor(key.length / 4);
  if (publicPrefix.length + 4 <= budget) return `${publicPrefix}…${key.slice(-4)}`;
  if (4 <= budget) return `…${key.slice(-4)}`;
  return '…';
}

/** Counts the characters of the secret that a mask shows: everything but the ellipsis. */
export function revealedCharacters(mask: string): number {
  return mask.replace('…', '').length;
}

export function providerKeyRowId(globalId: string): string {
  return decodeIdFor('ProviderKey', globalId, ['id']);
}

export function gatewayKeyRowId(globalId: string): string {
  return decodeIdFor('GatewayKey', globalId, ['id']);
}

/** Creates a provider key through the API, and throws on any result but a payload. */
export async function createProviderKey(server: TestServer, token: string, input: CreateProviderKeyInput) {
  const response = await execute(server, ProviderKeyCreate, { input }, token);
  const payload = response.data?.createProviderKey;
  if (payload?.__typename !== 'ProviderKeyPayload') throw new Error(`createProviderKey returned ${response.raw}`);
  return payload;
}

/** Updates a provider key through the API, and throws on any result but a payload. */
export async function updateProviderKey(server: TestServer, token: string, input: UpdateProviderKeyInput) {
  const response = await execute(server, ProviderKeyUpdate, { input }, token);
  const payload = response.data?.updateProviderKey;
  if (payload?.__typename !== 'ProviderKeyPayload') throw new Error(`updateProviderKey returned ${response.raw}`);
  return payload;
}

export async function findProviderKeyRow(db: Kysely<Database>, id: string) {
  return db.selectFrom('provider_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Decrypts the stored credentials of a provider key with the server's own secret box. */
export async function decryptStoredCredentials(server: TestServer, organizationId: string, id: string): Promise<Credentials> {
  const row = await findProviderKeyRow(server.testDatabase.db, id);
  // The service keeps its SecretBox private; tests read it to check what was stored.
  const secretBox = server.app.services.providerKeys['secretBox'];
  const plaintext = await secretBox.decrypt(row.credentials_envelope, { organizationId, recordId: id, purpose: credentialsPurpose });
  return JSON.parse(plaintext.toString('utf8')) as Credentials;
}

export async function auditEventsOf(db: Kysely<Database>, subjectId: string) {
  return db.selectFrom('audit_events').selectAll().where('subject_id', '=', subjectId).orderBy('id').execute();
}

/** Narrows a union value by its `__typename`, and throws with the value when it is another member. */
export function narrow<T extends { __typename?: string }, N extends NonNullable<T['__typename']>>(
  value: T | null | undefined,
  typename: N,
): Extract<T, { __typename?: N }> {
  if (value?.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(value)}`);
  return value as Extract<T, { __typename?: N }>;
}
