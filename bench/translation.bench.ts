/**
 * Translation benchmark: what a cross-format stream costs the gateway beside a same-format one.
 * Four ways through the gateway, each a stream with `max_tokens` content deltas:
 *
 *   - OpenAI client to an OpenAI model (same format), and to a Claude model (translated);
 *   - Anthropic client to a Claude model (same format), and to an OpenAI model (translated).
 *
 * Setup: a fresh database `keyroute_bench_<random>` on the PostgreSQL server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), which must run on this machine. An
 * organization and a management token come from the CLI; a gateway key and organization-wide
 * OpenAI and Anthropic provider keys come from the GraphQL API. The gateway runs as a child process,
 * `node --import tsx src/main.ts`, with NODE_ENV=production, a keyring key backend, the request log
 * at its defaults and LOG_LEVEL=info written to a file. Both upstream origins lead to
 * bench/proxy-bench/fake-openai-upstream.ts, a separate process with zero delay that serves chat
 * completions and Anthropic messages and checks each provider's credential.
 *
 * Measured in rounds that alternate the order of the ways, reported as the median over the rounds:
 *   - time to first byte: sequential streams of 8 deltas on 1 kept-alive connection, p50 and p99,
 *     through the gateway and directly to the fake in the upstream's format. "added" is the gateway
 *     percentile minus the direct one of the same upstream format and round.
 *   - gateway CPU (utime+stime of its process, from /proc) per stream while 8 connections stream in
 *     a closed loop, with streams of 8 and of 200 deltas. The CPU per chunk is the difference
 *     between the two divided by the 192 extra deltas, so per-request work (authentication, the log
 *     row) drops out.
 *
 * Every process it starts is stopped by its PID, and the database and the temporary directory are
 * removed, also after a failure or Ctrl-C. Every load loop is bounded in count and time.
 *
 * Usage: npx tsx bench/translation.bench.ts [--rounds N]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Pool } from 'undici';
import { BenchRun, formatLoad, localAdminUrl, logProblemLines, parseRounds, progress, reportHeader, table } from './proxy-bench/bench-run.js';
import { deltaText } from './proxy-bench/fake-openai-upstream.js';
import {
  createBenchDatabase,
  createKeys,
  createOrganizationWithToken,
  gatewayEnvironment,
  startFakeUpstream,
  startGateway,
  summarizeLog,
  type GatewayProcess,
} from './proxy-bench/gateway-process.js';
import { closedLoop, median, openKeptAlivePool, percentile, sequentialSamples } from './proxy-bench/load.js';
import { readProcessCpuMs } from './proxy-bench/system.js';

const timeToFirstByte = { warmUpRequests: 100, requests: 1_000, deltaCount: 8 };
const cpu = { connections: 8, warmUpRequests: 100, durationMs: 4_000, maxRequests: 100_000, shortDeltas: 8, longDeltas: 200 };
const initialWarmUp = { streams: 1_000, closedLoopMs: 3_000 };
/** REQUEST_LOG_FLUSH_INTERVAL_MS at its default, and a margin for the flush itself. */
const requestLogFlushWaitMs = 1_000 + 500;
/** Maximum duration of one series of requests, such as one time-to-first-byte series or one warm-up. */
const seriesTimeoutMs = 120_000;

const targets = { addedTimeToFirstByteForTranslationMs: 0.5 } as const;

type Format = 'openai' | 'anthropic';

/** One way of streaming through the gateway. */
interface Way {
  label: string;
  client: Format;
  upstream: Format;
  /** The model as the client names it. */
  model: string;
}

const ways: Way[] = [
  { label: 'OpenAI client -> OpenAI (same format)', client: 'openai', upstream: 'openai', model: 'openai/gpt-4o' },
  { label: 'OpenAI client -> Anthropic (translated)', client: 'openai', upstream: 'anthropic', model: 'anthropic/claude-sonnet-4-5' },
  { label: 'Anthropic client -> Anthropic (same format)', client: 'anthropic', upstream: 'anthropic', model: 'anthropic/claude-sonnet-4-5' },
  { label: 'Anthropic client -> OpenAI (translated)', client: 'anthropic', upstream: 'openai', model: 'openai/gpt-4o' },
];

