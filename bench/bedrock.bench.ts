/**
 * Bedrock streaming benchmark: what the gateway adds to the time to first byte of a streamed call
 * to AWS Bedrock, and the gateway CPU per such call, SigV4 signing and event-stream decoding
 * included. An OpenAI-compatible streamed call through the same gateway process is measured beside it.
 *
 * Setup: a fresh database `keyroute_bench_<random>` on the PostgreSQL server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), which must run on this machine, dropped at the
 * end. An organization and a management token come from the CLI. A gateway key, an OpenAI provider
 * key and a Bedrock provider key (one us-east-1 row, default region us-east-1) come from the GraphQL
 * API. The gateway runs as a child process, `node --import tsx src/main.ts`, with
 * NODE_ENV=production, a keyring key backend, LOG_LEVEL=info written to a file and the request log
 * at its defaults. Two more processes serve the upstreams without artificial delay:
 * bench/proxy-bench/fake-openai-upstream.ts for OpenAI, and bench/bedrock-bench/fake-bedrock-upstream.ts
 * for the Bedrock runtime, which verifies every SigV4 signature. The gateway reaches both through
 * UPSTREAM_OVERRIDES with the real URLs and Host headers, and UPSTREAM_REQUIRE_OVERRIDE refuses any
 * other origin, so nothing reaches AWS.
 *
 * Three series, each measured directly against its fake and through the gateway:
 *   - openai: `POST /v1/chat/completions`, `openai/gpt-4o`, streamed; the reference;
 *   - invoke: `POST /v1/messages` (Anthropic format), `bedrock/anthropic.claude-sonnet-4-5-…`,
 *     which the gateway sends to InvokeModelWithResponseStream and relays event by event; the direct
 *     calls sign their own InvokeModelWithResponseStream requests;
 *   - converse: `POST /v1/chat/completions` (OpenAI format), `bedrock/meta.llama3-…`, which the
 *     gateway translates to ConverseStream and back; the direct calls sign their own ConverseStream
 *     requests.
 * Every stream has 8 content deltas. Per round and series: the time to first byte of 1,000
 * sequential streams on 1 kept-alive connection after 100 of warm-up, direct and through the
 * gateway (p50 and p99; "added" is the gateway percentile minus the direct one of the same round),
 * then the gateway's CPU time per stream while 16 connections stream in a closed loop for 5 s,
 * from /proc/<pid>/stat. The series order is reversed in every other round, and so is the order of
 * direct and gateway within a series. Figures are medians over the rounds.
 *
 * Every process it starts is stopped by its PID, and the database and the temporary directory are
 * removed, also after a failure or Ctrl-C. Every series is bounded in count and time.
 *
 * Usage: npx tsx bench/bedrock.bench.ts [--rounds N]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request, type Pool } from 'undici';
import { bedrockRuntimeUrl } from '../src/proxy/upstream/bedrock/bedrock-endpoints.js';
import { BedrockEventStreamDecoder, invokeChunkToSseEvent, type DecodedBedrockEvent } from '../src/proxy/upstream/bedrock/bedrock-event-stream.js';
import { BedrockSigner } from '../src/proxy/upstream/bedrock/bedrock-signer.js';
import { deltaText as bedrockDeltaText, type FakeBedrockStats } from './bedrock-bench/fake-bedrock-upstream.js';
import { BenchRun, formatLoad, formatMs as ms, localAdminUrl, logProblemLines, parseRounds, progress, reportHeader, spread, table } from './proxy-bench/bench-run.js';
import { deltaText as openAiDeltaText } from './proxy-bench/fake-openai-upstream.js';
import {
  createBenchDatabase,
  createKeys,
  createOrganizationWithToken,
  createProviderKey,
  fetchStats,
  gatewayEnvironment,
  repositoryRoot,
  startFakeProcess,
  startFakeUpstream,
  startGateway,
  summarizeLog,
  type GatewayProcess,
} from './proxy-bench/gateway-process.js';
import { closedLoop, median, openKeptAlivePool, percentile, sequentialSamples } from './proxy-bench/load.js';
import { readProcessCpuMs } from './proxy-bench/system.js';

const fakeBedrockPath = path.join(repositoryRoot, 'bench/bedrock-bench/fake-bedrock-upstream.ts');

const region = 'us-east-1';
const claudeModelId = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const llamaModelId = 'meta.llama3-1-70b-instruct-v1:0';
const deltaCount = 8;
const timeToFirstByte = { warmUpRequests: 100, requests: 1_000 };
const throughput = { connections: 16, warmUpRequests: 320, durationMs: 5_000, maxRequests: 100_000 };
/** Streams per target before the first round, so that V8 has optimized every path. */
const initialWarmUpRequests = 500;
/** REQUEST_LOG_FLUSH_INTERVAL_MS at its default, and a margin for the flush itself. */
const requestLogFlushWaitMs = 1_000 + 500;
/** Maximum duration of one series of requests. */
const seriesTimeoutMs = 120_000;

