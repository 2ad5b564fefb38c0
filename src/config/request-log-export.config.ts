import { z } from 'zod';
import { integer } from './fields.js';

/**
 * Environment variables of `GET /export/request-logs`. Its range follows the rules of the
 * requestLogs query: at most 31 days, within REQUEST_LOG_RETENTION_DAYS.
 */
export const requestLogExportEnvironment = z.object({
  // Rows per query of the export's keyset loop. Only one batch is in memory at a time.
  REQUEST_LOG_EXPORT_BATCH_ROWS: integer({ default: 1_000, min: 1, max: 10_000, unit: 'rows' }),
});

export type RequestLogExportEnvironment = z.output<typeof requestLogExportEnvironment>;

export interface RequestLogExportConfig {
  batchRows: number;
}

/** Builds the settings from a successfully validated environment. */
export function toRequestLogExportConfig(environment: RequestLogExportEnvironment): RequestLogExportConfig {
  return { batchRows: environment.REQUEST_LOG_EXPORT_BATCH_ROWS };
}
