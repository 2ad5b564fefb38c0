import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrations.js';
import { createLogger } from '../src/logger.js';
import type { RequestLogEntry } from '../src/proxy/request-log/request-log-entry.js';
import { RequestLogWriter } from '../src/proxy/request-log/request-log-writer.js';

// Rows per second that RequestLogWriter writes to PostgreSQL, the cost of one enqueue() call, and
// the writer's CPU time per row, for 100,000 entries per batch size. The entries are built before
// timing starts, so the enqueue figure is the writer's own cost. The CPU figure is the process CPU
// time (user and system, all threads) from the first enqueue() until the last row is written, minus
// the time spent in enqueue(), per row written. It covers building the statements, the pg driver's
// serialization, socket I/O and result parsing, and any usage rollup work in the process. It also
// covers garbage collection, which includes marking the 100,000 live entries, but not the
// PostgreSQL server. Two patterns per batch size:
//   burst:       all entries enqueued in one synchronous loop, then written;
//   interleaved: 1,000 entries per event loop turn, so that flushes run between the calls.
// A third run per batch size repeats the burst pattern and measures the maximum event loop block
// of each flush, which is the longest synchronous stretch of the writer and the pg driver. It
// prints the median and the maximum over the flushes. It is a separate run, because its probe keeps
// the event loop busy and would count as CPU time.
// The bench creates its own database on the server of DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), runs the migrations, and drops the database at the end.
// Usage: npx tsx bench/request-log.bench.ts

const ENTRY_COUNT = 100_000;
const CHUNK_SIZE = 1_000;
const BATCH_SIZES = [100, 500, 2_000];

const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseName = `keyroute_bench_${randomBytes(4).toString('hex')}`;