const run = new BenchRun('bench/bedrock.bench.ts');
const { children, cleanups } = run;

function parseOptions(): { rounds: number } {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  return { rounds: parseRounds(values.rounds) };
}

// ---------------------------------------------------------------------------------------------
// The fake Bedrock process

interface FakeBedrockProcess {
  origin: string;
  readStats(): Promise<FakeBedrockStats>;
}

async function startFakeBedrock(credential: { accessKeyId: string; secretAccessKey: string }): Promise<FakeBedrockProcess> {
  const { ready } = await startFakeProcess<{ port: number }>(children, {
    label: 'fake Bedrock',
    scriptPath: fakeBedrockPath,
    environment: { FAKE_BEDROCK_ACCESS_KEY_ID: credential.accessKeyId, FAKE_BEDROCK_SECRET_ACCESS_KEY: credential.secretAccessKey },
  });
  const origin = `http://127.0.0.1:${ready.port}`;
  return { origin, readStats: () => fetchStats<FakeBedrockStats>(origin) };
}

// ---------------------------------------------------------------------------------------------
// Tenant

async function createBedrockKey(gateway: GatewayProcess, token: string, credential: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
  await createProviderKey(gateway, token, {
    provider: 'BEDROCK',
    name: 'bench Bedrock',
    credentials: { bedrockRegions: [{ region, ...credential }] },
    settings: { bedrock: { defaultRegion: region } },
    assignment: { organization: true },
  });
}

// ---------------------------------------------------------------------------------------------
// Targets

type SeriesName = 'openai' | 'invoke' | 'converse';
type Side = 'direct' | 'gateway';

/** One kind of streamed request, sent either to a fake upstream or to the gateway. */
interface StreamTarget {
  series: SeriesName;
  side: Side;
  origin: string;
  path: string;
  /** Builds one request. Direct Bedrock requests are signed anew each time, before the clock starts. */
  prepare(): Promise<{ headers: Record<string, string>; body: string }>;
  /** Returns why a complete response is not the expected stream, or undefined when it is. */
  check(status: number, body: Buffer): string | undefined;
}

const messages = [{ role: 'user', content: 'Hello' }];

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

function decodeEventStream(body: Buffer): DecodedBedrockEvent[] {
  const decoder = new BedrockEventStreamDecoder();
  return [...decoder.push(body), ...decoder.end()];
}

function openAiStreamProblem(status: number, body: Buffer, deltaText: string): string | undefined {
  const text = body.toString('utf8');
  if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
  if (count(text, `"content":${JSON.stringify(deltaText)}`) !== deltaCount) return `expected ${deltaCount} content deltas: ${text.slice(0, 300)}`;
  if (!text.endsWith('data: [DONE]\n\n')) return `the stream did not end with [DONE]: ${text.slice(-300)}`;
  return undefined;
}

function directOpenAi(origin: string, apiKey: string): StreamTarget {
  const body = JSON.stringify({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true }, max_tokens: deltaCount });
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  return {
    series: 'openai',
    side: 'direct',
    origin,
    path: '/v1/chat/completions',
    prepare: async () => ({ headers, body }),
    check: (status, bytes) => openAiStreamProblem(status, bytes, openAiDeltaText),
  };
}

