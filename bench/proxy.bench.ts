/**
 * Proxy benchmark: what the gateway adds to OpenAI chat completions, measured in one run against
 * direct calls to the same fake upstream, on PostgreSQL with the request log on.
 *
 * Setup: a fresh database `keyroute_bench_<random>` on the PostgreSQL server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), which must run on this machine because its
 * CPU time is read from /proc. An organization and a management token come from the CLI; a
 * gateway key and an organization-wide OpenAI provider key come from the GraphQL API. The gateway
 * runs as a child process, `node --import tsx src/main.ts`, with a keyring key backend,
 * LOG_LEVEL=info written to a log file, and the request log writer at its defaults. The upstream
 * is bench/proxy-bench/fake-openai-upstream.ts, a separate process that responds at once and
 * checks the provider credential. bench/proxy-bench/gateway-probe.ts is preloaded into the gateway
 * to count its SQL statements and key backend calls.
 *
 * The machine's speed changes between sessions, so absolute figures of two runs do not compare.
 * Each run therefore also measures a floor in the same rounds. The floor is
 * bench/proxy-bench/bare-proxy.ts, the smallest honest Node.js proxy for the same call, in a
 * process of its own: a node:http server, JSON parse and stringify, and an undici Pool to the same
 * fake upstream. It is not a competitor, because it checks no credential and has no logs, metrics
 * or database. What the gateway adds beyond it is the cost of the gateway's own work.
 *
 * Measured alike for the direct calls, the bare proxy and the gateway, in rounds that rotate the
 * order of the three by one place per round. The report shows the median over the rounds of:
 *   - latency of non-streamed chat completions on 1 kept-alive connection (p50 and p99), and the
 *     time to the first byte of streamed ones; "added" is bare proxy or gateway minus direct per
 *     round;
 *   - requests per second on 16 connections, with the CPU time per request of the bare proxy, of
 *     the gateway process and of PostgreSQL (from /proc/<pid>/stat), the request log writes
 *     included;
 *   - gateway CPU per request divided by bare proxy CPU per request, and the gateway's added p50
 *     minus the bare proxy's, both per round;
 * and once: SQL statements and key backend calls per proxied request at steady state, the same on
 * a second gateway that uses the fake AWS KMS of test/support/fake-kms-server.ts (on its own
 * database, since a database keeps the key check of one key backend), and the gateway's RSS
 * while 16 clients read long streams slowly.
 *
 * With --profile, one more round runs against a gateway started with `node --cpu-prof`, and the
 * report ends with its hot spots. --profile-output FILE also keeps that profile in FILE (open it in
 * the Performance panel of Chrome DevTools); it implies --profile.
 *
 * Every process it starts is stopped by its PID, and the databases and the temporary directory
 * are removed, also after a failure or Ctrl-C. Every load loop is bounded in count and time.
 *
 * --gateway-node-option FLAG (repeatable) starts every gateway with that Node flag, and
 * --gateway-env NAME=value (repeatable) sets a variable in its environment, to compare settings
 * such as --max-semi-space-size=32 or REQUEST_LOG_BATCH_SIZE=100 against the defaults.
 * --server-times also times each request inside the gateway (from its parsed headers to the end
 * of its response) and prints p50, p99 and max per round, which separates delays inside the
 * process from those outside it. The timing costs some CPU, so it is off by default.
 *
 * Usage: npx tsx bench/proxy.bench.ts [--rounds N] [--profile] [--profile-output FILE]
 *        [--gateway-node-option FLAG] [--gateway-env NAME=value] [--server-times]
 */
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Pool } from 'undici';
import { FAKE_KMS_CREDENTIALS, FAKE_KMS_REGION, FakeKmsServer } from '../test/support/fake-kms-server.js';
import { BenchRun, formatLoad, formatMs, localAdminUrl, logProblemLines, parseRounds, progress, reportHeader, spread, table } from './proxy-bench/bench-run.js';
import { summarizeCpuProfile, type CpuProfile } from './proxy-bench/cpu-profile.js';
import {
  createBenchDatabase,
  createKeys,
  createOrganizationWithToken,
  gatewayEnvironment,
  repositoryRoot,
  requestOverIpc,
  startBareProxy,
  startFakeUpstream,
  startGateway as startGatewayProcess,
  summarizeLog,
  type BareProxyProcess,
  type FakeUpstreamProcess,
  type GatewayProcess,
} from './proxy-bench/gateway-process.js';
import type { GatewayCounters, GatewayIntervals, GcPauses, ReadCountersMessage, StatementKind, TimeInterval } from './proxy-bench/gateway-probe.js';
import {
  closedLoop,
  completionBody,
  median,
  openPool,
  percentile,
  runSlowReaders,
  sendCompletion,
  sendStream,
  sequentialSamples,
  sequentialTimedSamples,
  streamBody,
  type ChatTarget,
  type TimedSamples,
} from './proxy-bench/load.js';
import { cpuDeltaMs, readCpuOfProcessesNamed, readProcessCpuMs, readRssBytes } from './proxy-bench/system.js';

const probeUrl = pathToFileURL(path.join(repositoryRoot, 'bench/proxy-bench/gateway-probe.ts')).href;

const latency = { warmUpRequests: 300, requests: 3_000 };
const timeToFirstByte = { warmUpRequests: 100, requests: 1_000, deltaCount: 8 };
const throughput = { connections: 16, warmUpRequests: 320, durationMs: 5_000, maxRequests: 200_000 };
const steadyState = { connections: 4, requests: 5_000 };
/**
 * Load sent to each target once before the first round. Without it, the first round's added p50
 * came out about 0.1 ms higher than that of later rounds (3 runs on a 2-core machine), presumably
 * because V8 had not yet optimized the freshly started gateway.
 */
const initialWarmUp = { completions: 3_000, streams: 1_000, closedLoopMs: 5_000 };
const slowReaders = { clients: 16, deltaCount: 250_000, readIntervalMs: 100, durationMs: 10_000, sampleIntervalMs: 500 };
/** REQUEST_LOG_FLUSH_INTERVAL_MS at its default, and a margin for the flush itself. */
const requestLogFlushWaitMs = 1_000 + 500;
/**
 * PostgreSQL 15 and later publish a backend's pending statistics when it goes idle, at most once a
 * second (PGSTAT_MIN_INTERVAL), and within 10 s when it stays idle (PGSTAT_IDLE_INTERVAL). So
 * readings of pg_stat_database wait this long after the last statement they must include.
 */
const statisticsSettleMs = 11_000;
/** Maximum duration of one series of requests, such as one latency measurement or one warm-up. */
const seriesTimeoutMs = 120_000;
/**
 * Wait after the gateway's latency series before its GC pauses and request-log writes are read, so
 * that a write still running at the end of the series settles and the last `gc` entries arrive.
 */
const intervalSettleMs = 100;

const targets = {
  addedLatencyP50Ms: 0.3,
  addedLatencyP99Ms: 1.5,
  gatewayCpuPerRequestUs: 250,
  addedTimeToFirstByteMs: 1,
} as const;

const run = new BenchRun('bench/proxy.bench.ts');
const { children, cleanups } = run;

