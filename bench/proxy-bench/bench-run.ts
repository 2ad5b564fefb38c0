/**
 * The run of one gateway benchmark: progress lines, the --rounds option, the check that PostgreSQL
 * runs on this machine, and cleanup of every process, database and directory the benchmark
 * created, also after a failure, SIGINT or SIGTERM. Also the plain-text helpers that every report
 * uses.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { median } from './load.js';
import { ChildProcesses, isLoopbackHost } from './system.js';

/** The PostgreSQL server that the benchmarks use when DATABASE_URL is not set. */
export const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/test';

/** Writes one progress line to stderr, so that stdout carries only the report. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Parses the value of --rounds, an integer from 1 to 9. */
export function parseRounds(value: string | undefined): number {
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) {
    throw new Error(`--rounds expects an integer from 1 to 9, got ${JSON.stringify(value)}`);
  }
  return rounds;
}

/** Formats the 1, 5 and 15 minute load averages as `a / b / c`. */
export function formatLoad(load: readonly number[] = loadavg()): string {
  return load.map((value) => value.toFixed(2)).join(' / ');
}

/**
 * Returns DATABASE_URL, or the default server, after checking that it is on this machine.
 * `reason` completes the error message with why this benchmark needs a local server.
 */
export function localAdminUrl(reason: string): string {
  const adminUrl = process.env.DATABASE_URL || defaultAdminUrl;
  if (!isLoopbackHost(new URL(adminUrl).hostname)) {
    throw new Error(`DATABASE_URL must name a PostgreSQL server on this machine (127.0.0.1 or localhost), ${reason}`);
  }
  return adminUrl;
}

/**
 * The child processes and cleanup steps of one benchmark run. `run` executes the benchmark and
 * then stops every child by its PID and runs the cleanup steps newest first, also after a
 * failure or a signal.
 */
export class BenchRun {
  readonly children = new ChildProcesses();
  /** Steps that undo what the run created, such as dropping a database. They run newest first. */
  readonly cleanups: (() => Promise<void>)[] = [];
  readonly #scriptName: string;
  #cleaning: Promise<void> = Promise.resolve();

  /** `scriptName` is the benchmark's path, such as `bench/proxy.bench.ts`, for the failure message. */
  constructor(scriptName: string) {
    this.#scriptName = scriptName;
  }

  /** Creates a temporary directory that the cleanup removes. */
  async createTemporaryDirectory(prefix: string): Promise<string> {
    const directory = await mkdtemp(path.join(tmpdir(), prefix));
    this.cleanups.push(() => rm(directory, { recursive: true, force: true }));
    return directory;
  }

  /** Connects to the admin database, with a cleanup step that disconnects, and reads the server version. */
  async connectAdmin(adminUrl: string): Promise<{ admin: pg.Client; postgresVersion: string }> {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    this.cleanups.push(() => admin.end());
    const postgresVersion = (await admin.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    return { admin, postgresVersion };
  }

  /**
   * Stops every child process by its PID, then runs the cleanup steps, newest first. Calls are
   * chained, so a signal during the cleanup after a failure waits for it instead of racing it.
   */
  cleanUp(): Promise<void> {
    this.#cleaning = this.#cleaning.then(async () => {
      await this.children.stopAll(10_000);
      for (let cleanup = this.cleanups.pop(); cleanup; cleanup = this.cleanups.pop()) {
        await cleanup().catch((error: unknown) => progress(`Cleanup step failed: ${(error as Error).message}`));
      }
    });
    return this.#cleaning;
  }

  /** Runs `main`, writes its failure to stderr with exit code 1, and cleans up in every case. */
  async run(main: () => Promise<void>): Promise<void> {
    let interrupted = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // `on`, not `once`: tsx relays a signal a second time when the child does not exit within
      // 30 ms, and without a handler Node's default action would end the process before cleanup.
      process.on(signal, () => {
        if (interrupted) return;
        interrupted = true;
        progress(`${signal} received; stopping the processes this benchmark started`);
        void this.cleanUp().finally(() => process.exit(130));
      });
    }
    process.once('exit', () => this.children.killAllNow());

    try {
      await main();
    } catch (error) {
      process.stderr.write(`${this.#scriptName} failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    } finally {
      await this.cleanUp();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report text

/** Pads the cells of each column to the same width; the first row sets the number of columns. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}

export function formatMs(value: number): string {
  return `${value.toFixed(3)} ms`;
}

/** Formats the median of `values` with their range: `median [min to max]`. */
export function spread(values: number[], format: (value: number) => string): string {
  return `${format(median(values))} [${format(Math.min(...values))} to ${format(Math.max(...values))}]`;
}

/** Returns the first lines of a report: its title and start time, the software and CPUs, and the load averages. */
export function reportHeader(report: { title: string; started: Date; postgresVersion: string; loadAtStart: string; loadAtEnd: string }): string[] {
  return [
    `${report.title}, ${report.started.toISOString()}`,
    `Node ${process.version}, PostgreSQL ${report.postgresVersion}, ${availableParallelism()} CPUs (shared with other work)`,
    `Load average (1 / 5 / 15 min): ${report.loadAtStart} at start, ${report.loadAtEnd} at end`,
  ];
}

/** Lists the first five warn, error and fatal lines of the gateway log, after a blank line; nothing when there are none. */
export function logProblemLines(problems: string[]): string[] {
  if (problems.length === 0) return [];
  return ['', `Warnings and errors in the gateway log (${problems.length}, first 5):`, ...problems.slice(0, 5).map((line) => `  ${line}`)];
}
