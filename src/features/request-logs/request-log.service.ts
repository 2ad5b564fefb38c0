import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { InputChecker } from '../../validation/input-checker.js';
import { requestLogRetentionStart } from '../retention/retention-window.js';
import {
  findRequestLogsByIds,
  listRequestLogs,
  type RequestLog,
  type RequestLogFilter,
  type RequestLogPage,
} from './request-log.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Maximum range of one requestLogs query, in days. */
export const maxRequestLogRangeDays = 31;
/** Range of a requestLogs query without `from`: the last day before `to`. */
export const defaultRequestLogRangeMs = DAY_MS;

export interface RequestLogRange {
  /** Defaults to one day before `to`. */
  from?: Date | null | undefined;
  /** Defaults to now. */
  to?: Date | null | undefined;
}

/** Reads the request log for the GraphQL API. */
export class RequestLogService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly retention: { requestLogDays: number },
    private readonly clock: () => Date = () => new Date(),
  ) {}

  findMany(organizationId: string, ids: readonly string[]): Promise<RequestLog[]> {
    return findRequestLogsByIds(this.db, organizationId, ids);
  }

  /** Lists one page, newest first. Throws ValidationError for a range that is empty, too long or past retention. */
  list(organizationId: string, range: RequestLogRange, filter: RequestLogFilter, page: RequestLogPage): Promise<RequestLog[]> {
    return listRequestLogs(this.db, organizationId, this.checkRange(range), filter, page);
  }

  /** Fills in the defaults and checks the range; throws a ValidationError naming the limit and the fix. */
  checkRange(range: RequestLogRange): { from: Date; to: Date } {
    const now = this.clock();
    const to = range.to ?? now;
    const from = range.from ?? new Date(to.getTime() - defaultRequestLogRangeMs);
    const checker = new InputChecker();

    const spanMs = to.getTime() - from.getTime();
    if (spanMs <= 0) {
      checker.add(['to'], `must be later than from (${from.toISOString()}); pass the end of the range`);
    } else if (spanMs > maxRequestLogRangeDays * DAY_MS) {
      checker.add(
        ['to'],
        `the range spans ${(spanMs / DAY_MS).toFixed(1)} days, but request logs are listed over at most ${maxRequestLogRangeDays} days; query a shorter range`,
      );
    }

    const days = this.retention.requestLogDays;
    const earliest = requestLogRetentionStart(days, now);
    if (from < earliest) {
      checker.add(
        ['from'],
        `starts before the request log retention of ${days} days (REQUEST_LOG_RETENTION_DAYS), so older rows may be deleted; ` +
          `pass ${earliest.toISOString()} or a later from`,
      );
    }
    checker.throwIfInvalid();
    return { from, to };
  }
}