function gatewayOpenAi(gateway: GatewayProcess, gatewayKey: string, series: 'openai' | 'converse'): StreamTarget {
  const model = series === 'openai' ? 'openai/gpt-4o' : `bedrock/${llamaModelId}`;
  const body = JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true }, max_tokens: deltaCount });
  const headers = { authorization: `Bearer ${gatewayKey}`, 'content-type': 'application/json' };
  return {
    series,
    side: 'gateway',
    origin: gateway.baseUrl,
    path: '/v1/chat/completions',
    prepare: async () => ({ headers, body }),
    check: (status, bytes) => openAiStreamProblem(status, bytes, series === 'openai' ? openAiDeltaText : bedrockDeltaText),
  };
}

function gatewayInvoke(gateway: GatewayProcess, gatewayKey: string): StreamTarget {
  const body = JSON.stringify({ model: `bedrock/${claudeModelId}`, max_tokens: deltaCount, messages, stream: true });
  const headers = { 'x-api-key': gatewayKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
  return {
    series: 'invoke',
    side: 'gateway',
    origin: gateway.baseUrl,
    path: '/v1/messages',
    prepare: async () => ({ headers, body }),
    check(status, bytes) {
      const text = bytes.toString('utf8');
      if (status !== 200) return `status ${status}: ${text.slice(0, 300)}`;
      if (count(text, 'event: content_block_delta\n') !== deltaCount) return `expected ${deltaCount} content_block_delta events: ${text.slice(0, 300)}`;
      if (!/event: message_stop\ndata: [^\n]*\n\n$/.test(text)) return `the stream did not end with message_stop: ${text.slice(-300)}`;
      return undefined;
    },
  };
}

/** Direct calls to the fake Bedrock, signed by the gateway's own signer for the same key and region. */
function directBedrock(origin: string, signer: BedrockSigner, series: 'invoke' | 'converse'): StreamTarget {
  const url =
    series === 'invoke' ? bedrockRuntimeUrl(region, claudeModelId, 'invoke-with-response-stream') : bedrockRuntimeUrl(region, llamaModelId, 'converse-stream');
  const body =
    series === 'invoke'
      ? JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: deltaCount, messages })
      : JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }], inferenceConfig: { maxTokens: deltaCount } });
  const lastEventType = series === 'invoke' ? 'message_stop' : 'metadata';
  return {
    series,
    side: 'direct',
    origin,
    path: url.pathname,
    prepare: async () => ({ headers: await signer.sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }), body }),
    check(status, bytes) {
      if (status !== 200) return `status ${status}: ${bytes.toString('utf8').slice(0, 300)}`;
      const events = decodeEventStream(bytes);
      const last = events.at(-1);
      let lastType: string | undefined;
      if (last?.kind === 'event') lastType = series === 'invoke' ? invokeChunkToSseEvent(last)?.event : last.type;
      if (lastType !== lastEventType) return `the event stream did not end with ${lastEventType}`;
      return undefined;
    },
  };
}

function openPool(target: StreamTarget, connections: number): Pool {
  return openKeptAlivePool(target.origin, connections);
}

/** Sends one streamed request, reads it to the end, checks it and returns the time until the first body byte. */
async function sendStream(pool: Pool, target: StreamTarget): Promise<number> {
  const { headers, body } = await target.prepare();
  const started = performance.now();
  const response = await pool.request({ path: target.path, method: 'POST', headers, body });
  let firstByteAt: number | undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    firstByteAt ??= performance.now();
    chunks.push(chunk);
  }
  const problem = firstByteAt === undefined ? 'the response body was empty' : target.check(response.statusCode, Buffer.concat(chunks));
  if (problem) throw new Error(`${target.side} ${target.series} stream: ${problem}`);
  return firstByteAt! - started;
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface SeriesResult {
  firstByteP50: Record<Side, number>;
  firstByteP99: Record<Side, number>;
  gatewayCpuPerRequestUs: number;
  gatewayRequestsPerSecond: number;
}

interface RoundResult {
  load1: number;
  series: Record<SeriesName, SeriesResult>;
}

type Targets = Record<SeriesName, Record<Side, StreamTarget>>;