async function withAdminClient(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

interface Keys {
  organizationId: string;
  gatewayKeyIds: string[];
  providerKeyIds: string[];
}

/** Creates one organization with 10 gateway keys and 5 provider keys, so that each flush touches several keys. */
async function seed(handle: DatabaseHandle): Promise<Keys> {
  const { db } = handle;
  const organization = await db.insertInto('organizations').values({ name: 'bench' }).returning('id').executeTakeFirstOrThrow();
  const gatewayKeyIds = Array.from({ length: 10 }, () => randomUUID());
  await db
    .insertInto('gateway_keys')
    .values(
      gatewayKeyIds.map((id, index) => ({
        id,
        organization_id: organization.id,
        name: `key ${index}`,
        display_prefix: 'kr_bench',
        secret_hash: randomBytes(32),
      })),
    )
    .execute();
  const providerKeyIds = Array.from({ length: 5 }, () => randomUUID());
  await db
    .insertInto('provider_keys')
    .values(
      providerKeyIds.map((id, index) => ({
        id,
        organization_id: organization.id,
        provider: 'ANTHROPIC',
        name: `provider key ${index}`,
        credentials_kind: 'API_KEY',
        credentials_envelope: randomBytes(64),
        masked_credentials: '{}',
        settings: '{}',
      })),
    )
    .execute();
  return { organizationId: organization.id, gatewayKeyIds, providerKeyIds };
}

function makeEntries(keys: Keys): RequestLogEntry[] {
  return Array.from({ length: ENTRY_COUNT }, (_, index) => ({
    id: randomUUID(),
    occurredAt: new Date(),
    organizationId: keys.organizationId,
    gatewayKeyId: keys.gatewayKeyIds[index % keys.gatewayKeyIds.length]!,
    providerKeyId: keys.providerKeyIds[index % keys.providerKeyIds.length]!,
    credentialSource: 'ORGANIZATION',
    provider: 'ANTHROPIC',
    model: 'claude-sonnet-4-5',
    region: null,
    stream: index % 2 === 0,
    status: 200,
    errorCode: null,
    latencyMs: 800 + (index % 400),
    ttfbMs: 200 + (index % 100),
    upstreamLatencyMs: 780 + (index % 400),
    inputUncachedTokens: 1_200,
    cacheReadTokens: 4_000,
    cacheWriteTokens: 0,
    outputTokens: 350,
    reasoningTokens: null,
    rawUsage: { input_tokens: 1_200, cache_read_input_tokens: 4_000, cache_creation_input_tokens: 0, output_tokens: 350 },
    costMicroUsd: 10_050,
    priceTableVersion: '2026-12-01',
    tags: ['bench', `shard-${index % 8}`],
    requestId: `req_${randomBytes(8).toString('hex')}`,
    clientRequestId: null,
    upstreamRequestId: `msg_${randomBytes(8).toString('hex')}`,
  }));
}

/**
 * Waits until every queued entry is written. flush() resolves when the writer's drain loop stops,
 * which is when the queue is empty or an attempt failed. Waiting on it rather than polling
 * `stats` on a timer keeps timer wake-ups out of the CPU figure.
 */
async function waitUntilWritten(writer: RequestLogWriter): Promise<void> {
  while (writer.stats.queued > 0) {
    await writer.flush();
    if (writer.stats.queued > 0) await sleep(50);
  }
}

/** The maximum event loop block of each flush, as wall-clock time and as process CPU time, over all flushes. */
interface BlockFigures {
  medianWallMs: number;
  maxWallMs: number;
  medianCpuMs: number;
  maxCpuMs: number;
}

/**
 * Starts measuring the gaps between consecutive turns of the event loop. A setImmediate callback
 * runs once per turn, so a gap between two of them is the synchronous stretch of the turn in
 * between. A flush ends when `flushCount()` has grown, and the maximum gap of each flush is kept.
 * The wall-clock figure also counts time the process spent descheduled on a busy machine, and the
 * CPU figure (process.cpuUsage, all threads) does not, but it counts garbage collection helper
 * threads. The returned function stops the probe.
 */
function startBlockProbe(flushCount: () => number): () => BlockFigures {
  const wallPerFlushMs: number[] = [];
  const cpuPerFlushMs: number[] = [];
  let flushMaxWallMs = 0;
  let flushMaxCpuMs = 0;
  let flushes = flushCount();
  let stopped = false;
  let lastWall = performance.now();
  let lastCpu = process.cpuUsage();
  const tick = () => {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    flushMaxWallMs = Math.max(flushMaxWallMs, wall - lastWall);
    flushMaxCpuMs = Math.max(flushMaxCpuMs, (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1_000);
    lastWall = wall;
    lastCpu = cpu;
    if (flushCount() !== flushes) {
      flushes = flushCount();
      wallPerFlushMs.push(flushMaxWallMs);
      cpuPerFlushMs.push(flushMaxCpuMs);
      flushMaxWallMs = 0;
      flushMaxCpuMs = 0;
    }
    if (!stopped) setImmediate(tick);
  };
  setImmediate(tick);

  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return () => {
    stopped = true;
    return {
      medianWallMs: median(wallPerFlushMs),
      maxWallMs: Math.max(0, ...wallPerFlushMs),
      medianCpuMs: median(cpuPerFlushMs),
      maxCpuMs: Math.max(0, ...cpuPerFlushMs),
    };
  };
}

async function run(handle: DatabaseHandle, keys: Keys, batchSize: number, pattern: 'burst' | 'interleaved' | 'block'): Promise<void> {
  await sql`truncate request_logs`.execute(handle.db);
  const entries = makeEntries(keys);
  const writer = new RequestLogWriter({
    db: handle.db,
    logger: createLogger({ level: 'warn', destination: pino.destination(2) }),
    config: { queueMaxEntries: ENTRY_COUNT, batchSize, flushIntervalMs: 100, stopTimeoutMs: 60_000 },
  });
  await writer.start();

  let enqueueMs = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let offset = 0; offset < entries.length; offset += CHUNK_SIZE) {
    const chunkStarted = performance.now();
    for (let index = offset; index < offset + CHUNK_SIZE; index += 1) writer.enqueue(entries[index]!);
    enqueueMs += performance.now() - chunkStarted;
    if (pattern === 'interleaved') await nextTurn();
  }
  const stopProbe = pattern === 'block' ? startBlockProbe(() => writer.stats.flushes) : undefined;
  await waitUntilWritten(writer);
  const block = stopProbe?.();
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await writer.stop();

  const { written, dropped, flushes } = writer.stats;
  const figures =
    block === undefined
      ? `${Math.round(written / (totalMs / 1_000)).toString().padStart(7)} rows/s  ` +
        `enqueue ${((enqueueMs * 1_000) / entries.length).toFixed(3)} µs  ` +
        `writer CPU ${((cpu.user + cpu.system - enqueueMs * 1_000) / written).toFixed(2)} µs/row`
      : `longest block per flush, median/max: wall ${block.medianWallMs.toFixed(2)}/${block.maxWallMs.toFixed(2)} ms, ` +
        `CPU ${block.medianCpuMs.toFixed(2)}/${block.maxCpuMs.toFixed(2)} ms`;
  console.log(
    `batch ${String(batchSize).padStart(5)}  ${pattern.padEnd(11)}  ${figures}  ` +
      `(${written} written, ${dropped} dropped, ${flushes} flushes, ${Math.round(totalMs)} ms)`,
  );
}

/**
 * Measures the heap growth per entry while 100,000 entries are held in memory, as an estimate of
 * queue memory. Garbage collection runs before each reading, so that earlier garbage does not count.
 */
function estimateEntryBytes(keys: Keys): number {
  // Makes gc() available without starting Node with --expose-gc.
  v8.setFlagsFromString('--expose-gc');
  const collectGarbage = vm.runInNewContext('gc') as () => void;

  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const entries = makeEntries(keys);
  collectGarbage();
  const bytes = (process.memoryUsage().heapUsed - before) / entries.length;
  entries.length = 0;
  return bytes;
}

await withAdminClient((client) => client.query(`create database ${databaseName}`));
const url = new URL(serverUrl);
url.pathname = `/${databaseName}`;
let handle: DatabaseHandle | undefined;
try {
  handle = await openDatabase({ url: url.toString(), dataDirectory: '', poolMax: 10, connectTimeoutMs: 5_000, migrateOnStart: true });
  await migrateToLatest(handle.db);
  const keys = await seed(handle);
  const version = await sql<{ server_version: string }>`show server_version`.execute(handle.db);

  console.log(`Node ${process.version}, PostgreSQL ${version.rows[0]!.server_version}, ${ENTRY_COUNT} entries per run`);
  for (const batchSize of BATCH_SIZES) {
    for (const pattern of ['burst', 'interleaved', 'block'] as const) await run(handle, keys, batchSize, pattern);
  }
  console.log(`heap per queued entry: about ${Math.round(estimateEntryBytes(keys))} bytes`);
} finally {
  await handle?.close();
  await withAdminClient((client) => client.query(`drop database if exists ${databaseName} with (force)`));
}
