import type { ColumnType, Generated } from 'kysely';

/** Timestamps are written as Date or ISO strings and read back as Date. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ManagementTokensTable {
  id: Generated<string>;
  organization_id: string;
  actor_label: string;
  scope: 'read' | 'write';
  token_hash: Buffer;
  display_prefix: string;
  created_at: Generated<Date>;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface GatewayKeysTable {
  id: Generated<string>;
  organization_id: string;
  name: string;
  display_prefix: string;
  secret_hash: Buffer;
  active: Generated<boolean>;
  expires_at: Timestamp | null;
  model_allow_list: string[] | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  last_used_at: Timestamp | null;
  created_by_token_id: string | null;
}

export interface AuditEventsTable {
  id: Generated<string>;
  organization_id: string;
  actor_token_id: string | null;
  actor_label: string;
  action: string;
  subject_type: string;
  subject_id: string | null;
  changes: ColumnType<Record<string, unknown>, string | undefined, never>;
  request_id: string | null;
  created_at: Generated<Date>;
}

export interface Database {
  organizations: OrganizationsTable;
  management_tokens: ManagementTokensTable;
  gateway_keys: GatewayKeysTable;
  audit_events: AuditEventsTable;
}