async function measureTimeToFirstByte(target: StreamTarget): Promise<number[]> {
  const pool = openPool(target, 1);
  try {
    await sequentialSamples(timeToFirstByte.warmUpRequests, seriesTimeoutMs, () => sendStream(pool, target));
    return await sequentialSamples(timeToFirstByte.requests, seriesTimeoutMs, () => sendStream(pool, target));
  } finally {
    await pool.close();
  }
}

/** Streams on 16 connections in a closed loop and returns the gateway CPU per request and the requests per second. */
async function measureGatewayCpu(target: StreamTarget, gatewayPid: number): Promise<{ cpuPerRequestUs: number; requestsPerSecond: number }> {
  const pool = openPool(target, throughput.connections);
  try {
    const send = () => sendStream(pool, target);
    await closedLoop(throughput.connections, seriesTimeoutMs, throughput.warmUpRequests, send);
    // Lets the request log write the warm-up's entries before the CPU reading starts.
    await sleep(requestLogFlushWaitMs);
    const before = await readProcessCpuMs(gatewayPid);
    const { requests, elapsedMs } = await closedLoop(throughput.connections, throughput.durationMs, throughput.maxRequests, send);
    // The request log writes the loop's entries within one flush interval, and that CPU time counts too.
    await sleep(requestLogFlushWaitMs);
    const after = await readProcessCpuMs(gatewayPid);
    if (before === undefined || after === undefined) throw new Error(`The gateway process ${gatewayPid} is gone`);
    return { cpuPerRequestUs: ((after - before) * 1000) / requests, requestsPerSecond: requests / (elapsedMs / 1000) };
  } finally {
    await pool.close();
  }
}

async function runRound(round: number, targets: Targets, gatewayPid: number): Promise<RoundResult> {
  const load1 = loadavg()[0]!;
  const order: SeriesName[] = round % 2 === 1 ? ['openai', 'invoke', 'converse'] : ['converse', 'invoke', 'openai'];
  const sides: Side[] = round % 2 === 1 ? ['direct', 'gateway'] : ['gateway', 'direct'];
  const series = {} as Record<SeriesName, SeriesResult>;
  for (const name of order) {
    const firstByteP50 = {} as Record<Side, number>;
    const firstByteP99 = {} as Record<Side, number>;
    for (const side of sides) {
      const samples = await measureTimeToFirstByte(targets[name][side]);
      firstByteP50[side] = percentile(samples, 0.5);
      firstByteP99[side] = percentile(samples, 0.99);
    }
    const cpu = await measureGatewayCpu(targets[name].gateway, gatewayPid);
    series[name] = { firstByteP50, firstByteP99, gatewayCpuPerRequestUs: cpu.cpuPerRequestUs, gatewayRequestsPerSecond: cpu.requestsPerSecond };
    progress(
      `  ${name}: TTFB p50 ${firstByteP50.direct.toFixed(3)}/${firstByteP50.gateway.toFixed(3)} ms, p99 ${firstByteP99.direct.toFixed(3)}/${firstByteP99.gateway.toFixed(3)} ms, ` +
        `gateway ${cpu.cpuPerRequestUs.toFixed(0)} µs CPU per stream, ${cpu.requestsPerSecond.toFixed(0)} streams/s`,
    );
  }
  return { load1, series };
}