/** The destination of stream requests: the gateway or the fake, with the format and credential it takes. */
interface StreamTarget {
  label: string;
  origin: string;
  format: Format;
  headers: Record<string, string>;
  model: string;
}

const run = new BenchRun('bench/translation.bench.ts');
const { children, cleanups } = run;

function parseOptions(): { rounds: number } {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  return { rounds: parseRounds(values.rounds) };
}

// ---------------------------------------------------------------------------------------------
// Stream requests

const messages = [{ role: 'user', content: 'Hello' }];

function pathOf(format: Format): string {
  return format === 'openai' ? '/v1/chat/completions' : '/v1/messages';
}

function streamBody(target: StreamTarget, deltaCount: number): string {
  if (target.format === 'openai') {
    return JSON.stringify({ model: target.model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: deltaCount });
  }
  return JSON.stringify({ model: target.model, max_tokens: deltaCount, messages, stream: true });
}

/** True when the text is a whole stream of the format with at least one content delta. */
function isCompleteStream(format: Format, text: string): boolean {
  if (!text.includes(deltaText)) return false;
  return format === 'openai' ? text.endsWith('data: [DONE]\n\n') : text.trimEnd().endsWith('data: {"type":"message_stop"}');
}

function openStreamPool(target: StreamTarget, connections: number): Pool {
  return openKeptAlivePool(target.origin, connections);
}

/** Sends one stream request, reads it to the end, checks it and returns the time to the first body byte. */
async function sendStream(pool: Pool, target: StreamTarget, body: string): Promise<number> {
  const started = performance.now();
  const response = await pool.request({ path: pathOf(target.format), method: 'POST', headers: target.headers, body });
  let firstByteAt: number | undefined;
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    firstByteAt ??= performance.now();
    text += chunk.toString('utf8');
  }
  if (response.statusCode !== 200 || firstByteAt === undefined || !isCompleteStream(target.format, text)) {
    throw new Error(`${target.label}: expected status 200 and a whole ${target.format} stream, got ${response.statusCode}: ${text.slice(0, 300)}`);
  }
  return firstByteAt - started;
}

async function measureTimeToFirstByte(target: StreamTarget): Promise<number[]> {
  const pool = openStreamPool(target, 1);
  try {
    const body = streamBody(target, timeToFirstByte.deltaCount);
    await sequentialSamples(timeToFirstByte.warmUpRequests, seriesTimeoutMs, () => sendStream(pool, target, body));
    return await sequentialSamples(timeToFirstByte.requests, seriesTimeoutMs, () => sendStream(pool, target, body));
  } finally {
    await pool.close();
  }
}

/** Streams in a closed loop through the gateway and returns its CPU microseconds per stream. */
async function measureGatewayCpuPerStream(target: StreamTarget, gateway: GatewayProcess, deltaCount: number): Promise<number> {
  const pool = openStreamPool(target, cpu.connections);
  try {
    const body = streamBody(target, deltaCount);
    const send = () => sendStream(pool, target, body);
    await closedLoop(cpu.connections, seriesTimeoutMs, cpu.warmUpRequests, send);
    // Lets the request log write the warm-up's entries before the CPU reading starts.
    await sleep(requestLogFlushWaitMs);
    const before = await readGatewayCpuMs(gateway);
    const { requests } = await closedLoop(cpu.connections, cpu.durationMs, cpu.maxRequests, send);
    // The reading includes the request log flush of the last entries.
    await sleep(requestLogFlushWaitMs);
    const after = await readGatewayCpuMs(gateway);
    return ((after - before) * 1000) / requests;
  } finally {
    await pool.close();
  }
}

async function readGatewayCpuMs(gateway: GatewayProcess): Promise<number> {
  const cpuMs = await readProcessCpuMs(gateway.pid);
  if (cpuMs === undefined) throw new Error(`The gateway process ${gateway.pid} is gone`);
  return cpuMs;
}

// ---------------------------------------------------------------------------------------------
// Rounds

interface WayResult {
  firstByteP50: number;
  firstByteP99: number;
  /** Gateway p50 minus the direct p50 to the upstream's format in the same round. */
  addedFirstByteP50: number;
  addedFirstByteP99: number;
  cpuPerShortStreamUs: number;
  cpuPerLongStreamUs: number;
  /** CPU of the 192 extra deltas of a long stream, per delta. */
  cpuPerChunkUs: number;
}