function parseOptions(): {
  rounds: number;
  profile: boolean;
  profileOutput: string | undefined;
  gatewayNodeOptions: string[];
  gatewayEnvironment: Record<string, string>;
} {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      profile: { type: 'boolean', default: false },
      'profile-output': { type: 'string' },
      'gateway-node-option': { type: 'string', multiple: true, default: [] },
      'gateway-env': { type: 'string', multiple: true, default: [] },
      'server-times': { type: 'boolean', default: false },
    },
  });
  const rounds = parseRounds(values.rounds);
  const profileOutput = values['profile-output'] === undefined ? undefined : path.resolve(values['profile-output']);
  const gatewayNodeOptions = values['gateway-node-option'];
  for (const option of gatewayNodeOptions) {
    if (!/^--[a-z][a-z0-9-]*(=[\w.-]+)?$/.test(option)) throw new Error(`--gateway-node-option expects a flag such as --max-semi-space-size=32, got ${JSON.stringify(option)}`);
  }
  const gatewayEnvironment: Record<string, string> = {};
  for (const assignment of values['gateway-env']) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(assignment);
    if (!match) throw new Error(`--gateway-env expects NAME=value, such as REQUEST_LOG_BATCH_SIZE=100, got ${JSON.stringify(assignment)}`);
    gatewayEnvironment[match[1]!] = match[2]!;
  }
  // The probe in the gateway reads it; the timing has a cost, so it is off by default.
  if (values['server-times']) gatewayEnvironment.BENCH_PROBE_SERVER_TIMES = 'true';
  return { rounds, profile: values.profile || profileOutput !== undefined, profileOutput, gatewayNodeOptions, gatewayEnvironment };
}

/** Formats GC pauses as `count (count of 1 ms or more) / total ms / max ms, minor count / ms`. */
function formatGcPauses(pauses: GcPauses): string {
  return (
    `${pauses.count} (${pauses.atLeast1Ms}) / ${pauses.totalMs.toFixed(1)} ms / ${pauses.maxMs.toFixed(2)} ms, ` +
    `minor ${pauses.minorCount} / ${pauses.minorMs.toFixed(1)} ms`
  );
}

/** Formats the groups of the slowest samples as `gc only/log only/both/neither of samples`. */
function formatSlowestOverlap(overlap: SlowestSamplesOverlap): string {
  const groups = `${overlap.gcOnly}/${overlap.requestLogOnly}/${overlap.both}/${overlap.neither} of ${overlap.samples}`;
  return overlap.droppedIntervals > 0 ? `${groups} (${overlap.droppedIntervals} intervals dropped)` : groups;
}

/** Formats one figure of each target as `direct/bare/gateway`. */
function formatPerTarget(values: Record<ChatTarget['label'], number>, fractionDigits: number): string {
  return `${values.direct.toFixed(fractionDigits)}/${values.bare.toFixed(fractionDigits)}/${values.gateway.toFixed(fractionDigits)}`;
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface Gateway extends GatewayProcess {
  readCounters(options?: Pick<ReadCountersMessage, 'collectGarbage' | 'resetGcPauses' | 'trackRequests' | 'readIntervals'>): Promise<GatewayCounters>;
}

/** Node flags for every gateway process, from --gateway-node-option. */
let gatewayNodeOptions: string[] = [];
/** Environment variables for every gateway process, from --gateway-env. */
let gatewayEnvironmentOverrides: Record<string, string> = {};

/** Starts a gateway with the probe preloaded, so that its counters can be read over IPC. */
async function startGateway(options: { environment: Record<string, string>; logPath: string; cpuProfileDirectory?: string }): Promise<Gateway> {
  const profileArguments = options.cpuProfileDirectory ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDirectory] : [];
  const gateway = await startGatewayProcess(children, {
    environment: options.environment,
    logPath: options.logPath,
    nodeOptions: gatewayNodeOptions,
    extraArguments: ['--import', probeUrl, ...profileArguments],
    ipc: true,
  });
  return {
    ...gateway,
    readCounters(readOptions = {}) {
      const message: ReadCountersMessage = {
        type: 'read-counters',
        collectGarbage: readOptions.collectGarbage ?? false,
        resetGcPauses: readOptions.resetGcPauses ?? false,
        ...(readOptions.trackRequests !== undefined && { trackRequests: readOptions.trackRequests }),
        ...(readOptions.readIntervals && { readIntervals: true }),
      };
      return requestOverIpc(
        gateway.child,
        message,
        (reply) => {
          const counters = reply as { type?: string; counters?: GatewayCounters };
          return counters.type === 'counters' ? counters.counters : undefined;
        },
        'The gateway probe',
      );
    },
  };
}

/** A METRICS_BEARER_TOKEN for the bench gateways, which serve /metrics on their main port. */
const metricsToken = randomBytes(24).toString('base64url');

interface MetricsScrapes {
  ok: number;
  /** The status or error of each failed scrape. */
  failed: string[];
  /** Size of the last successful scrape's body. */
  lastBytes: number;
}

/**
 * Scrapes the gateway's /metrics once per second, as a Prometheus server would, until `stop()`,
 * so that every measurement runs with metrics collected and served.
 */
function startMetricsScraper(gateway: Gateway): { stop(): Promise<MetricsScrapes> } {
  const scrapes: MetricsScrapes = { ok: 0, failed: [], lastBytes: 0 };
  let inFlight: Promise<void> = Promise.resolve();
  const scrape = async () => {
    try {
      const response = await fetch(`${gateway.baseUrl}/metrics`, {
        headers: { authorization: `Bearer ${metricsToken}` },
        signal: AbortSignal.timeout(5_000),
      });
      const body = await response.text();
      if (response.status === 200) {
        scrapes.ok += 1;
        scrapes.lastBytes = Buffer.byteLength(body);
      } else {
        scrapes.failed.push(`status ${response.status}`);
      }
    } catch (error) {
      scrapes.failed.push((error as Error).message);
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(scrape);
  }, 1_000);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return scrapes;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Database and tenant

/**
 * Tries pg_stat_statements in the bench database and returns why it cannot be used, or that it
 * can. Where the extension is installed it can always be created, but its view works only when the
 * server preloads the library (shared_preload_libraries), which takes a server restart.
 */
async function checkPgStatStatements(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_stat_statements');
    await client.query('select 1 from pg_stat_statements limit 1');
    return 'available, but the probe counts are used, because they also tell statements sent while serving a request from background ones';
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  } finally {
    await client.end();
  }
}

