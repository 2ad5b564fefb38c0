import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ProviderId } from '../../providers/providers.js';

/** Scope of a provider key: every gateway key of the organization, or the listed ones. */
export type Assignment = { kind: 'ORGANIZATION' } | { kind: 'GATEWAY_KEYS'; gatewayKeyIds: string[] };

/** Replaces a provider key's assignment rows; run it in the transaction that writes the key. */
export async function replaceAssignment(
  db: Kysely<Database>,
  key: { organizationId: string; provider: ProviderId; providerKeyId: string },
  assignment: Assignment,
): Promise<void> {
  await db.deleteFrom('provider_key_assignments').where('provider_key_id', '=', key.providerKeyId).execute();
  // Sorted, so concurrent writers take the slots' unique-index locks in one order: two lists in
  // opposite orders would otherwise deadlock instead of one of them failing with a slot conflict.
  const gatewayKeyIds = assignment.kind === 'ORGANIZATION' ? [null] : [...assignment.gatewayKeyIds].sort();
  if (gatewayKeyIds.length === 0) return;
  await db
    .insertInto('provider_key_assignments')
    .values(
      gatewayKeyIds.map((gatewayKeyId) => ({
        organization_id: key.organizationId,
        provider: key.provider,
        provider_key_id: key.providerKeyId,
        gateway_key_id: gatewayKeyId,
      })),
    )
    .execute();
}

/** Assignments of several provider keys in one statement. A key without rows serves nobody. */
export async function loadAssignments(
  db: Kysely<Database>,
  organizationId: string,
  providerKeyIds: readonly string[],
): Promise<Map<string, Assignment>> {
  const assignments = new Map<string, Assignment>(
    providerKeyIds.map((id) => [id, { kind: 'GATEWAY_KEYS', gatewayKeyIds: [] }]),
  );
  if (providerKeyIds.length === 0) return assignments;
  const rows = await db
    .selectFrom('provider_key_assignments')
    .select(['provider_key_id', 'gateway_key_id'])
    .where('organization_id', '=', organizationId)
    .where('provider_key_id', 'in', providerKeyIds)
    .orderBy('gateway_key_id')
    .execute();
  for (const row of rows) {
    const current = assignments.get(row.provider_key_id)!;
    if (row.gateway_key_id === null) assignments.set(row.provider_key_id, { kind: 'ORGANIZATION' });
    else if (current.kind === 'GATEWAY_KEYS') current.gatewayKeyIds.push(row.gateway_key_id);
  }
  return assignments;
}

/** Returns the provider key that holds a slot, the organization-wide one when `gatewayKeyId` is null. */
export async function findSlotHolder(
  db: Kysely<Database>,
  organizationId: string,
  provider: ProviderId,
  gatewayKeyId: string | null,
): Promise<string | undefined> {
  let query = db
    .selectFrom('provider_key_assignments')
    .select('provider_key_id')
    .where('organization_id', '=', organizationId)
    .where('provider', '=', provider);
  query = gatewayKeyId === null ? query.where('gateway_key_id', 'is', null) : query.where('gateway_key_id', '=', gatewayKeyId);
  return (await query.executeTakeFirst())?.provider_key_id;
}

export interface CandidateKey {
  providerKeyId: string;
  provider: ProviderId;
  enabled: boolean;
  /** Null for the organization-wide key. */
  gatewayKeyId: string | null;
}

/**
 * Loads the keys that could serve gateway keys `gatewayKeyIds`: their specific assignments and the
 * organization-wide ones, with the enabled flag the resolution rules need.
 */
export async function loadCandidateKeys(
  db: Kysely<Database>,
  organizationId: string,
  gatewayKeyIds: readonly string[],
): Promise<CandidateKey[]> {
  const rows = await db
    .selectFrom('provider_key_assignments')
    .innerJoin('provider_keys', 'provider_keys.id', 'provider_key_assignments.provider_key_id')
    .select([
      'provider_key_assignments.provider_key_id',
      'provider_key_assignments.provider',
      'provider_key_assignments.gateway_key_id',
      'provider_keys.enabled',
    ])
    .where('provider_key_assignments.organization_id', '=', organizationId)
    .where((eb) =>
      eb.or([
        eb('provider_key_assignments.gateway_key_id', 'is', null),
        ...(gatewayKeyIds.length > 0 ? [eb('provider_key_assignments.gateway_key_id', 'in', gatewayKeyIds)] : []),
      ]),
    )
    .execute();
  return rows.map((row) => ({
    providerKeyId: row.provider_key_id,
    provider: row.provider as ProviderId,
    enabled: row.enabled,
    gatewayKeyId: row.gateway_key_id,
  }));
}
