import type { Kysely } from 'kysely';
import type { RetentionConfig } from '../../config/retention.config.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import {
  deleteAuditEventsBefore,
  deleteDefaultPartitionRowsBefore,
  deleteHourlyUsageBefore,
  deleteProviderKeyUsageBefore,
  deleteTagUsageBefore,
  dropRequestLogPartition,
  listDailyRequestLogPartitions,
} from './retention.repository.js';
import { auditEventRetentionStart, requestLogRetentionStart, usageRetentionStart } from './retention-window.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The rows and partitions that one run deleted. */
export interface RetentionResult {
  droppedPartitions: string[];
  deletedDefaultPartitionRows: number;
  deletedHourlyUsageRows: number;
  deletedProviderKeyUsageRows: number;
  deletedTagUsageRows: number;
  deletedAuditEvents: number;
  /** Names of the steps that failed. The other steps ran. */
  failedSteps: string[];
}

/**
 * Deletes what is older than its retention setting: whole daily partitions of the request log (and
 * old rows of its default partition), hourly usage rollups, and audit events. Runs at start and then
 * every `intervalMs`. Each step runs on its own, so a partition that cannot be dropped now does not
 * keep old audit events.
 */
export class RetentionJob {
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  readonly #config: RetentionConfig;
  readonly #clock: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RetentionResult> | undefined;
  #stopped = false;

  constructor(options: { db: Kysely<Database>; logger: Logger; config: RetentionConfig; clock?: () => Date }) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#config = options.config;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Starts the first run without waiting for it, and schedules the later ones. */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.run(), this.#config.intervalMs);
    this.#timer.unref();
    this.#logger.info({ ...this.#config }, 'Retention job started');
    void this.run();
  }

  /** Clears the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /**
   * Runs every step once and resolves with what it deleted. A call while a run is in progress
   * returns that run. Never rejects: a failed step is logged and listed in `failedSteps`.
   */
  run(): Promise<RetentionResult> {
    this.#running ??= this.#runSteps().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #runSteps(): Promise<RetentionResult> {
    const now = this.#clock();
    const cutoffs = {
      requestLogs: requestLogRetentionStart(this.#config.requestLogDays, now),
      usageRollups: usageRetentionStart(this.#config.usageRollupDays, now),
      auditEvents: auditEventRetentionStart(this.#config.auditEventDays, now),
    };
    const result: RetentionResult = {
      droppedPartitions: [],
      deletedDefaultPartitionRows: 0,
      deletedHourlyUsageRows: 0,
      deletedProviderKeyUsageRows: 0,
      deletedTagUsageRows: 0,
      deletedAuditEvents: 0,
      failedSteps: [],
    };

    const step = async (name: string, work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        result.failedSteps.push(name);
        this.#logger.warn({ err: error, step: name }, 'A retention step failed, so the next run retries it');
      }
    };

    const partitions = await this.#listPartitions(step);
    for (const partition of partitions) {
      // A partition contains one UTC day, so it is dropped once the whole day is past the cutoff.
      if (partition.day.getTime() + DAY_MS > cutoffs.requestLogs.getTime()) continue;
      await step(`drop ${partition.name}`, async () => {
        await dropRequestLogPartition(this.#db, partition.name);
        result.droppedPartitions.push(partition.name);
      });
    }
    await step('delete old rows of request_logs_default', async () => {
      result.deletedDefaultPartitionRows = await deleteDefaultPartitionRowsBefore(this.#db, cutoffs.requestLogs);
    });
    await step('delete old usage_hourly rows', async () => {
      result.deletedHourlyUsageRows = await deleteHourlyUsageBefore(this.#db, cutoffs.usageRollups);
    });
    await step('delete old usage_provider_key_hourly rows', async () => {
      result.deletedProviderKeyUsageRows = await deleteProviderKeyUsageBefore(this.#db, cutoffs.usageRollups);
    });
    await step('delete old usage_tag_hourly rows', async () => {
      result.deletedTagUsageRows = await deleteTagUsageBefore(this.#db, cutoffs.usageRollups);
    });
    await step('delete old audit events', async () => {
      result.deletedAuditEvents = await deleteAuditEventsBefore(this.#db, cutoffs.auditEvents);
    });

    const deletedAnything =
      result.droppedPartitions.length > 0 ||
      result.deletedDefaultPartitionRows +
        result.deletedHourlyUsageRows +
        result.deletedProviderKeyUsageRows +
        result.deletedTagUsageRows +
        result.deletedAuditEvents >
        0;
    if (deletedAnything) this.#logger.info({ ...result, cutoffs }, 'Retention job deleted old rows');
    return result;
  }

  async #listPartitions(step: (name: string, work: () => Promise<void>) => Promise<void>) {
    let partitions: Awaited<ReturnType<typeof listDailyRequestLogPartitions>> = [];
    await step('list request log partitions', async () => {
      partitions = await listDailyRequestLogPartitions(this.#db);
    });
    return partitions;
  }
}
