import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { CandidateKey } from '../../features/provider-keys/assignment.repository.js';
import { defaultSettings } from '../../features/provider-keys/settings.js';
import type { ProviderId } from '../../providers/providers.js';

/** A gateway key as the proxy needs it to accept or reject a request. */
export interface AuthenticatedGatewayKey {
  id: string;
  organizationId: string;
  name: string;
  active: boolean;
  expiresAt: Date | null;
  /** Canonical `provider/model` ids or `provider/*`. Null allows every model. */
  modelAllowList: string[] | null;
}

/** A provider key that could serve a gateway key, with what the proxy needs to use it. */
export interface DirectoryCandidate extends CandidateKey {
  name: string;
  credentialsVersion: number;
  /** The key's settings over the provider's defaults, frozen: every request of the key shares them. */
  settings: Readonly<Record<string, unknown>>;
  /** The encrypted credentials, so that a decrypt after the cache's maximum age needs no query. */
  envelope: Buffer;
}

export async function findGatewayKeyBySecretHash(
  db: Kysely<Database>,
  secretHash: Buffer,
): Promise<AuthenticatedGatewayKey | undefined> {
  const row = await db
    .selectFrom('gateway_keys')
    .select(['id', 'organization_id', 'name', 'active', 'expires_at', 'model_allow_list'])
    .where('secret_hash', '=', secretHash)
    .executeTakeFirst();
  return (
    row && {
      id: row.id,
      organizationId: row.organization_id,
      name: row.name,
      active: row.active,
      expiresAt: row.expires_at,
      modelAllowList: row.model_allow_list,
    }
  );
}

/** Loads the provider keys assigned to the gateway key and the organization-wide ones, with their envelopes. */
export async function loadDirectoryCandidates(
  db: Kysely<Database>,
  organizationId: string,
  gatewayKeyId: string,
): Promise<DirectoryCandidate[]> {
  const rows = await db
    .selectFrom('provider_key_assignments')
    .innerJoin('provider_keys', 'provider_keys.id', 'provider_key_assignments.provider_key_id')
    .select([
      'provider_key_assignments.provider_key_id',
      'provider_key_assignments.provider',
      'provider_key_assignments.gateway_key_id',
      'provider_keys.enabled',
      'provider_keys.name',
      'provider_keys.credentials_version',
      'provider_keys.settings',
      'provider_keys.credentials_envelope',
    ])
    .where('provider_key_assignments.organization_id', '=', organizationId)
    .where((eb) =>
      eb.or([
        eb('provider_key_assignments.gateway_key_id', 'is', null),
        eb('provider_key_assignments.gateway_key_id', '=', gatewayKeyId),
      ]),
    )
    .execute();
  return rows.map((row) => ({
    providerKeyId: row.provider_key_id,
    provider: row.provider as ProviderId,
    gatewayKeyId: row.gateway_key_id,
    enabled: row.enabled,
    name: row.name,
    credentialsVersion: row.credentials_version,
    settings: Object.freeze({ ...defaultSettings(row.provider as ProviderId), ...row.settings }),
    envelope: row.credentials_envelope,
  }));
}

export async function findPlatformCredentialsAllowed(db: Kysely<Database>, organizationId: string): Promise<boolean> {
  const row = await db
    .selectFrom('organizations')
    .select('platform_credentials_allowed')
    .where('id', '=', organizationId)
    .executeTakeFirst();
  return row?.platform_credentials_allowed ?? false;
}