interface RoundResult {
  load1: number;
  direct: Record<Format, { p50: number; p99: number }>;
  ways: WayResult[];
}

async function runRound(round: number, gatewayTargets: StreamTarget[], directTargets: Record<Format, StreamTarget>, gateway: GatewayProcess): Promise<RoundResult> {
  const load1 = loadavg()[0]!;
  const forward = round % 2 === 1;
  const wayOrder = forward ? ways.map((_, index) => index) : ways.map((_, index) => ways.length - 1 - index);
  const formatOrder: Format[] = forward ? ['openai', 'anthropic'] : ['anthropic', 'openai'];

  const direct = {} as RoundResult['direct'];
  const firstByte: { p50: number; p99: number }[] = [];
  // The direct series go first in odd rounds and last in even ones.
  if (forward) for (const format of formatOrder) direct[format] = await firstBytePercentiles(directTargets[format]);
  for (const index of wayOrder) firstByte[index] = await firstBytePercentiles(gatewayTargets[index]!);
  if (!forward) for (const format of formatOrder) direct[format] = await firstBytePercentiles(directTargets[format]);

  const cpuShort: number[] = [];
  const cpuLong: number[] = [];
  for (const index of wayOrder) {
    cpuShort[index] = await measureGatewayCpuPerStream(gatewayTargets[index]!, gateway, cpu.shortDeltas);
    cpuLong[index] = await measureGatewayCpuPerStream(gatewayTargets[index]!, gateway, cpu.longDeltas);
  }

  return {
    load1,
    direct,
    ways: ways.map((way, index) => ({
      firstByteP50: firstByte[index]!.p50,
      firstByteP99: firstByte[index]!.p99,
      addedFirstByteP50: firstByte[index]!.p50 - direct[way.upstream].p50,
      addedFirstByteP99: firstByte[index]!.p99 - direct[way.upstream].p99,
      cpuPerShortStreamUs: cpuShort[index]!,
      cpuPerLongStreamUs: cpuLong[index]!,
      cpuPerChunkUs: (cpuLong[index]! - cpuShort[index]!) / (cpu.longDeltas - cpu.shortDeltas),
    })),
  };
}

