import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { ProxyDirectoryConfig } from '../../src/config/proxy-directory.config.js';
import type { EncryptionContext } from '../../src/crypto/encryption-context.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/crypto/envelope.js';
import type { KeyBackend, WrappedDataKey } from '../../src/crypto/key-backend.js';
import { KeyringKeyBackend } from '../../src/crypto/keyring-key-backend.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import type { Database } from '../../src/db/schema.js';
import { GatewayKeyService, type WriteContext } from '../../src/features/gateway-keys/gateway-key.service.js';
import type { AssignmentInput } from '../../src/features/provider-keys/provider-key.service.js';
import { ProviderKeyService } from '../../src/features/provider-keys/provider-key.service.js';
import { OrganizationService } from '../../src/features/organizations/organization.service.js';
import type { Resolved } from '../../src/proxy/directory/proxy-directory.js';
import type { ProviderId } from '../../src/providers/providers.js';
import type { Credentials } from '../../src/features/provider-keys/credentials.js';

/** Directory settings for tests: the periodic check is off unless a test sets an interval. */
export function testConfig(overrides: Partial<ProxyDirectoryConfig> = {}): ProxyDirectoryConfig {
  return {
    keyCache: { maxEntries: 1_000, maxAgeMs: 300_000 },
    unknownKeyCache: { maxEntries: 1_000, maxAgeMs: 10_000 },
    credentialCache: { maxEntries: 1_000, maxAgeMs: 900_000, retryIntervalMs: 5_000 },
    changeCheckIntervalMs: 3_600_000,
    platformCredentialsFile: undefined,
    ...overrides,
  };
}

/** A clock that moves only when a test moves it. */
export class ManualClock {
  current = 1_000_000;
  readonly now = () => this.current;

  advance(milliseconds: number): void {
    this.current += milliseconds;
  }
}

/**
 * A keyring backend that counts unwrap calls and fails them with `failure` while it is set, like
 * a key service that is unreachable or denies access.
 */
export class FaultyKeyBackend implements KeyBackend {
  readonly kind = 'keyring';
  readonly #inner = new KeyringKeyBackend({ keys: [{ id: 'proxy-directory-test', key: randomBytes(32) }], currentKeyId: 'proxy-directory-test' });
  unwrapCalls = 0;
  failure: (() => Error) | undefined;

  get currentKeyId(): string {
    return this.#inner.currentKeyId;
  }

  generateDataKey(context: EncryptionContext) {
    return this.#inner.generateDataKey(context);
  }

  async unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer> {
    this.unwrapCalls += 1;
    if (this.failure) throw this.failure();
    return this.#inner.unwrapDataKey(dataKey, context);
  }

  rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext) {
    return this.#inner.rewrapDataKey(dataKey, context);
  }

  isCurrentKey(keyId: string): boolean {
    return this.#inner.isCurrentKey(keyId);
  }

  close(): void {
    this.#inner.close();
  }
}

/** A SecretBox that counts decrypts. */
export class CountingSecretBox extends SecretBox {
  decrypts = 0;

  constructor(override readonly backend: FaultyKeyBackend = new FaultyKeyBackend()) {
    super(backend);
  }

  override decrypt(envelope: Buffer, context: EncryptionContext): Promise<Buffer> {
    this.decrypts += 1;
    return super.decrypt(envelope, context);
  }
}

/** Counts every statement run through the Kysely instance it is attached to. */
export class QueryCounter implements KyselyPlugin {
  count = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

export function countQueries(db: Kysely<Database>): { db: Kysely<Database>; counter: QueryCounter } {
  const counter = new QueryCounter();
  return { db: db.withPlugin(counter), counter };
}

/** The control plane services over one database, with the actor used by every seed write. */
export class Seed {
  readonly organizations: OrganizationService;
  readonly gatewayKeys: GatewayKeyService;
  readonly providerKeys: ProviderKeyService;

  constructor(readonly db: Kysely<Database>, secretBox: SecretBox) {
    this.organizations = new OrganizationService(db);
    this.gatewayKeys = new GatewayKeyService(db, secretBox);
    this.providerKeys = new ProviderKeyService(db, secretBox);
  }

  context(organizationId: string): WriteContext {
    return { organizationId, actor: { tokenId: null, label: 'proxy-directory-test' } };
  }

  async organization(options: { platformCredentialsAllowed?: boolean } = {}): Promise<string> {
    const organization = await this.organizations.create(`organization ${randomBytes(3).toString('hex')}`);
    if (options.platformCredentialsAllowed) {
      await this.organizations.setPlatformCredentialsAllowed(organization.id, true, { tokenId: null, label: 'proxy-directory-test' });
    }
    return organization.id;
  }

  async gatewayKey(organizationId: string, name = 'client'): Promise<{ id: string; secret: string }> {
    const { gatewayKey, secret } = await this.gatewayKeys.create(this.context(organizationId), { name });
    return { id: gatewayKey.id, secret };
  }

  async providerKey(
    organizationId: string,
    options: { provider: ProviderId; apiKey: string; assignment: AssignmentInput; enabled?: boolean; name?: string },
  ): Promise<string> {
    const { providerKey } = await this.providerKeys.create(this.context(organizationId), {
      provider: options.provider,
      name: options.name ?? `${options.provider} key`,
      enabled: options.enabled ?? true,
      credentials: { apiKey: options.apiKey },
      assignment: options.assignment,
    });
    return providerKey.id;
  }
}

/** Generates an API key of the form the provider's key check accepts. */
export function apiKeyFor(provider: ProviderId): string {
  const random = randomBytes(16).toString('hex');
  switch (provider) {
    case 'ANTHROPIC':
      return `sk-ant-api03-${random}`;
    case 'OPENAI':
      return `sk-proj-${random}`;
    case 'XAI':
      return `xai-${random}`;
    default:
      return `${provider.toLowerCase()}-test-${random}`;
  }
}

/** Returns the credentials of a `use` result, and throws for any other kind, naming it. */
export function usedPart(resolved: Resolved): { credentials: Credentials; settings: Record<string, unknown> } {
  if (resolved.kind !== 'use') throw new Error(`expected a credential to use, got ${resolved.kind}`);
  return { credentials: resolved.credentials, settings: resolved.settings };
}

/** Flips one ciphertext byte of a provider key's stored envelope, as storage corruption would. */
export async function corruptEnvelope(db: Kysely<Database>, providerKeyId: string): Promise<void> {
  const row = await db.selectFrom('provider_keys').select('credentials_envelope').where('id', '=', providerKeyId).executeTakeFirstOrThrow();
  const envelope = decodeEnvelope(row.credentials_envelope);
  const ciphertext = Buffer.from(envelope.ciphertext);
  ciphertext[0] = ciphertext[0]! ^ 0xff;
  await db
    .updateTable('provider_keys')
    .set({ credentials_envelope: encodeEnvelope({ ...envelope, ciphertext }) })
    .where('id', '=', providerKeyId)
    .execute();
}

/** Writes a platform credentials file into a fresh directory; `remove` deletes both. */
export async function writePlatformCredentialsFile(content: unknown): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(path.join(tmpdir(), 'keyroute-platform-'));
  const file = path.join(directory, 'platform-credentials.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  return { path: file, remove: () => rm(directory, { recursive: true, force: true }) };
}

/**
 * Polls `check` every 10 ms until it returns true or `timeoutMs` passes. Returns the milliseconds
 * it took, or Infinity on timeout.
 */
export async function millisecondsUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Number.POSITIVE_INFINITY;
}
