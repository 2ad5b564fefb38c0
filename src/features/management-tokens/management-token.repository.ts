import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export type TokenScope = 'read' | 'write';

export interface ManagementToken {
  id: string;
  organizationId: string;
  actorLabel: string;
  scope: TokenScope;
  displayPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const columns = [
  'id',
  'organization_id',
  'actor_label',
  'scope',
  'display_prefix',
  'created_at',
  'last_used_at',
  'revoked_at',
] as const;

type Row = Pick<Database['management_tokens'], 'scope' | 'actor_label' | 'display_prefix' | 'organization_id'> & {
  id: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
};

function toManagementToken(row: Row): ManagementToken {
  return {
    id: row.id,
    organizationId: row.organization_id,
    actorLabel: row.actor_label,
    scope: row.scope,
    displayPrefix: row.display_prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export async function insertManagementToken(
  db: Kysely<Database>,
  values: { organizationId: string; actorLabel: string; scope: TokenScope; tokenHash: Buffer; displayPrefix: string },
): Promise<ManagementToken> {
  const row = await db
    .insertInto('management_tokens')
    .values({
      organization_id: values.organizationId,
      actor_label: values.actorLabel,
      scope: values.scope,
      token_hash: values.tokenHash,
      display_prefix: values.displayPrefix,
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return toManagementToken(row);
}

export async function findUsableTokenByHash(db: Kysely<Database>, tokenHash: Buffer): Promise<ManagementToken | undefined> {
  const row = await db
    .selectFrom('management_tokens')
    .select(columns)
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row && toManagementToken(row);
}

export async function findManagementToken(db: Kysely<Database>, id: string): Promise<ManagementToken | undefined> {
  const row = await db.selectFrom('management_tokens').select(columns).where('id', '=', id).executeTakeFirst();
  return row && toManagementToken(row);
}

export async function listManagementTokens(db: Kysely<Database>, organizationId: string): Promise<ManagementToken[]> {
  const rows = await db
    .selectFrom('management_tokens')
    .select(columns)
    .where('organization_id', '=', organizationId)
    .orderBy('created_at')
    .execute();
  return rows.map(toManagementToken);
}

/** Sets `revoked_at` once; returns false when the token does not exist or was already revoked. */
export async function revokeManagementToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db
    .updateTable('management_tokens')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function touchManagementTokens(db: Kysely<Database>, ids: string[], usedAt: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('management_tokens')
    .set({ last_used_at: usedAt })
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', usedAt)]))
    .execute();
}
