import { z } from 'zod';
import { integer } from './fields.js';

/** Environment variables of the retention job, which deletes old request logs, usage rollups and audit events. */
export const retentionEnvironment = z.object({
  // Daily partitions of request_logs go whole once their UTC day ended this many days ago. The
  // requestLogs query rejects ranges that start before the UTC midnight this many days back.
  REQUEST_LOG_RETENTION_DAYS: integer({ default: 30, min: 1, max: 3_650, unit: 'days' }),
  // Usage rollups are kept this many days plus the current and one more UTC day, so that the oldest
  // day bucket is complete in every time zone. The usage query rejects ranges that start earlier.
  USAGE_ROLLUP_RETENTION_DAYS: integer({ default: 400, min: 1, max: 3_650, unit: 'days' }),
  AUDIT_EVENT_RETENTION_DAYS: integer({ default: 400, min: 1, max: 3_650, unit: 'days' }),
  // Interval between two runs of the retention job. The first run starts with the server.
  RETENTION_INTERVAL_MS: integer({ default: 3_600_000, min: 1_000, max: 86_400_000, unit: 'milliseconds' }),
});

export type RetentionEnvironment = z.output<typeof retentionEnvironment>;

export interface RetentionConfig {
  requestLogDays: number;
  usageRollupDays: number;
  auditEventDays: number;
  intervalMs: number;
}

/** Builds the settings from a successfully validated environment. */
export function toRetentionConfig(environment: RetentionEnvironment): RetentionConfig {
  return {
    requestLogDays: environment.REQUEST_LOG_RETENTION_DAYS,
    usageRollupDays: environment.USAGE_ROLLUP_RETENTION_DAYS,
    auditEventDays: environment.AUDIT_EVENT_RETENTION_DAYS,
    intervalMs: environment.RETENTION_INTERVAL_MS,
  };
}
