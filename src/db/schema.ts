import type { ColumnType, Generated } from 'kysely';
import type { KeyCheckDatabase } from '../crypto/key-check.js';

/** Timestamps are written as Date or ISO strings and read back as Date. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Whether the proxy may fall back to the operator's platform credentials for this organization. */
  platform_credentials_allowed: Generated<boolean>;
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
  id: string;
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

export interface ProviderKeysTable {
  id: string;
  organization_id: string;
  provider: string;
  name: string;
  enabled: Generated<boolean>;
  credentials_kind: string;
  credentials_envelope: Buffer;
  masked_credentials: ColumnType<Record<string, unknown>, string, string>;
  settings: ColumnType<Record<string, unknown>, string, string>;
  credentials_version: Generated<number>;
  status: Generated<'OK' | 'UNDECRYPTABLE'>;
  status_error_code: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  credentials_updated_at: Generated<Date>;
  last_used_at: Timestamp | null;
  created_by_token_id: string | null;
}

export interface ProviderKeyAssignmentsTable {
  organization_id: string;
  provider: string;
  provider_key_id: string;
  /** Null means organization-wide. */
  gateway_key_id: string | null;
}

export interface IdempotencyKeysTable {
  organization_id: string;
  key: string;
  operation: string;
  input_salt: Buffer;
  input_hmac: Buffer;
  result_id: string | null;
  result_envelope: Buffer | null;
  created_at: Generated<Date>;
  expires_at: Timestamp;
}

/** The single row (id `singleton`) that every change to gateway keys, provider keys or organizations increments. */
export interface ChangeSequenceTable {
  id: string;
  /** A bigint, which `pg` returns as a string. */
  value: ColumnType<string, string | number, string | number>;
}

/** Partitioned by day on occurred_at; see migrations/20261204140100_request_logs.ts. */
export interface RequestLogsTable {
  id: string;
  occurred_at: Timestamp;
  organization_id: string;
  gateway_key_id: string;
  provider_key_id: string | null;
  credential_source: 'GATEWAY_KEY' | 'ORGANIZATION' | 'PLATFORM' | null;
  provider: string | null;
  model: string | null;
  region: string | null;
  stream: boolean;
  status: number;
  error_code: string | null;
  latency_ms: number;
  ttfb_ms: number | null;
  upstream_latency_ms: number | null;
  input_uncached_tokens: Int8 | null;
  cache_read_tokens: Int8 | null;
  cache_write_tokens: Int8 | null;
  output_tokens: Int8 | null;
  reasoning_tokens: Int8 | null;
  raw_usage: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  cost_micro_usd: Int8 | null;
  price_table_version: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  request_id: string;
  client_request_id: string | null;
  upstream_request_id: string | null;
}

/** A bigint column, which `pg` returns as a string. */
type Int8 = ColumnType<string, number | string, number | string>;

/** Measures shared by the usage rollups; see migrations/20261204150000_usage_rollups.ts. */
interface UsageMeasures {
  request_count: number;
  error_count: number;
  input_uncached_tokens: Int8;
  cache_read_tokens: Int8;
  cache_write_tokens: Int8;
  output_tokens: Int8;
  reasoning_tokens: Int8;
  cost_micro_usd: Int8;
  /** The latency histogram: one count per bucket of src/features/usage/latency-histogram.ts. */
  [latencyBucket: `latency_${'le' | 'gt'}_${number}ms`]: number;
}

/** One row per organization, UTC hour and set of dimensions. */
export interface UsageHourlyTable extends UsageMeasures {
  organization_id: string;
  hour: Timestamp;
  gateway_key_id: string;
  provider_key_id: string | null;
  provider: string | null;
  model: string | null;
  credential_source: string | null;
  /** The first digit of the HTTP status. */
  status_class: number;
}

/** Like usage_hourly without the gateway key and the status class. */
export interface UsageProviderKeyHourlyTable extends UsageMeasures {
  organization_id: string;
  hour: Timestamp;
  provider_key_id: string | null;
  provider: string | null;
  model: string | null;
  credential_source: string | null;
}

/** Like usage_hourly per tag, without the status class. */
export interface UsageTagHourlyTable extends UsageMeasures {
  organization_id: string;
  tag: string;
  hour: Timestamp;
  gateway_key_id: string;
  provider_key_id: string | null;
  provider: string | null;
  model: string | null;
  credential_source: string | null;
}

export interface Database extends KeyCheckDatabase {
  organizations: OrganizationsTable;
  management_tokens: ManagementTokensTable;
  gateway_keys: GatewayKeysTable;
  audit_events: AuditEventsTable;
  provider_keys: ProviderKeysTable;
  provider_key_assignments: ProviderKeyAssignmentsTable;
  idempotency_keys: IdempotencyKeysTable;
  change_sequence: ChangeSequenceTable;
  request_logs: RequestLogsTable;
  usage_hourly: UsageHourlyTable;
  usage_provider_key_hourly: UsageProviderKeyHourlyTable;
  usage_tag_hourly: UsageTagHourlyTable;
}
