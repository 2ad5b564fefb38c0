const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Returns the first instant whose request logs the retention job keeps at `now`: the UTC midnight
 * `days` days back. The job drops daily partitions whole, so it keeps every row from this instant on.
 */
export function requestLogRetentionStart(days: number, now: Date): Date {
  return new Date(Math.floor((now.getTime() - days * DAY_MS) / DAY_MS) * DAY_MS);
}

/**
 * Returns the first hour of usage rollups that the retention job keeps at `now`: the UTC midnight
 * `days + 1` days before today's. The extra day keeps the day bucket `days` days back complete in
 * every time zone, whose local midnights lie up to 14 hours before the UTC one.
 */
export function usageRetentionStart(days: number, now: Date): Date {
  return new Date((Math.floor(now.getTime() / DAY_MS) - days - 1) * DAY_MS);
}

/** Returns the instant before which the retention job deletes audit events at `now`. */
export function auditEventRetentionStart(days: number, now: Date): Date {
  return new Date(now.getTime() - days * DAY_MS);
}