function gatewayTarget(gateway: Gateway, gatewaySecret: string): ChatTarget {
  return {
    label: 'gateway',
    origin: gateway.baseUrl,
    headers: { authorization: `Bearer ${gatewaySecret}`, 'content-type': 'application/json' },
    model: 'openai/gpt-4o',
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface CpuSnapshot {
  gatewayMs: number;
  postgresAll: Map<number, number>;
  postgresBench: Map<number, number>;
}

async function benchBackendPids(admin: pg.Client, database: string): Promise<number[]> {
  const result = await admin.query<{ pid: number }>(`select pid from pg_stat_activity where datname = $1 and backend_type = 'client backend'`, [database]);
  return result.rows.map((row) => row.pid);
}

async function snapshotCpu(admin: pg.Client, database: string, gateway: Gateway): Promise<CpuSnapshot> {
  const [gatewayMs, postgresAll, pids] = await Promise.all([
    readProcessCpuMs(gateway.pid),
    readCpuOfProcessesNamed('postgres'),
    benchBackendPids(admin, database),
  ]);
  if (gatewayMs === undefined) throw new Error(`The gateway process ${gateway.pid} is gone`);
  const postgresBench = new Map<number, number>();
  for (const pid of pids) {
    const cpuMs = postgresAll.get(pid);
    if (cpuMs !== undefined) postgresBench.set(pid, cpuMs);
  }
  return { gatewayMs, postgresAll, postgresBench };
}

interface RoundResult {
  load1: number;
  /** The targets in the order in which this round measured them. */
  order: ChatTarget['label'][];
  latencyP50: Record<ChatTarget['label'], number>;
  latencyP99: Record<ChatTarget['label'], number>;
  firstByteP50: Record<ChatTarget['label'], number>;
  firstByteP99: Record<ChatTarget['label'], number>;
  requestsPerSecond: Record<ChatTarget['label'], number>;
  bareCpuPerRequestUs: number;
  gatewayCpuPerRequestUs: number;
  postgresBenchCpuPerRequestUs: number;
  postgresAllCpuPerRequestUs: number;
  /** The gateway's garbage collection pauses during its 1-connection latency series, warm-up included. */
  gatewayGcPauses: GcPauses;
  /** Time inside the gateway per request in the same series, from the probe. */
  gatewayServerTimeMs: GatewayCounters['serverTimeMs'];
  /** Overlap of the slowest requests of the gateway's latency series with its GC pauses and request-log writes. */
  gatewaySlowest: SlowestSamplesOverlap;
  /** Request-log writes that overlapped the gateway's latency series (warm-up excluded). */
  gatewayRequestLogWrites: { count: number; medianMs: number; maxMs: number };
}

/**
 * Samples of a latency series at or above its p99, in four disjoint groups by what each request's
 * time overlapped: only GC pauses, only request-log writes, both, or neither.
 */
interface SlowestSamplesOverlap {
  samples: number;
  gcOnly: number;
  requestLogOnly: number;
  both: number;
  neither: number;
  /** Intervals that the probe did not record because its list was full, so the groups may be wrong. */
  droppedIntervals: number;
}

function overlapsAny(startedAt: number, durationMs: number, intervals: readonly TimeInterval[]): boolean {
  const endsAt = startedAt + durationMs;
  return intervals.some((interval) => interval.startedAt < endsAt && interval.startedAt + interval.durationMs > startedAt);
}

/**
 * Sorts the samples at or above `p99Ms` by their overlap with the gateway's GC pauses and
 * request-log writes. NOTE: the sample times come from this process and the intervals from the
 * gateway. Both use performance.timeOrigin (the system clock when the process began) plus the
 * monotonic performance.now(), so they disagree if the system clock was stepped between the two starts.
 */
function overlapSlowestSamples(samples: TimedSamples, p99Ms: number, intervals: GatewayIntervals): SlowestSamplesOverlap {
  const result: SlowestSamplesOverlap = { samples: 0, gcOnly: 0, requestLogOnly: 0, both: 0, neither: 0, droppedIntervals: intervals.dropped };
  samples.durations.forEach((durationMs, index) => {
    if (durationMs < p99Ms) return;
    const startedAt = samples.startTimes[index]!;
    const inGcPause = overlapsAny(startedAt, durationMs, intervals.gcPauses);
    const inRequestLogWrite = overlapsAny(startedAt, durationMs, intervals.requestLogWrites);
    result.samples += 1;
    if (inGcPause && inRequestLogWrite) result.both += 1;
    else if (inGcPause) result.gcOnly += 1;
    else if (inRequestLogWrite) result.requestLogOnly += 1;
    else result.neither += 1;
  });
  return result;
}

/** Counts the request-log writes that overlapped the series, with their median and max duration. */
function summarizeRequestLogWrites(samples: TimedSamples, writes: readonly TimeInterval[]): RoundResult['gatewayRequestLogWrites'] {
  const last = samples.durations.length - 1;
  const seriesStart = samples.startTimes[0]!;
  const seriesEnd = samples.startTimes[last]! + samples.durations[last]!;
  const durations = writes
    .filter((write) => write.startedAt < seriesEnd && write.startedAt + write.durationMs > seriesStart)
    .map((write) => write.durationMs);
  if (durations.length === 0) return { count: 0, medianMs: 0, maxMs: 0 };
  return { count: durations.length, medianMs: median(durations), maxMs: Math.max(...durations) };
}

/** Sends the latency series after its warm-up and returns the samples in the order sent and their durations in ascending order. */
async function measureLatency(target: ChatTarget): Promise<{ samples: TimedSamples; sortedMs: number[] }> {
  const pool = openPool(target, 1);
  try {
    const body = completionBody(target);
    await sequentialSamples(latency.warmUpRequests, seriesTimeoutMs, () => sendCompletion(pool, target, body));
    const samples = await sequentialTimedSamples(latency.requests, seriesTimeoutMs, () => sendCompletion(pool, target, body));
    return { samples, sortedMs: [...samples.durations].sort((a, b) => a - b) };
  } finally {
    await pool.close();
  }
}

async function measureTimeToFirstByte(target: ChatTarget): Promise<number[]> {
  const pool = openPool(target, 1);
  try {
    const body = streamBody(target, timeToFirstByte.deltaCount);
    await sequentialSamples(timeToFirstByte.warmUpRequests, seriesTimeoutMs, () => sendStream(pool, target, body));
    return await sequentialSamples(timeToFirstByte.requests, seriesTimeoutMs, () => sendStream(pool, target, body));
  } finally {
    await pool.close();
  }
}

/** Runs the closed loop on 16 connections; `around` wraps the timed part, for CPU readings. */
async function measureThroughput(target: ChatTarget, around?: { before(): Promise<void>; after(requests: number): Promise<void> }): Promise<number> {
  const pool: Pool = openPool(target, throughput.connections);
  try {
    const body = completionBody(target);
    const send = () => sendCompletion(pool, target, body);
    await closedLoop(throughput.connections, seriesTimeoutMs, throughput.warmUpRequests, send);
    // Lets the request log write the warm-up's entries before the CPU reading starts.
    if (around) await sleep(requestLogFlushWaitMs);
    await around?.before();
    const { requests, elapsedMs } = await closedLoop(throughput.connections, throughput.durationMs, throughput.maxRequests, send);
    await around?.after(requests);
    return requests / (elapsedMs / 1000);
  } finally {
    await pool.close();
  }
}

/** Sends each target the initial warm-up: sequential completions and streams, then a closed loop on 16 connections. */
async function warmUpTargets(targets: readonly ChatTarget[]): Promise<void> {
  for (const target of targets) {
    const single = openPool(target, 1);
    try {
      const completion = completionBody(target);
      const stream = streamBody(target, timeToFirstByte.deltaCount);
      await sequentialSamples(initialWarmUp.completions, seriesTimeoutMs, () => sendCompletion(single, target, completion));
      await sequentialSamples(initialWarmUp.streams, seriesTimeoutMs, () => sendStream(single, target, stream));
    } finally {
      await single.close();
    }

    const pool = openPool(target, throughput.connections);
    try {
      const completion = completionBody(target);
      await closedLoop(throughput.connections, initialWarmUp.closedLoopMs, throughput.maxRequests, () => sendCompletion(pool, target, completion));
    } finally {
      await pool.close();
    }
  }
}

/** Returns utime + stime of the bare proxy in milliseconds; throws when its process is gone. */
async function readBareProxyCpuMs(bareProxy: BareProxyProcess): Promise<number> {
  const cpuMs = await readProcessCpuMs(bareProxy.pid);
  if (cpuMs === undefined) throw new Error(`The bare proxy process ${bareProxy.pid} is gone`);
  return cpuMs;
}

/**
 * Returns `targets` rotated by one place per round, so that over as many rounds as there are
 * targets each one goes first once.
 */
function roundOrder(round: number, targets: readonly ChatTarget[]): ChatTarget[] {
  const shift = (round - 1) % targets.length;
  return [...targets.slice(shift), ...targets.slice(0, shift)];
}

async function runRound(
  round: number,
  targets: readonly ChatTarget[],
  processes: { gateway: Gateway; bareProxy: BareProxyProcess },
  admin: pg.Client,
  database: string,
): Promise<RoundResult> {
  const { gateway: gatewayProcess, bareProxy } = processes;
  const order = roundOrder(round, targets);
  const result: RoundResult = {
    load1: loadavg()[0]!,
    order: order.map((target) => target.label),
    latencyP50: { direct: 0, bare: 0, gateway: 0 },
    latencyP99: { direct: 0, bare: 0, gateway: 0 },
    firstByteP50: { direct: 0, bare: 0, gateway: 0 },
    firstByteP99: { direct: 0, bare: 0, gateway: 0 },
    requestsPerSecond: { direct: 0, bare: 0, gateway: 0 },
    bareCpuPerRequestUs: 0,
    gatewayCpuPerRequestUs: 0,
    postgresBenchCpuPerRequestUs: 0,
    postgresAllCpuPerRequestUs: 0,
    gatewayGcPauses: { count: 0, totalMs: 0, maxMs: 0, atLeast1Ms: 0, minorMs: 0, minorCount: 0 },
    gatewayServerTimeMs: { count: 0, p50: 0, p99: 0, max: 0 },
    gatewaySlowest: { samples: 0, gcOnly: 0, requestLogOnly: 0, both: 0, neither: 0, droppedIntervals: 0 },
    gatewayRequestLogWrites: { count: 0, medianMs: 0, maxMs: 0 },
  };

  for (const target of order) {
    if (target.label === 'gateway') await gatewayProcess.readCounters({ resetGcPauses: true });
    const { samples, sortedMs } = await measureLatency(target);
    result.latencyP50[target.label] = percentile(sortedMs, 0.5);
    result.latencyP99[target.label] = percentile(sortedMs, 0.99);
    if (target.label === 'gateway') {
      await sleep(intervalSettleMs);
      const counters = await gatewayProcess.readCounters({ readIntervals: true });
      result.gatewayGcPauses = counters.gcPauses;
      result.gatewayServerTimeMs = counters.serverTimeMs;
      if (!counters.intervals) throw new Error('The gateway probe\'s reply is missing `intervals`, the GC pauses and request-log writes that readIntervals requests');
      result.gatewaySlowest = overlapSlowestSamples(samples, result.latencyP99.gateway, counters.intervals);
      result.gatewayRequestLogWrites = summarizeRequestLogWrites(samples, counters.intervals.requestLogWrites);
    }
  }
  for (const target of order) {
    const samples = await measureTimeToFirstByte(target);
    result.firstByteP50[target.label] = percentile(samples, 0.5);
    result.firstByteP99[target.label] = percentile(samples, 0.99);
  }
  for (const target of order) {
    if (target.label === 'direct') {
      result.requestsPerSecond.direct = await measureThroughput(target);
      continue;
    }
    if (target.label === 'bare') {
      let beforeMs = 0;
      result.requestsPerSecond.bare = await measureThroughput(target, {
        before: async () => {
          beforeMs = await readBareProxyCpuMs(bareProxy);
        },
        // The bare proxy has no request log to flush, so the reading follows the loop at once.
        after: async (requests) => {
          result.bareCpuPerRequestUs = (((await readBareProxyCpuMs(bareProxy)) - beforeMs) * 1000) / requests;
        },
      });
      continue;
    }
    let before: CpuSnapshot;
    result.requestsPerSecond.gateway = await measureThroughput(target, {
      before: async () => {
        before = await snapshotCpu(admin, database, gatewayProcess);
      },
      after: async (requests) => {
        // The CPU reading includes the request log flush of the last entries.
        await sleep(requestLogFlushWaitMs);
        const after = await snapshotCpu(admin, database, gatewayProcess);
        result.gatewayCpuPerRequestUs = ((after.gatewayMs - before.gatewayMs) * 1000) / requests;
        result.postgresBenchCpuPerRequestUs = (cpuDeltaMs(before.postgresBench, after.postgresBench) * 1000) / requests;
        result.postgresAllCpuPerRequestUs = (cpuDeltaMs(before.postgresAll, after.postgresAll) * 1000) / requests;
      },
    });
  }
  return result;
}

interface SteadyState {
  requests: number;
  statements: Record<StatementKind, number>;
  otherStatements: GatewayCounters['otherStatements'];
  keyBackendCalls: Record<string, number>;
  /** Transactions that pg_stat_database counted for the database; undefined when not read. */
  postgresTransactions: number | undefined;
  /** KMS requests the fake KMS received, by operation; undefined for the keyring gateway. */
  kmsRequests: Record<string, number> | undefined;
}

function subtractCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}

async function readTransactionCount(admin: pg.Client, database: string): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const result = await admin.query<{ count: string }>('select xact_commit + xact_rollback as count from pg_stat_database where datname = $1', [database]);
  return Number(result.rows[0]!.count);
}

