import type { ExpressionBuilder, Kysely } from 'kysely';
import { createdMicros, keysetBounds, type KeysetPage } from '../../db/keyset.js';
import type { Database } from '../../db/schema.js';
import type { ProviderId } from '../../providers/providers.js';
import type { CredentialsKind, MaskedCredentials } from './credentials.js';

export type ProviderKeyStatus = 'OK' | 'UNDECRYPTABLE';

export interface ProviderKey {
  id: string;
  organizationId: string;
  provider: ProviderId;
  name: string;
  enabled: boolean;
  credentialsKind: CredentialsKind;
  maskedCredentials: MaskedCredentials;
  settings: Record<string, unknown>;
  credentialsVersion: number;
  status: ProviderKeyStatus;
  statusErrorCode: string | null;
  createdAt: Date;
  createdMicros: string;
  updatedAt: Date;
  credentialsUpdatedAt: Date;
  lastUsedAt: Date | null;
}

export interface ProviderKeyFilter {
  provider?: ProviderId | undefined;
  /** Keys assigned specifically to this gateway key. */
  gatewayKeyId?: string | undefined;
  /** True: only organization-wide keys; false: only keys assigned to gateway keys. */
  organizationWide?: boolean | undefined;
}

function selectProviderKeys(db: Kysely<Database>) {
  return db
    .selectFrom('provider_keys')
    .select([
      'provider_keys.id',
      'provider_keys.organization_id',
      'provider_keys.provider',
      'provider_keys.name',
      'provider_keys.enabled',
      'provider_keys.credentials_kind',
      'provider_keys.masked_credentials',
      'provider_keys.settings',
      'provider_keys.credentials_version',
      'provider_keys.status',
      'provider_keys.status_error_code',
      'provider_keys.created_at',
      'provider_keys.updated_at',
      'provider_keys.credentials_updated_at',
      'provider_keys.last_used_at',
      createdMicros.as('created_micros'),
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof selectProviderKeys>['executeTakeFirstOrThrow']>>;

function toProviderKey(row: Row): ProviderKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    provider: row.provider as ProviderId,
    name: row.name,
    enabled: row.enabled,
    credentialsKind: row.credentials_kind as CredentialsKind,
    maskedCredentials: row.masked_credentials as unknown as MaskedCredentials,
    settings: row.settings,
    credentialsVersion: row.credentials_version,
    status: row.status,
    statusErrorCode: row.status_error_code,
    createdAt: row.created_at,
    createdMicros: row.created_micros,
    updatedAt: row.updated_at,
    credentialsUpdatedAt: row.credentials_updated_at,
    lastUsedAt: row.last_used_at,
  };
}

export async function insertProviderKey(
  db: Kysely<Database>,
  values: {
    id: string;
    organizationId: string;
    provider: ProviderId;
    name: string;
    enabled: boolean;
    credentialsKind: CredentialsKind;
    envelope: Buffer;
    masked: MaskedCredentials;
    settings: Record<string, unknown>;
    createdByTokenId: string | null;
  },
): Promise<void> {
  await db
    .insertInto('provider_keys')
    .values({
      id: values.id,
      organization_id: values.organizationId,
      provider: values.provider,
      name: values.name,
      enabled: values.enabled,
      credentials_kind: values.credentialsKind,
      credentials_envelope: values.envelope,
      masked_credentials: JSON.stringify(values.masked),
      settings: JSON.stringify(values.settings),
      created_by_token_id: values.createdByTokenId,
    })
    .execute();
}

export async function findProviderKey(db: Kysely<Database>, organizationId: string, id: string): Promise<ProviderKey | undefined> {
  const row = await selectProviderKeys(db)
    .where('provider_keys.organization_id', '=', organizationId)
    .where('provider_keys.id', '=', id)
    .executeTakeFirst();
  return row && toProviderKey(row);
}

export async function findProviderKeysByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
): Promise<ProviderKey[]> {
  if (ids.length === 0) return [];
  const rows = await selectProviderKeys(db)
    .where('provider_keys.organization_id', '=', organizationId)
    .where('provider_keys.id', 'in', ids)
    .execute();
  return rows.map(toProviderKey);
}

