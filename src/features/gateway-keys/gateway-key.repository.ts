import type { Kysely } from 'kysely';
import { createdMicros, keysetBounds, type KeysetPage } from '../../db/keyset.js';
import type { Database } from '../../db/schema.js';

export interface GatewayKey {
  id: string;
  organizationId: string;
  name: string;
  displayPrefix: string;
  active: boolean;
  expiresAt: Date | null;
  modelAllowList: string[] | null;
  createdAt: Date;
  /** created_at in microseconds since the epoch, for cursors. */
  createdMicros: string;
  updatedAt: Date;
  lastUsedAt: Date | null;
}

export interface GatewayKeyChanges {
  name?: string;
  active?: boolean;
  expiresAt?: Date | null;
  modelAllowList?: string[] | null;
}

function selectGatewayKeys(db: Kysely<Database>) {
  return db
    .selectFrom('gateway_keys')
    .select([
      'id',
      'organization_id',
      'name',
      'display_prefix',
      'active',
      'expires_at',
      'model_allow_list',
      'created_at',
      'updated_at',
      'last_used_at',
      createdMicros.as('created_micros'),
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof selectGatewayKeys>['executeTakeFirstOrThrow']>>;

function toGatewayKey(row: Row): GatewayKey {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    displayPrefix: row.display_prefix,
    active: row.active,
    expiresAt: row.expires_at,
    modelAllowList: row.model_allow_list,
    createdAt: row.created_at,
    createdMicros: row.created_micros,
    updatedAt: row.updated_at,
    lastUsedAt: row.last_used_at,
  };
}

export async function insertGatewayKey(
  db: Kysely<Database>,
  values: {
    id: string;
    organizationId: string;
    name: string;
    active: boolean;
    expiresAt: Date | null;
    modelAllowList: string[] | null;
    secretHash: Buffer;
    displayPrefix: string;
    createdByTokenId: string | null;
  },
): Promise<GatewayKey> {
  const { id } = await db
    .insertInto('gateway_keys')
    .values({
      id: values.id,
      organization_id: values.organizationId,
      name: values.name,
      active: values.active,
      expires_at: values.expiresAt,
      model_allow_list: values.modelAllowList,
      secret_hash: values.secretHash,
      display_prefix: values.displayPrefix,
      created_by_token_id: values.createdByTokenId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return (await findGatewayKey(db, values.organizationId, id))!;
}

export async function findGatewayKey(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
): Promise<GatewayKey | undefined> {
  const row = await selectGatewayKeys(db)
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toGatewayKey(row);
}

export async function findGatewayKeysByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
): Promise<GatewayKey[]> {
  if (ids.length === 0) return [];
  const rows = await selectGatewayKeys(db)
    .where('organization_id', '=', organizationId)
    .where('id', 'in', ids)
    .execute();
  return rows.map(toGatewayKey);
}

export async function listGatewayKeys(
  db: Kysely<Database>,
  organizationId: string,
  page: KeysetPage,
): Promise<GatewayKey[]> {
  const direction = page.inverted ? 'asc' : 'desc';
  const rows = await selectGatewayKeys(db)
    .where('organization_id', '=', organizationId)
    .where((eb) => eb.and(keysetBounds(page)))
    .orderBy('created_at', direction)
    .orderBy('id', direction)
    .limit(page.limit)
    .execute();
  return rows.map(toGatewayKey);
}

export async function updateGatewayKey(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
  changes: GatewayKeyChanges,
): Promise<boolean> {
  const result = await db
    .updateTable('gateway_keys')
    .set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.active !== undefined && { active: changes.active }),
      ...(changes.expiresAt !== undefined && { expires_at: changes.expiresAt }),
      ...(changes.modelAllowList !== undefined && { model_allow_list: changes.modelAllowList }),
      updated_at: new Date(),
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function replaceGatewayKeySecret(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
  secret: { secretHash: Buffer; displayPrefix: string },
): Promise<boolean> {
  const result = await db
    .updateTable('gateway_keys')
    .set({ secret_hash: secret.secretHash, display_prefix: secret.displayPrefix, updated_at: new Date() })
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteGatewayKey(db: Kysely<Database>, organizationId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('gateway_keys')
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function touchGatewayKeys(db: Kysely<Database>, ids: string[], usedAt: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('gateway_keys')
    .set({ last_used_at: usedAt })
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', usedAt)]))
    .execute();
}