/**
 * Sends `steadyState.requests` chat completions through a warmed-up gateway and returns what the
 * gateway asked of PostgreSQL and of its key backend meanwhile, up to the request log flush after
 * the last request. With `admin`, it also reads pg_stat_database before and after, waiting for
 * PostgreSQL to publish its statistics each time.
 */
async function measureSteadyState(
  target: ChatTarget,
  gateway: Gateway,
  options: { admin?: { client: pg.Client; database: string }; kms?: FakeKmsServer },
): Promise<SteadyState> {
  const { admin, kms } = options;
  if (admin) await sleep(statisticsSettleMs);
  // Only this phase separates statements of requests from background ones (see ReadCountersMessage).
  const countersBefore = await gateway.readCounters({ trackRequests: true });
  const transactionsBefore = admin && (await readTransactionCount(admin.client, admin.database));
  const kmsBefore = kms?.requests.length ?? 0;

  const pool = openPool(target, steadyState.connections);
  const body = completionBody(target);
  const { requests } = await closedLoop(steadyState.connections, seriesTimeoutMs, steadyState.requests, () => sendCompletion(pool, target, body));
  await pool.close();
  await sleep(admin ? statisticsSettleMs : requestLogFlushWaitMs);

  const countersAfter = await gateway.readCounters({ trackRequests: false });
  const transactionsAfter = admin && (await readTransactionCount(admin.client, admin.database));
  const kmsRequests: Record<string, number> = {};
  for (const request of kms?.requests.slice(kmsBefore) ?? []) kmsRequests[request.operation] = (kmsRequests[request.operation] ?? 0) + 1;

  const otherStatements: GatewayCounters['otherStatements'] = {};
  for (const [text, after] of Object.entries(countersAfter.otherStatements)) {
    const before = countersBefore.otherStatements[text] ?? { inRequest: 0, background: 0 };
    const delta = { inRequest: after.inRequest - before.inRequest, background: after.background - before.background };
    if (delta.inRequest !== 0 || delta.background !== 0) otherStatements[text] = delta;
  }
  return {
    requests,
    statements: subtractCounts(countersAfter.statements, countersBefore.statements) as Record<StatementKind, number>,
    otherStatements,
    keyBackendCalls: subtractCounts(countersAfter.keyBackendCalls, countersBefore.keyBackendCalls),
    postgresTransactions: transactionsBefore === undefined || transactionsAfter === undefined ? undefined : transactionsAfter - transactionsBefore,
    kmsRequests: kms ? kmsRequests : undefined,
  };
}