export async function listProviderKeys(
  db: Kysely<Database>,
  organizationId: string,
  filter: ProviderKeyFilter,
  page: KeysetPage,
): Promise<ProviderKey[]> {
  const direction = page.inverted ? 'asc' : 'desc';
  let query = selectProviderKeys(db).where('provider_keys.organization_id', '=', organizationId);
  if (filter.provider) query = query.where('provider_keys.provider', '=', filter.provider);
  if (filter.gatewayKeyId) {
    const gatewayKeyId = filter.gatewayKeyId;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('provider_key_assignments')
          .whereRef('provider_key_assignments.provider_key_id', '=', 'provider_keys.id')
          .where('provider_key_assignments.gateway_key_id', '=', gatewayKeyId)
          .select('provider_key_assignments.provider_key_id'),
      ),
    );
  }
  if (filter.organizationWide !== undefined) {
    query = filter.organizationWide
      ? query.where((eb) => eb.exists(organizationWideAssignment(eb)))
      : query.where((eb) => eb.not(eb.exists(organizationWideAssignment(eb))));
  }
  const rows = await query
    .where((eb) => eb.and(keysetBounds(page, 'provider_keys')))
    .orderBy('provider_keys.created_at', direction)
    .orderBy('provider_keys.id', direction)
    .limit(page.limit)
    .execute();
  return rows.map(toProviderKey);
}

function organizationWideAssignment(eb: ExpressionBuilder<Database, 'provider_keys'>) {
  return eb
    .selectFrom('provider_key_assignments')
    .whereRef('provider_key_assignments.provider_key_id', '=', 'provider_keys.id')
    .where('provider_key_assignments.gateway_key_id', 'is', null)
    .select('provider_key_assignments.provider_key_id');
}

export async function readCredentialsEnvelope(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
): Promise<{ envelope: Buffer; version: number } | undefined> {
  const row = await db
    .selectFrom('provider_keys')
    .select(['credentials_envelope', 'credentials_version'])
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && { envelope: row.credentials_envelope, version: row.credentials_version };
}

export interface ProviderKeyChanges {
  name?: string;
  enabled?: boolean;
  settings?: Record<string, unknown>;
  credentials?: { envelope: Buffer; masked: MaskedCredentials; kind: CredentialsKind };
}

/**
 * Updates a key. With new credentials the version is bumped and the status reset, and the update
 * applies only while the version is still `expectedVersion`, so a concurrent change is not lost.
 * Returns false when no row matched.
 */
export async function updateProviderKey(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
  changes: ProviderKeyChanges,
  expectedVersion: number | undefined,
): Promise<boolean> {
  let query = db
    .updateTable('provider_keys')
    .set((eb) => ({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.enabled !== undefined && { enabled: changes.enabled }),
      ...(changes.settings !== undefined && { settings: JSON.stringify(changes.settings) }),
      ...(changes.credentials !== undefined && {
        credentials_envelope: changes.credentials.envelope,
        masked_credentials: JSON.stringify(changes.credentials.masked),
        credentials_kind: changes.credentials.kind,
        credentials_version: eb('credentials_version', '+', 1),
        credentials_updated_at: new Date(),
        status: 'OK' as const,
        status_error_code: null,
      }),
      updated_at: new Date(),
    }))
    .where('organization_id', '=', organizationId)
    .where('id', '=', id);
  if (expectedVersion !== undefined) query = query.where('credentials_version', '=', expectedVersion);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteProviderKey(db: Kysely<Database>, organizationId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('provider_keys')
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** A batch of envelopes for rotation, in id order after `afterId`, across organizations. */
export async function listEnvelopesAfter(
  db: Kysely<Database>,
  afterId: string | undefined,
  limit: number,
): Promise<{ id: string; organizationId: string; envelope: Buffer; version: number }[]> {
  let query = db
    .selectFrom('provider_keys')
    .select(['id', 'organization_id', 'credentials_envelope', 'credentials_version'])
    .orderBy('id')
    .limit(limit);
  if (afterId) query = query.where('id', '>', afterId);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    organizationId: row.organization_id,
    envelope: row.credentials_envelope,
    version: row.credentials_version,
  }));
}

/**
 * Replaces the envelope with its re-wrapped form if the credentials did not change meanwhile.
 * Does not bump the version: the secret is the same. Returns false when a concurrent update won.
 */
export async function swapRewrappedEnvelope(
  db: Kysely<Database>,
  id: string,
  expectedVersion: number,
  envelope: Buffer,
): Promise<boolean> {
  const result = await db
    .updateTable('provider_keys')
    .set({ credentials_envelope: envelope, status: 'OK', status_error_code: null })
    .where('id', '=', id)
    .where('credentials_version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function markUndecryptable(db: Kysely<Database>, id: string, expectedVersion: number, errorCode: string): Promise<void> {
  await db
    .updateTable('provider_keys')
    .set({ status: 'UNDECRYPTABLE', status_error_code: errorCode })
    .where('id', '=', id)
    .where('credentials_version', '=', expectedVersion)
    .execute();
}