async function firstBytePercentiles(target: StreamTarget): Promise<{ p50: number; p99: number }> {
  const samples = await measureTimeToFirstByte(target);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

async function warmUp(targetsToWarm: StreamTarget[]): Promise<void> {
  for (const target of targetsToWarm) {
    const single = openStreamPool(target, 1);
    try {
      const body = streamBody(target, timeToFirstByte.deltaCount);
      await sequentialSamples(initialWarmUp.streams, seriesTimeoutMs, () => sendStream(single, target, body));
    } finally {
      await single.close();
    }
    const pool = openStreamPool(target, cpu.connections);
    try {
      const body = streamBody(target, cpu.longDeltas);
      await closedLoop(cpu.connections, initialWarmUp.closedLoopMs, cpu.maxRequests, () => sendStream(pool, target, body));
    } finally {
      await pool.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (value: number) => `${value.toFixed(3)} ms`;
const us = (value: number) => `${value.toFixed(1)} µs`;

/** Formats the median over the rounds, with the range when there is more than one round. */
function medianWithRange(values: number[], format: (value: number) => string): string {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = format(median(values));
  return sorted.length === 1 ? middle : `${middle} [${format(sorted[0]!)} to ${format(sorted.at(-1)!)}]`;
}

interface Report {
  started: Date;
  loadAtStart: string;
  loadAtEnd: string;
  postgresVersion: string;
  rounds: RoundResult[];
  logLines: number;
  logProblems: string[];
}

function formatReport(report: Report): string {
  const { rounds } = report;
  const of = (index: number, pick: (result: WayResult) => number) => rounds.map((round) => pick(round.ways[index]!));

  const rows = [
    ['way', 'TTFB p50', 'TTFB p99', 'added TTFB p50', 'added TTFB p99', 'gateway CPU per stream (8 deltas)', 'gateway CPU per chunk'],
    ...ways.map((way, index) => [
      way.label,
      medianWithRange(of(index, (result) => result.firstByteP50), ms),
      medianWithRange(of(index, (result) => result.firstByteP99), ms),
      medianWithRange(of(index, (result) => result.addedFirstByteP50), ms),
      medianWithRange(of(index, (result) => result.addedFirstByteP99), ms),
      medianWithRange(of(index, (result) => result.cpuPerShortStreamUs), us),
      medianWithRange(of(index, (result) => result.cpuPerChunkUs), us),
    ]),
  ];

  // Translated minus same-format, for the same client format, per round, then the median.
  const comparisons = (['openai', 'anthropic'] as const).map((client) => {
    const same = ways.findIndex((way) => way.client === client && way.upstream === client);
    const translated = ways.findIndex((way) => way.client === client && way.upstream !== client);
    const extraP50 = rounds.map((round) => round.ways[translated]!.addedFirstByteP50 - round.ways[same]!.addedFirstByteP50);
    const extraChunk = rounds.map((round) => round.ways[translated]!.cpuPerChunkUs - round.ways[same]!.cpuPerChunkUs);
    const met = median(extraP50) <= targets.addedTimeToFirstByteForTranslationMs;
    return [
      `${client === 'openai' ? 'OpenAI' : 'Anthropic'} clients`,
      medianWithRange(extraP50, ms),
      `<= ${targets.addedTimeToFirstByteForTranslationMs} ms`,
      met ? 'met' : 'MISSED',
      medianWithRange(extraChunk, us),
    ];
  });

  const roundRows = [
    ['round', 'order', 'load1', 'direct TTFB p50 openai/anthropic', ...ways.map((_, index) => `way ${index + 1} TTFB p50 / CPU per chunk`)],
    ...rounds.map((round, index) => [
      String(index + 1),
      index % 2 === 0 ? 'forward' : 'reverse',
      round.load1.toFixed(2),
      `${ms(round.direct.openai.p50)} / ${ms(round.direct.anthropic.p50)}`,
      ...round.ways.map((result) => `${ms(result.firstByteP50)} / ${us(result.cpuPerChunkUs)}`),
    ]),
  ];

  return [
    ...reportHeader({ title: 'Keyroute translation benchmark', ...report }),
    `${rounds.length} rounds; the order of the ways alternates per round. Figures are medians over the rounds, with [min to max].`,
    '',
    ...table(rows),
    '',
    'Translated minus same-format, for the same client format:',
    ...table([['clients', 'extra added TTFB p50', 'target', '', 'extra CPU per chunk'], ...comparisons]),
    '',
    'Per round (ways numbered as in the first table):',
    ...table(roundRows),
    '',
    'Method',
    '- Gateway: node --import tsx src/main.ts on PostgreSQL (a fresh database), NODE_ENV=production, keyring key backend, request log at its defaults,',
    `  LOG_LEVEL=info written to a file (${report.logLines} lines by the end).`,
    '- Upstream: one separate fake process with zero delay for both origins; it checks the Bearer credential on chat completions and x-api-key on messages.',
    `- Warm-up before the first round, per way: ${initialWarmUp.streams} sequential streams, then ${initialWarmUp.closedLoopMs / 1000} s of ${cpu.longDeltas}-delta streams on ${cpu.connections} connections.`,
    `- Time to first byte: ${timeToFirstByte.requests} sequential streams of ${timeToFirstByte.deltaCount} deltas per way and round on 1 kept-alive connection (undici Pool),`,
    `  after ${timeToFirstByte.warmUpRequests} of warm-up; time from the request to the first body byte. "added" subtracts the same percentile of direct streams`,
    '  to the fake in the upstream\'s format, measured in the same round. OpenAI-format requests ask for include_usage.',
    `- CPU: ${cpu.connections} connections in a closed loop for ${cpu.durationMs / 1000} s per way and stream length (${cpu.shortDeltas} and ${cpu.longDeltas} deltas), after ${cpu.warmUpRequests} streams of warm-up;`,
    `  utime+stime of the gateway from /proc/<pid>/stat, read before the loop and ${requestLogFlushWaitMs} ms after it, divided by the streams completed.`,
    `  CPU per chunk = (CPU per ${cpu.longDeltas}-delta stream - CPU per ${cpu.shortDeltas}-delta stream) / ${cpu.longDeltas - cpu.shortDeltas}.`,
    ...logProblemLines(report.logProblems),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  const started = new Date();
  const loadAtStart = formatLoad();
  const adminUrl = localAdminUrl('because the benchmark runs everything locally');

  const temporaryDirectory = await run.createTemporaryDirectory('keyroute-translation-bench-');
  const { admin, postgresVersion } = await run.connectAdmin(adminUrl);

  const openAiKey = `sk-proj-${randomBytes(24).toString('hex')}`;
  const anthropicKey = `sk-ant-api03-${randomBytes(24).toString('hex')}`;
  progress('Starting the fake upstream...');
  const fake = await startFakeUpstream(children, { openAi: openAiKey, anthropic: anthropicKey });
  const directTargets: Record<Format, StreamTarget> = {
    openai: { label: 'direct OpenAI', origin: fake.origin, format: 'openai', headers: { authorization: `Bearer ${openAiKey}`, 'content-type': 'application/json' }, model: 'gpt-4o' },
    anthropic: {
      label: 'direct Anthropic',
      origin: fake.origin,
      format: 'anthropic',
      headers: { 'x-api-key': anthropicKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      model: 'claude-sonnet-4-5',
    },
  };
  for (const target of Object.values(directTargets)) {
    const wrong = { ...target.headers, authorization: 'Bearer sk-wrong', 'x-api-key': 'sk-ant-wrong' };
    const response = await fetch(`${fake.origin}${pathOf(target.format)}`, { method: 'POST', headers: wrong, body: streamBody(target, 1) });
    await response.arrayBuffer();
    if (response.status !== 401) throw new Error(`The fake upstream accepted a wrong ${target.format} credential (status ${response.status})`);
  }

  const database = await createBenchDatabase(admin, adminUrl, cleanups);
  const environment = gatewayEnvironment(database.url, [`https://api.openai.com=${fake.origin}`, `https://api.anthropic.com=${fake.origin}`]);
  progress(`Creating the tenant in ${database.name} with the CLI...`);
  const tenant = await createOrganizationWithToken(children, environment, 'translation bench');
  progress('Starting the gateway...');
  const logPath = path.join(temporaryDirectory, 'gateway.log');
  const gateway = await startGateway(children, { environment, logPath });
  const gatewaySecret = await createKeys(gateway, tenant.token, { OPENAI: openAiKey, ANTHROPIC: anthropicKey });
  const gatewayTargets = ways.map((way): StreamTarget => {
    const headers: Record<string, string> =
      way.client === 'openai'
        ? { authorization: `Bearer ${gatewaySecret}`, 'content-type': 'application/json' }
        : { 'x-api-key': gatewaySecret, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
    return { label: way.label, origin: gateway.baseUrl, format: way.client, headers, model: way.model };
  });
  const rejectedBefore = (await fake.readStats()).rejectedCredentials;

  progress('Warming up every way and both direct targets...');
  await warmUp([...Object.values(directTargets), ...gatewayTargets]);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    progress(`Round ${round} of ${options.rounds} (load average ${formatLoad()})...`);
    const result = await runRound(round, gatewayTargets, directTargets, gateway);
    rounds.push(result);
    progress(
      `  direct TTFB p50 ${ms(result.direct.openai.p50)} / ${ms(result.direct.anthropic.p50)}; ` +
        result.ways.map((way, index) => `way ${index + 1}: TTFB p50 ${ms(way.firstByteP50)}, ${us(way.cpuPerChunkUs)} CPU per chunk`).join('; '),
    );
  }
  if ((await fake.readStats()).rejectedCredentials !== rejectedBefore) throw new Error('The fake upstream rejected a credential that the gateway sent');

  await children.stop(gateway.child);
  const log = await summarizeLog(logPath);
  const report: Report = {
    started,
    loadAtStart,
    loadAtEnd: formatLoad(),
    postgresVersion,
    rounds,
    logLines: log.lines,
    logProblems: log.problems,
  };
  process.stdout.write(`${formatReport(report)}\n`);
}

await run.run(main);