async function warmUp(targets: Targets): Promise<void> {
  for (const name of ['openai', 'invoke', 'converse'] as const) {
    for (const side of ['direct', 'gateway'] as const) {
      const target = targets[name][side];
      const pool = openPool(target, 1);
      try {
        await sequentialSamples(initialWarmUpRequests, seriesTimeoutMs, () => sendStream(pool, target));
      } finally {
        await pool.close();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const seriesLabels: Record<SeriesName, string> = {
  openai: 'OpenAI stream, openai/gpt-4o, OpenAI client',
  invoke: 'Bedrock InvokeModelWithResponseStream, Claude, Anthropic client',
  converse: 'Bedrock ConverseStream, Llama, OpenAI client',
};

interface Report {
  started: Date;
  loadAtStart: string;
  loadAtEnd: string;
  postgresVersion: string;
  rounds: RoundResult[];
  bedrockStats: FakeBedrockStats;
  logLines: number;
  logProblems: string[];
}

function formatReport(report: Report): string {
  const { rounds } = report;
  const values = (name: SeriesName, pick: (result: SeriesResult) => number) => rounds.map((round) => pick(round.series[name]));
  const rows = [
    ['series', 'TTFB p50 direct / gateway', 'added p50 (median [min to max])', 'TTFB p99 direct / gateway', 'added p99', 'gateway CPU per stream', 'gateway streams/s, 16 connections'],
    ...(['openai', 'invoke', 'converse'] as const).map((name) => [
      seriesLabels[name],
      `${ms(median(values(name, (r) => r.firstByteP50.direct)))} / ${ms(median(values(name, (r) => r.firstByteP50.gateway)))}`,
      spread(values(name, (r) => r.firstByteP50.gateway - r.firstByteP50.direct), ms),
      `${ms(median(values(name, (r) => r.firstByteP99.direct)))} / ${ms(median(values(name, (r) => r.firstByteP99.gateway)))}`,
      spread(values(name, (r) => r.firstByteP99.gateway - r.firstByteP99.direct), ms),
      spread(values(name, (r) => r.gatewayCpuPerRequestUs), (value) => `${value.toFixed(0)} µs`),
      spread(values(name, (r) => r.gatewayRequestsPerSecond), (value) => value.toFixed(0)),
    ]),
  ];
  const roundRows = [
    ['round', 'load1', 'series', 'TTFB p50 d/g ms', 'TTFB p99 d/g ms', 'gateway CPU/stream', 'streams/s'],
    ...rounds.flatMap((round, index) =>
      (['openai', 'invoke', 'converse'] as const).map((name) => {
        const result = round.series[name];
        return [
          String(index + 1),
          round.load1.toFixed(2),
          name,
          `${result.firstByteP50.direct.toFixed(3)}/${result.firstByteP50.gateway.toFixed(3)}`,
          `${result.firstByteP99.direct.toFixed(3)}/${result.firstByteP99.gateway.toFixed(3)}`,
          `${result.gatewayCpuPerRequestUs.toFixed(0)} µs`,
          result.gatewayRequestsPerSecond.toFixed(0),
        ];
      }),
    ),
  ];
  const stats = report.bedrockStats;
  const lines = [
    ...reportHeader({ title: 'Keyroute Bedrock streaming benchmark', ...report }),
    `${rounds.length} rounds; series order and direct/gateway order reverse every other round. Figures are medians over the rounds.`,
    '',
    ...table(rows),
    '',
    'Per round (d = direct to the fake, g = through the gateway):',
    ...table(roundRows),
    '',
    'Method',
    '- Gateway: node --import tsx src/main.ts on PostgreSQL (a fresh database), NODE_ENV=production, keyring key backend, request log at its defaults,',
    `  LOG_LEVEL=info written to a file (${report.logLines} lines by the end).`,
    '- Upstreams: bench/proxy-bench/fake-openai-upstream.ts and bench/bedrock-bench/fake-bedrock-upstream.ts, each a process of its own with zero delay.',
    '  The fake Bedrock verifies every SigV4 signature; direct Bedrock calls are signed with src/proxy/upstream/bedrock/bedrock-signer.ts before the clock starts.',
    `- Time to first byte: ${timeToFirstByte.requests} sequential streams of ${deltaCount} deltas per target and round on 1 kept-alive connection after ${timeToFirstByte.warmUpRequests} of warm-up;`,
    '  time from the request to the first body byte. Each response is read to its end and checked.',
    `- Gateway CPU: utime+stime of the gateway process from /proc/<pid>/stat over ${throughput.durationMs / 1000} s of streams on ${throughput.connections} connections`,
    `  (after ${throughput.warmUpRequests} of warm-up), read ${requestLogFlushWaitMs} ms after the loop so that the request log flush counts, divided by the streams completed.`,
    `- Before the first round, ${initialWarmUpRequests} sequential streams per target.`,
    `- The fake Bedrock served ${stats.invokeStreams} InvokeModelWithResponseStream and ${stats.converseStreams} ConverseStream requests and rejected ${stats.rejectedSignatures} signatures`,
    '  (1 expected: the deliberately wrong signature sent at the start to show that it checks).',
    ...logProblemLines(report.logProblems),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

const accessKeyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

async function main(): Promise<void> {
  const options = parseOptions();
  const started = new Date();
  const loadAtStart = formatLoad();
  const adminUrl = localAdminUrl('because the benchmark runs against it locally');

  const temporaryDirectory = await run.createTemporaryDirectory('keyroute-bedrock-bench-');
  const { admin, postgresVersion } = await run.connectAdmin(adminUrl);

  const openAiKey = `sk-proj-${randomBytes(24).toString('hex')}`;
  const credential = {
    accessKeyId: `AKIA${[...randomBytes(16)].map((byte) => accessKeyAlphabet[byte % accessKeyAlphabet.length]).join('')}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  };
  progress('Starting the fake upstreams...');
  const [openAiFake, bedrockFake] = await Promise.all([startFakeUpstream(children, { openAi: openAiKey }), startFakeBedrock(credential)]);

  // A request signed with another secret must be rejected, or the fake would not show a signing bug.
  const wrongSigner = new BedrockSigner({ accessKeyId: credential.accessKeyId, secretAccessKey: randomBytes(30).toString('base64') }, region);
  const wrongTarget = directBedrock(bedrockFake.origin, wrongSigner, 'converse');
  const wrongRequest = await wrongTarget.prepare();
  const wrong = await request(`${bedrockFake.origin}${wrongTarget.path}`, { method: 'POST', headers: wrongRequest.headers, body: wrongRequest.body });
  await wrong.body.dump();
  if (wrong.statusCode !== 403) throw new Error(`The fake Bedrock accepted a wrong signature (status ${wrong.statusCode})`);

  const database = await createBenchDatabase(admin, adminUrl, cleanups);
  const environment = gatewayEnvironment(database.url, [
    `https://api.openai.com=${openAiFake.origin}`,
    `https://bedrock-runtime.${region}.amazonaws.com=${bedrockFake.origin}`,
  ]);
  progress(`Creating the tenant in ${database.name} with the CLI...`);
  const tenant = await createOrganizationWithToken(children, environment, 'bedrock bench');
  progress('Starting the gateway...');
  const logPath = path.join(temporaryDirectory, 'gateway.log');
  const gateway = await startGateway(children, { environment, logPath });
  const gatewayKey = await createKeys(gateway, tenant.token, { OPENAI: openAiKey });
  await createBedrockKey(gateway, tenant.token, credential);

  const signer = new BedrockSigner(credential, region);
  const targets: Targets = {
    openai: { direct: directOpenAi(openAiFake.origin, openAiKey), gateway: gatewayOpenAi(gateway, gatewayKey, 'openai') },
    invoke: { direct: directBedrock(bedrockFake.origin, signer, 'invoke'), gateway: gatewayInvoke(gateway, gatewayKey) },
    converse: { direct: directBedrock(bedrockFake.origin, signer, 'converse'), gateway: gatewayOpenAi(gateway, gatewayKey, 'converse') },
  };
  const openAiRejectedBefore = (await openAiFake.readStats()).rejectedCredentials;
  const bedrockRejectedBefore = (await bedrockFake.readStats()).rejectedSignatures;

  progress('Warming up every target...');
  await warmUp(targets);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    progress(`Round ${round} of ${options.rounds} (load average ${formatLoad()})...`);
    rounds.push(await runRound(round, targets, gateway.pid));
  }

  const bedrockStats = await bedrockFake.readStats();
  if (bedrockStats.rejectedSignatures !== bedrockRejectedBefore) throw new Error('The fake Bedrock rejected a signature during the rounds');
  if ((await openAiFake.readStats()).rejectedCredentials !== openAiRejectedBefore) throw new Error('The fake OpenAI upstream rejected a credential during the rounds');
  await children.stop(gateway.child);
  const log = await summarizeLog(logPath);

  const report: Report = {
    started,
    loadAtStart,
    loadAtEnd: formatLoad(),
    postgresVersion,
    rounds,
    bedrockStats,
    logLines: log.lines,
    logProblems: log.problems,
  };
  process.stdout.write(`${formatReport(report)}\n`);
}

await run.run(main);