interface MemoryResult {
  /** RSS right after the gateway became ready and the keys were created. */
  startRssBytes: number;
  /** JS heap used after a full garbage collection, right after start and after the rounds and the steady-state phase. */
  startLiveHeapBytes: number;
  idleLiveHeapBytes: number;
  idleRssBytes: number;
  maxRssBytes: number;
  afterRssBytes: number;
  idleHeapUsedBytes: number;
  maxHeapUsedBytes: number;
  /** Memory of ArrayBuffers and Buffers outside the V8 heap (process.memoryUsage().external). */
  idleExternalBytes: number;
  maxExternalBytes: number;
  streaming: number;
  clientBytesRead: number;
  upstreamBytesWritten: number;
  upstreamBackpressureWaits: number;
  errors: string[];
}

async function measureSlowReaderMemory(
  target: ChatTarget,
  gateway: Gateway,
  fake: FakeUpstreamProcess,
  atStart: { rssBytes: number; liveHeapBytes: number },
): Promise<MemoryResult> {
  const { memory: liveMemory } = await gateway.readCounters({ collectGarbage: true });
  await sleep(1_000);
  const idleRssBytes = (await readRssBytes(gateway.pid)) ?? Number.NaN;
  const { memory: idleMemory } = await gateway.readCounters();
  const statsBefore = await fake.readStats();

  let maxRssBytes = idleRssBytes;
  let maxHeapUsedBytes = idleMemory.heapUsed;
  let maxExternalBytes = idleMemory.external;
  const readers = await runSlowReaders(target, {
    ...slowReaders,
    onSample: async () => {
      maxRssBytes = Math.max(maxRssBytes, (await readRssBytes(gateway.pid)) ?? 0);
      const { memory } = await gateway.readCounters();
      maxHeapUsedBytes = Math.max(maxHeapUsedBytes, memory.heapUsed);
      maxExternalBytes = Math.max(maxExternalBytes, memory.external);
    },
  });
  const statsAfter = await fake.readStats();
  await sleep(3_000);

  return {
    startRssBytes: atStart.rssBytes,
    startLiveHeapBytes: atStart.liveHeapBytes,
    idleLiveHeapBytes: liveMemory.heapUsed,
    idleRssBytes,
    maxRssBytes,
    afterRssBytes: (await readRssBytes(gateway.pid)) ?? Number.NaN,
    idleHeapUsedBytes: idleMemory.heapUsed,
    maxHeapUsedBytes,
    idleExternalBytes: idleMemory.external,
    maxExternalBytes,
    streaming: readers.streaming,
    clientBytesRead: readers.bytesRead,
    upstreamBytesWritten: statsAfter.streamBytes - statsBefore.streamBytes,
    upstreamBackpressureWaits: statsAfter.backpressureWaits - statsBefore.backpressureWaits,
    errors: readers.errors,
  };
}

/**
 * Starts a gateway with `--cpu-prof`, runs one latency and one throughput round through it, stops
 * it and summarizes the profile. Copies the profile to `outputPath` when one is given.
 */
async function profileGateway(
  environment: Record<string, string>,
  gatewaySecret: string,
  temporaryDirectory: string,
  outputPath: string | undefined,
): Promise<string> {
  const profileDirectory = path.join(temporaryDirectory, 'cpu-profile');
  const gateway = await startGateway({ environment, logPath: path.join(temporaryDirectory, 'gateway-profiled.log'), cpuProfileDirectory: profileDirectory });
  try {
    const target = gatewayTarget(gateway, gatewaySecret);
    await measureLatency(target);
    await measureThroughput(target);
  } finally {
    // The profile is written when the process exits.
    await children.stop(gateway.child);
  }
  // Node names the files CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile. Thread 0 is the
  // main thread; the others are helper threads such as the one that runs tsx's module hooks.
  const files = await readdir(profileDirectory);
  const mainThreadFile = files.find((file) => new RegExp(`\\.${gateway.pid}\\.0\\.\\d+\\.cpuprofile$`).test(file));
  if (!mainThreadFile) throw new Error(`No main-thread .cpuprofile of process ${gateway.pid} in ${profileDirectory}: ${files.join(', ')}`);
  const profilePath = path.join(profileDirectory, mainThreadFile);
  if (outputPath) await copyFile(profilePath, outputPath);
  const profile = JSON.parse(await readFile(profilePath, 'utf8')) as CpuProfile;
  const summary = summarizeCpuProfile(profile);
  return outputPath ? `${summary}\n\nThe profile is in ${outputPath}.` : summary;
}

// ---------------------------------------------------------------------------------------------
// Report

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

function verdict(value: number, limit: number): string {
  return value < limit ? 'met' : 'MISSED';
}

function describeSteadyState(label: string, result: SteadyState): string[] {
  const perRequest = (count: number) => (count / result.requests).toFixed(4);
  const otherInRequest = Object.values(result.otherStatements).reduce((sum, entry) => sum + entry.inRequest, 0);
  const otherBackground = Object.values(result.otherStatements).reduce((sum, entry) => sum + entry.background, 0);
  const keyBackendTotal = Object.values(result.keyBackendCalls).reduce((sum, count) => sum + count, 0);
  const s = result.statements;
  const lines = [
    `${label}: ${result.requests} requests on ${steadyState.connections} connections after warm-up`,
    `  SQL statements besides the request log: ${otherInRequest + otherBackground + (s['change-sequence check'] ?? 0) + (s.listen ?? 0)}, ` +
      `of which ${otherInRequest} sent while serving a request (${perRequest(otherInRequest)} per request), ` +
      `${s['change-sequence check'] ?? 0} periodic change-sequence checks and ${otherBackground} other background statements`,
    `  request log: ${s['request-log write'] ?? 0} writes (INSERT, usage rollup upserts and last_used_at updates) and ${s['transaction control'] ?? 0} BEGIN/COMMIT statements around them`,
    `  key backend calls: ${keyBackendTotal} (${perRequest(keyBackendTotal)} per request)${keyBackendTotal > 0 ? ` ${JSON.stringify(result.keyBackendCalls)}` : ''}`,
  ];
  for (const [text, count] of Object.entries(result.otherStatements)) {
    lines.push(`    other statement: ${count.inRequest} in requests, ${count.background} background: ${text}`);
  }
  if (result.kmsRequests) {
    const total = Object.values(result.kmsRequests).reduce((sum, count) => sum + count, 0);
    lines.push(`  requests received by the fake KMS: ${total} (${perRequest(total)} per request)${total > 0 ? ` ${JSON.stringify(result.kmsRequests)}` : ''}`);
  }
  if (result.postgresTransactions !== undefined) {
    const counted = (s['transaction control'] ?? 0) / 2 + (s['change-sequence check'] ?? 0) + otherInRequest + otherBackground;
    lines.push(
      `  cross-check: pg_stat_database counted ${result.postgresTransactions} transactions in the database; ` +
        `the probe accounts for ${counted} (request log transactions + change-sequence checks + other statements, each of which runs alone).`,
      '  PostgreSQL also counts the transactions of autovacuum and autoanalyze on this database, so its count can be a few higher.',
    );
  }
  return lines;
}

interface Report {
  started: Date;
  loadAtStart: string;
  loadAtEnd: string;
  postgresVersion: string;
  rounds: RoundResult[];
  keyring: SteadyState;
  kms: SteadyState;
  memory: MemoryResult;
  /** Outcome of the pg_stat_statements check: the reason it is unavailable, or that it is available. */
  pgStatStatements: string;
  logBytes: number;
  logLines: number;
  logProblems: string[];
  metricsScrapes: MetricsScrapes;
  profile: string | undefined;
}

function formatReport(report: Report): string {
  const { rounds } = report;
  type PerTarget = (round: RoundResult) => Record<ChatTarget['label'], number>;
  const added = (metric: PerTarget, label: 'bare' | 'gateway') => rounds.map((round) => metric(round)[label] - metric(round).direct);
  const addedP50 = added((round) => round.latencyP50, 'gateway');
  const addedP99 = added((round) => round.latencyP99, 'gateway');
  const addedFirstByteP50 = added((round) => round.firstByteP50, 'gateway');
  const addedFirstByteP99 = added((round) => round.firstByteP99, 'gateway');
  const bareAddedP50 = added((round) => round.latencyP50, 'bare');
  const bareAddedP99 = added((round) => round.latencyP99, 'bare');
  const bareAddedFirstByteP50 = added((round) => round.firstByteP50, 'bare');
  const bareAddedFirstByteP99 = added((round) => round.firstByteP99, 'bare');
  const gatewayCpu = rounds.map((round) => round.gatewayCpuPerRequestUs);
  const bareCpu = rounds.map((round) => round.bareCpuPerRequestUs);
  // Both differences of one round subtract the same direct p50, so this is gateway p50 minus bare proxy p50 of that round.
  const addedP50BeyondBare = rounds.map((round) => round.latencyP50.gateway - round.latencyP50.bare);
  const cpuRatioToBare = rounds.map((round) => round.gatewayCpuPerRequestUs / round.bareCpuPerRequestUs);
  const rps = (label: ChatTarget['label']) => rounds.map((round) => round.requestsPerSecond[label]);
  const rpsRatio = (label: 'bare' | 'gateway') => `${label}/direct ${median(rounds.map((r) => r.requestsPerSecond[label] / r.requestsPerSecond.direct)).toFixed(2)}`;
  const side = (metric: PerTarget, label: ChatTarget['label']) => formatMs(median(rounds.map((round) => metric(round)[label])));
  const sides = (metric: PerTarget) => [side(metric, 'direct'), side(metric, 'bare'), side(metric, 'gateway')];
  const us = (value: number) => `${value.toFixed(0)} µs`;
  const count = (value: number) => value.toFixed(0);
  const ratio = (value: number) => value.toFixed(2);

  const keyringOther = Object.values(report.keyring.otherStatements).reduce((sum, entry) => sum + entry.inRequest, 0);
  const keyringKeyCalls = Object.values(report.keyring.keyBackendCalls).reduce((sum, value) => sum + value, 0);
  const kmsOther = Object.values(report.kms.otherStatements).reduce((sum, entry) => sum + entry.inRequest, 0);
  const kmsCalls = Object.values(report.kms.kmsRequests ?? {}).reduce((sum, value) => sum + value, 0);
  const zero = (value: number) => (value === 0 ? 'met' : 'MISSED');

  // Targets and results apply to the gateway.
  const rows = [
    ['measurement', 'direct', 'bare proxy', 'gateway', 'added by the bare proxy', 'added by the gateway', 'target', 'result'],
    ['chat completion latency p50, 1 connection', ...sides((r) => r.latencyP50), spread(bareAddedP50, formatMs), spread(addedP50, formatMs), `< ${targets.addedLatencyP50Ms} ms`, verdict(median(addedP50), targets.addedLatencyP50Ms)],
    ['chat completion latency p99, 1 connection', ...sides((r) => r.latencyP99), spread(bareAddedP99, formatMs), spread(addedP99, formatMs), `< ${targets.addedLatencyP99Ms} ms`, verdict(median(addedP99), targets.addedLatencyP99Ms)],
    ['stream time to first byte p50, 1 connection', ...sides((r) => r.firstByteP50), spread(bareAddedFirstByteP50, formatMs), spread(addedFirstByteP50, formatMs), `< ${targets.addedTimeToFirstByteMs} ms`, verdict(median(addedFirstByteP50), targets.addedTimeToFirstByteMs)],
    ['stream time to first byte p99, 1 connection', ...sides((r) => r.firstByteP99), spread(bareAddedFirstByteP99, formatMs), spread(addedFirstByteP99, formatMs), '', ''],
    ['requests per second, 16 connections', spread(rps('direct'), count), spread(rps('bare'), count), spread(rps('gateway'), count), rpsRatio('bare'), rpsRatio('gateway'), '', ''],
    ['CPU per request of the proxy process, 16 connections', '', spread(bareCpu, us), spread(gatewayCpu, us), '', '', `< ${targets.gatewayCpuPerRequestUs} µs`, verdict(median(gatewayCpu), targets.gatewayCpuPerRequestUs)],
    ['PostgreSQL CPU per request, bench database backends', '', '', spread(rounds.map((r) => r.postgresBenchCpuPerRequestUs), us), '', '', '', ''],
    ['PostgreSQL CPU per request, all postgres processes', '', '', spread(rounds.map((r) => r.postgresAllCpuPerRequestUs), us), '', '', '', ''],
    ['gateway RSS idle / max with 16 slow streams / 3 s after', '', '', `${formatMegabytes(report.memory.idleRssBytes)} / ${formatMegabytes(report.memory.maxRssBytes)} / ${formatMegabytes(report.memory.afterRssBytes)}`, '', '', '', ''],
    ['gateway JS heap used / external, idle and max with slow streams', '', '', `${formatMegabytes(report.memory.idleHeapUsedBytes)} / ${formatMegabytes(report.memory.idleExternalBytes)} -> ${formatMegabytes(report.memory.maxHeapUsedBytes)} / ${formatMegabytes(report.memory.maxExternalBytes)}`, '', '', '', ''],
    ['SQL statements per request besides request log (keyring)', '', '', (keyringOther / report.keyring.requests).toFixed(4), '', '', '0', zero(keyringOther)],
    ['key backend calls per request (keyring)', '', '', (keyringKeyCalls / report.keyring.requests).toFixed(4), '', '', '0', zero(keyringKeyCalls)],
    ['SQL statements per request besides request log (KMS)', '', '', (kmsOther / report.kms.requests).toFixed(4), '', '', '0', zero(kmsOther)],
    ['KMS calls per request (fake KMS)', '', '', (kmsCalls / report.kms.requests).toFixed(4), '', '', '0', zero(kmsCalls)],
  ];

  const beyondBareRows = [
    ['gateway CPU per request / bare proxy CPU per request, 16 connections', spread(cpuRatioToBare, ratio)],
    ['gateway added p50 minus bare proxy added p50, 1 connection', spread(addedP50BeyondBare, formatMs)],
  ];

  const roundRows = [
    [
      'round',
      'order',
      'load1',
      'p50 d/b/g ms',
      'p99 d/b/g ms',
      'TTFB p50 d/b/g ms',
      'TTFB p99 d/b/g ms',
      'req/s d/b/g',
      'CPU/req b/g',
      'PG CPU/req bench/all',
      'gateway GC pauses (>= 1 ms) / total / max, minor',
      'slowest 1%: gc/log/both/neither',
      'request-log writes / p50 / max ms',
    ],
    ...rounds.map((round, index) => [
      String(index + 1),
      round.order.map((label) => label[0]).join(' '),
      round.load1.toFixed(2),
      formatPerTarget(round.latencyP50, 3),
      formatPerTarget(round.latencyP99, 3),
      formatPerTarget(round.firstByteP50, 3),
      formatPerTarget(round.firstByteP99, 3),
      formatPerTarget(round.requestsPerSecond, 0),
      `${us(round.bareCpuPerRequestUs)}/${us(round.gatewayCpuPerRequestUs)}`,
      `${us(round.postgresBenchCpuPerRequestUs)}/${us(round.postgresAllCpuPerRequestUs)}`,
      formatGcPauses(round.gatewayGcPauses),
      formatSlowestOverlap(round.gatewaySlowest),
      `${round.gatewayRequestLogWrites.count} / ${round.gatewayRequestLogWrites.medianMs.toFixed(1)} / ${round.gatewayRequestLogWrites.maxMs.toFixed(1)}`,
    ]),
  ];

  const resultColumn = rows[0]!.indexOf('result');
  const missed = rows.slice(1).filter((row) => row[resultColumn] === 'MISSED').map((row) => row[0]!);
  const memory = report.memory;
  const lines = [
    ...reportHeader({ title: 'Keyroute proxy benchmark', ...report }),
    `${rounds.length} rounds; the order of direct, bare proxy and gateway rotates by one place per round. Figures are medians over the rounds, with [min to max] where given.`,
    'The bare proxy is a floor for the cost of Node\'s HTTP server plus undici on this machine in this run, not a competitor (see Method).',
    '',
    ...table(rows),
    '',
    missed.length === 0 ? 'All targets met.' : `Targets MISSED: ${missed.join('; ')}.`,
    '',
    'What the gateway costs beyond the bare proxy, per round (median [min to max] of rounds):',
    ...table(beyondBareRows).map((line) => `  ${line}`),
    '',
    'Per round (d = direct to the fake upstream, b = through the bare proxy, g = through the gateway; order is the order of measurement):',
    ...table(roundRows),
    '',
    'Method',
    `- Gateway: node ${gatewayNodeOptions.map((option) => `${option} `).join('')}--import tsx src/main.ts on PostgreSQL (a fresh database), NODE_ENV=production, keyring key backend, request log at its defaults (batch 500, flush every 1 s),`,
    ...(Object.keys(gatewayEnvironmentOverrides).length > 0
      ? [`  with these settings changed by --gateway-env: ${Object.entries(gatewayEnvironmentOverrides).map(([name, value]) => `${name}=${value}`).join(', ')}.`]
      : []),
    `  LOG_LEVEL=info written to a file (${report.logLines} lines, ${formatMegabytes(report.logBytes)} by the end). Metrics on: GET /metrics with METRICS_BEARER_TOKEN,`,
    `  scraped once per second from start to the end of the memory phase: ${report.metricsScrapes.ok} scrapes of about ${(report.metricsScrapes.lastBytes / 1024).toFixed(0)} KiB,` +
      ` ${report.metricsScrapes.failed.length} failed${report.metricsScrapes.failed.length > 0 ? ` (${report.metricsScrapes.failed.slice(0, 3).join('; ')})` : ''}.`,
    '- Bare proxy: node --import tsx bench/proxy-bench/bare-proxy.ts, a process of its own without the gateway\'s Node flags and settings. A node:http server that reads the body,',
    '  parses it, strips `openai/` from the model, serializes it and sends it to the fake with the OpenAI key over one undici Pool (request API, default keep-alive);',
    '  it returns a complete body with the upstream status and content type, and pipes a stream as text/event-stream. No auth check, logs, metrics or database.',
    '- Upstream: a separate fake process with zero delay that checks the Bearer credential; direct calls go to the same fake with the OpenAI key, gateway calls with the gateway key,',
    '  bare proxy calls with no credential.',
    `- Warm-up before the first round, per target: ${initialWarmUp.completions} sequential completions, ${initialWarmUp.streams} streams, ${initialWarmUp.closedLoopMs / 1000} s on ${throughput.connections} connections.`,
    `- Latency: ${latency.requests} sequential non-streamed chat completions per target and round on 1 kept-alive connection (undici Pool) after ${latency.warmUpRequests} of warm-up;`,
    '  time from the request to the end of the response body; "added" is the bare proxy or gateway percentile minus the direct percentile of the same round.',
    '  The gateway\'s GC pauses in that series (warm-up included) come from a PerformanceObserver of `gc` entries in the probe.',
    `  "slowest 1%" takes the gateway's samples at or above its p99 (at least ${latency.requests - Math.ceil(0.99 * latency.requests) + 1} of ${latency.requests}) and counts those whose time overlapped only a GC pause, only a request-log write,`,
    '  both, or neither. The probe times each request-log write from pg.Client#query to the settling of its promise; the writes column counts those that overlapped the series.',
    `- Time to first byte: ${timeToFirstByte.requests} streams (stream: true, include_usage, ${timeToFirstByte.deltaCount} deltas) per target and round on 1 connection, after ${timeToFirstByte.warmUpRequests} of warm-up;`,
    '  time from the request to the first body byte, which carries the first event.',
    `- Throughput: ${throughput.connections} connections in a closed loop for ${throughput.durationMs / 1000} s (at most ${throughput.maxRequests} requests) after ${throughput.warmUpRequests} of warm-up.`,
    `  CPU is utime+stime from /proc/<pid>/stat, read before the loop and, for the gateway, ${requestLogFlushWaitMs} ms after it, so that the request log flush of the last entries counts;`,
    '  the bare proxy, which has nothing to flush, is read right after its loop. Both readings count every thread of the process, including the one that runs tsx\'s module hooks.',
    '  "bench database backends" are the PostgreSQL backends connected to the bench database (pg_stat_activity); "all postgres processes" includes other users of the shared server.',
    `- Memory: VmRSS of the gateway, idle and every ${slowReaders.sampleIntervalMs} ms while ${slowReaders.clients} clients on their own connections read streams of ${slowReaders.deltaCount} deltas,`,
    `  each taking whatever its response stream has buffered once every ${slowReaders.readIntervalMs} ms, for ${slowReaders.durationMs / 1000} s; then the clients disconnect.`,
    `  RSS right after start was ${formatMegabytes(memory.startRssBytes)}; the idle reading comes after all rounds. JS heap and external memory are process.memoryUsage() from the probe.`,
    `  JS heap used after a full garbage collection: ${formatMegabytes(memory.startLiveHeapBytes)} right after start, ${formatMegabytes(memory.idleLiveHeapBytes)} after the rounds and the steady-state phase.`,
    `  ${memory.streaming} of ${slowReaders.clients} streams started; clients read ${formatMegabytes(memory.clientBytesRead)} ` +
      `(${(memory.clientBytesRead / slowReaders.clients / (slowReaders.durationMs / 1000) / 1024).toFixed(0)} KiB/s each), the upstream wrote ${formatMegabytes(memory.upstreamBytesWritten)} and waited for 'drain' ${memory.upstreamBackpressureWaits} times.` +
      (memory.errors.length > 0 ? ` Client errors: ${memory.errors.slice(0, 5).join('; ')}` : ''),
    '- SQL statements and key backend calls: bench/proxy-bench/gateway-probe.ts, preloaded into the gateway, counts every statement sent through pg.Client#query by kind,',
    '  and whether it was sent inside the async context of an HTTP request. KMS calls are the requests that the fake KMS server received during the window.',
    `  pg_stat_statements: ${report.pgStatStatements}. pg_stat_database transaction counts of the bench database serve as a cross-check.`,
    '',
    ...describeSteadyState('Keyring gateway', report.keyring),
    ...describeSteadyState('AWS KMS gateway (fake KMS on 127.0.0.1)', report.kms),
  ];
  lines.push(...logProblemLines(report.logProblems));
  if (report.profile) lines.push('', 'CPU profile of one extra round against a gateway started with --cpu-prof:', report.profile);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  gatewayNodeOptions = options.gatewayNodeOptions;
  gatewayEnvironmentOverrides = options.gatewayEnvironment;
  const started = new Date();
  const loadAtStart = formatLoad();
  const adminUrl = localAdminUrl('because its CPU time is read from /proc');

  const temporaryDirectory = await run.createTemporaryDirectory('keyroute-proxy-bench-');
  const { admin, postgresVersion } = await run.connectAdmin(adminUrl);

  const openAiKey = `sk-proj-${randomBytes(24).toString('hex')}`;
  progress('Starting the fake upstream...');
  const fake = await startFakeUpstream(children, { openAi: openAiKey });
  const direct: ChatTarget = {
    label: 'direct',
    origin: fake.origin,
    headers: { authorization: `Bearer ${openAiKey}`, 'content-type': 'application/json' },
    model: 'gpt-4o',
  };
  const wrongKey = await fetch(`${fake.origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-proj-wrong', 'content-type': 'application/json' },
    body: completionBody(direct),
  });
  await wrongKey.arrayBuffer();
  if (wrongKey.status !== 401) throw new Error(`The fake upstream accepted a wrong credential (status ${wrongKey.status})`);

  progress('Starting the bare proxy...');
  const bareProxy = await startBareProxy(children, { upstreamOrigin: fake.origin, apiKey: openAiKey });
  const viaBareProxy: ChatTarget = {
    label: 'bare',
    origin: bareProxy.origin,
    headers: { 'content-type': 'application/json' },
    model: 'openai/gpt-4o',
  };

  // Keyring gateway: every measurement except the KMS calls.
  const keyringDatabase = await createBenchDatabase(admin, adminUrl, cleanups);
  const keyringEnvironment = {
    ...gatewayEnvironment(keyringDatabase.url, [`https://api.openai.com=${fake.origin}`]),
    METRICS_BEARER_TOKEN: metricsToken,
    ...options.gatewayEnvironment,
  };
  progress(`Creating the tenant in ${keyringDatabase.name} with the CLI...`);
  const keyringTenant = await createOrganizationWithToken(children, keyringEnvironment, 'proxy bench');
  const pgStatStatements = await checkPgStatStatements(keyringDatabase.url);
  progress('Starting the gateway...');
  const logPath = path.join(temporaryDirectory, 'gateway.log');
  const gateway = await startGateway({ environment: keyringEnvironment, logPath });
  const metricsScraper = startMetricsScraper(gateway);
  const gatewaySecret = await createKeys(gateway, keyringTenant.token, { OPENAI: openAiKey });
  const viaGateway = gatewayTarget(gateway, gatewaySecret);
  const atStart = {
    rssBytes: (await readRssBytes(gateway.pid)) ?? Number.NaN,
    liveHeapBytes: (await gateway.readCounters({ collectGarbage: true })).memory.heapUsed,
  };
  const rejectedBefore = (await fake.readStats()).rejectedCredentials;

  progress('Warming up the three targets...');
  const roundTargets = [direct, viaBareProxy, viaGateway];
  await warmUpTargets(roundTargets);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    progress(`Round ${round} of ${options.rounds} (load average ${formatLoad()})...`);
    const result = await runRound(round, roundTargets, { gateway, bareProxy }, admin, keyringDatabase.name);
    rounds.push(result);
    progress(
      `  direct/bare/gateway: p50 ${formatPerTarget(result.latencyP50, 3)} ms, p99 ${formatPerTarget(result.latencyP99, 3)} ms, ` +
        `TTFB p50 ${formatPerTarget(result.firstByteP50, 3)} ms, ${formatPerTarget(result.requestsPerSecond, 0)} req/s, ` +
        `bare ${result.bareCpuPerRequestUs.toFixed(0)} µs and gateway ${result.gatewayCpuPerRequestUs.toFixed(0)} µs CPU per request, ` +
        `GC pauses ${formatGcPauses(result.gatewayGcPauses)}, time in the gateway p50/p99/max ` +
        `${result.gatewayServerTimeMs.p50.toFixed(3)}/${result.gatewayServerTimeMs.p99.toFixed(3)}/${result.gatewayServerTimeMs.max.toFixed(3)} ms`,
    );
  }
  await children.stop(bareProxy.child);
  if ((await fake.readStats()).rejectedCredentials !== rejectedBefore) throw new Error('The fake upstream rejected a credential that the gateway or the bare proxy sent');

  progress('Counting SQL statements and key backend calls at steady state (waits for PostgreSQL statistics)...');
  const keyring = await measureSteadyState(viaGateway, gateway, { admin: { client: admin, database: keyringDatabase.name } });
  progress('Measuring RSS with slow-reading streaming clients...');
  const memory = await measureSlowReaderMemory(viaGateway, gateway, fake, atStart);
  const metricsScrapes = await metricsScraper.stop();
  await children.stop(gateway.child);
  const log = await summarizeLog(logPath);

  // AWS KMS gateway against the fake KMS, on a database of its own.
  progress('Starting the fake KMS and a gateway that uses it...');
  const kms = await FakeKmsServer.start({ keys: [{ aliases: ['alias/keyroute-bench'] }] });
  cleanups.push(() => kms.close());
  const kmsDatabase = await createBenchDatabase(admin, adminUrl, cleanups);
  const kmsEnvironment = {
    ...keyringEnvironment,
    DATABASE_URL: kmsDatabase.url,
    KEYRING_KEYS: '',
    KMS_KEY_ID: 'alias/keyroute-bench',
    KMS_REGION: FAKE_KMS_REGION,
    KMS_ENDPOINT: kms.endpoint,
    AWS_ACCESS_KEY_ID: FAKE_KMS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_KMS_CREDENTIALS.secretAccessKey,
  };
  const kmsTenant = await createOrganizationWithToken(children, kmsEnvironment, 'proxy bench');
  const kmsGateway = await startGateway({ environment: kmsEnvironment, logPath: path.join(temporaryDirectory, 'gateway-kms.log') });
  const kmsSecret = await createKeys(kmsGateway, kmsTenant.token, { OPENAI: openAiKey });
  const viaKmsGateway = gatewayTarget(kmsGateway, kmsSecret);
  const warmUpPool = openPool(viaKmsGateway, steadyState.connections);
  await closedLoop(steadyState.connections, seriesTimeoutMs, 500, () => sendCompletion(warmUpPool, viaKmsGateway, completionBody(viaKmsGateway)));
  await warmUpPool.close();
  const kmsResult = await measureSteadyState(viaKmsGateway, kmsGateway, { kms });
  await children.stop(kmsGateway.child);

  let profile: string | undefined;
  if (options.profile) {
    progress('Profiling one more round with node --cpu-prof...');
    try {
      profile = await profileGateway(keyringEnvironment, gatewaySecret, temporaryDirectory, options.profileOutput);
    } catch (error) {
      profile = `The profile failed: ${(error as Error).message}`;
    }
  }

  const report: Report = {
    started,
    loadAtStart,
    loadAtEnd: formatLoad(),
    postgresVersion,
    rounds,
    keyring,
    kms: kmsResult,
    memory,
    pgStatStatements,
    logBytes: log.bytes,
    logLines: log.lines,
    logProblems: log.problems,
    metricsScrapes,
    profile,
  };
  process.stdout.write(`${formatReport(report)}\n`);
}

await run.run(main);
