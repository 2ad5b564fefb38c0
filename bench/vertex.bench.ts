/**
 * Vertex AI benchmark: what the gateway adds to a Gemini call on Vertex AI's OpenAI-compatible
 * endpoint once the access token is cached, beside what it adds to an OpenAI call, through the
 * same gateway process.
 *
 * Setup: a fresh database `keyroute_bench_<random>` on the PostgreSQL server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), dropped at the end. An organization and a
 * management token come from the CLI; a gateway key, an OpenAI provider key and a Vertex provider
 * key (a service-account key file) come from the GraphQL API. The gateway runs as a child process,
 * `node --import tsx src/main.ts`, with NODE_ENV=production, a keyring key backend, LOG_LEVEL=info
 * written to a file and the request log at its defaults. Two more processes serve the upstreams,
 * both without artificial delay: bench/proxy-bench/fake-openai-upstream.ts for OpenAI, and
 * bench/vertex-bench/fake-vertex-upstream.ts for Google's token endpoint and Vertex AI (the test
 * fakes, which verify each JWT assertion and accept only the tokens they issued). The gateway
 * reaches them through UPSTREAM_OVERRIDES with the real URLs and Host headers.
 *
 * Measured per round, for four series: direct to the OpenAI fake, OpenAI through the gateway,
 * direct to the Vertex fake (with a token the fake issued to a second account), and Vertex through
 * the gateway. Each series is 3,000 sequential non-streamed chat completions on 1 kept-alive
 * connection after 300 of warm-up. The report shows p50 and p99, where "added" is the gateway
 * percentile minus the direct percentile of the same provider and round. The order of the four
 * series is reversed in every other round. Figures are the median over the rounds. The token
 * endpoint's count of tokens issued to the gateway's account covers the whole run, the first
 * Vertex call included, so 1 is expected.
 *
 * Every process it starts is stopped by its PID, and the database and the temporary directory are
 * removed, also after a failure or Ctrl-C. Every series is bounded in count and time.
 *
 * Usage: npx tsx bench/vertex.bench.ts [--rounds N]
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Pool } from 'undici';
import { BenchRun, formatLoad, formatMs as ms, localAdminUrl, logProblemLines, parseRounds, progress, reportHeader, table } from './proxy-bench/bench-run.js';
import { completionText } from './proxy-bench/fake-openai-upstream.js';
import {
  createBenchDatabase,
  createKeys,
  createOrganizationWithToken,
  createProviderKey,
  gatewayEnvironment,
  repositoryRoot,
  requestOverIpc,
  startFakeProcess,
  startFakeUpstream,
  startGateway,
  summarizeLog,
} from './proxy-bench/gateway-process.js';
import { median, openKeptAlivePool, percentile, sequentialSamples } from './proxy-bench/load.js';
import type { VertexFakeMessage, VertexFakeReady, VertexFakeStats } from './vertex-bench/fake-vertex-upstream.js';

const fakeVertexPath = path.join(repositoryRoot, 'bench/vertex-bench/fake-vertex-upstream.ts');

/** The reply text of the Vertex fake's chat completions. */
const geminiText = 'Hello from the fake Gemini on Vertex.';
const latency = { warmUpRequests: 300, requests: 3_000 };
/** Sequential requests per series before the first round, so that V8 has optimized both paths. */
const initialWarmUpRequests = 2_000;
/** Maximum duration of one series of requests. */
const seriesTimeoutMs = 120_000;

const run = new BenchRun('bench/vertex.bench.ts');
const { children, cleanups } = run;

function parseOptions(): { rounds: number } {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  return { rounds: parseRounds(values.rounds) };
}

function readVertexStats(child: ChildProcess): Promise<VertexFakeStats> {
  const request: VertexFakeMessage = { type: 'read-stats' };
  return requestOverIpc(
    child,
    request,
    (message) => {
      const reply = message as { type?: string; stats?: VertexFakeStats };
      return reply.type === 'stats' ? reply.stats : undefined;
    },
    'The Vertex fake',
  );
}

// ---------------------------------------------------------------------------------------------
// Measurements

type ProviderLabel = 'OpenAI' | 'Vertex';

/** One series: a provider, called directly or through the gateway. */
interface Target {
  provider: ProviderLabel;
  route: 'direct' | 'gateway';
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Text that every successful response contains. */
  expectedText: string;
}

/** Sends one chat completion and returns its time until the whole body arrived; throws on any other response. */
async function sendChat(pool: Pool, target: Target): Promise<number> {
  const started = performance.now();
  const response = await pool.request({ path: target.path, method: 'POST', headers: target.headers, body: target.body });
  const text = await response.body.text();
  const elapsed = performance.now() - started;
  if (response.statusCode !== 200 || !text.includes(target.expectedText)) {
    throw new Error(`${target.provider} ${target.route}: expected status 200 with the fake's reply, got ${response.statusCode}: ${text.slice(0, 300)}`);
  }
  return elapsed;
}

function openPool(target: Target): Pool {
  return openKeptAlivePool(target.origin, 1);
}

/** Sends `warmUp` requests, then `count` measured ones, on one kept-alive connection; returns the measured times in ascending order. */
async function measureSeries(target: Target, warmUp: number, count: number): Promise<number[]> {
  const pool = openPool(target);
  try {
    await sequentialSamples(warmUp, seriesTimeoutMs, () => sendChat(pool, target));
    return count === 0 ? [] : await sequentialSamples(count, seriesTimeoutMs, () => sendChat(pool, target));
  } finally {
    await pool.close();
  }
}

interface SeriesResult {
  p50: number;
  p99: number;
}

interface RoundResult {
  load1: number;
  order: string;
  series: Record<`${ProviderLabel} ${Target['route']}`, SeriesResult>;
}

async function runRound(round: number, targets: Target[]): Promise<RoundResult> {
  const ordered = round % 2 === 1 ? targets : [...targets].reverse();
  const series = {} as RoundResult['series'];
  for (const target of ordered) {
    const samples = await measureSeries(target, latency.warmUpRequests, latency.requests);
    series[`${target.provider} ${target.route}`] = { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
  }
  return { load1: loadavg()[0]!, order: ordered.map((target) => `${target.provider} ${target.route}`).join(', '), series };
}

function added(round: RoundResult, provider: ProviderLabel, statistic: keyof SeriesResult): number {
  return round.series[`${provider} gateway`][statistic] - round.series[`${provider} direct`][statistic];
}

// ---------------------------------------------------------------------------------------------
// Report

/** Formats the median over the rounds, with the range of the rounds. */
function summarize(values: number[]): string {
  return `${ms(median(values))} [${Math.min(...values).toFixed(3)} to ${Math.max(...values).toFixed(3)}]`;
}

interface Report {
  started: Date;
  loadAtStart: string;
  loadAtEnd: string;
  postgresVersion: string;
  rounds: RoundResult[];
  stats: VertexFakeStats;
  logLines: number;
  logProblems: string[];
}

function formatReport(report: Report): string {
  const { rounds } = report;
  const column = (provider: ProviderLabel, route: Target['route'], statistic: keyof SeriesResult) =>
    rounds.map((round) => round.series[`${provider} ${route}`][statistic]);
  const addedOf = (provider: ProviderLabel, statistic: keyof SeriesResult) => rounds.map((round) => added(round, provider, statistic));
  const difference = (statistic: keyof SeriesResult) => rounds.map((round) => added(round, 'Vertex', statistic) - added(round, 'OpenAI', statistic));

  const rows = [
    ['measurement', 'OpenAI', 'Vertex Gemini', 'Vertex minus OpenAI'],
    ['direct p50', summarize(column('OpenAI', 'direct', 'p50')), summarize(column('Vertex', 'direct', 'p50')), ''],
    ['gateway p50', summarize(column('OpenAI', 'gateway', 'p50')), summarize(column('Vertex', 'gateway', 'p50')), ''],
    ['added p50', summarize(addedOf('OpenAI', 'p50')), summarize(addedOf('Vertex', 'p50')), summarize(difference('p50'))],
    ['direct p99', summarize(column('OpenAI', 'direct', 'p99')), summarize(column('Vertex', 'direct', 'p99')), ''],
    ['gateway p99', summarize(column('OpenAI', 'gateway', 'p99')), summarize(column('Vertex', 'gateway', 'p99')), ''],
    ['added p99', summarize(addedOf('OpenAI', 'p99')), summarize(addedOf('Vertex', 'p99')), summarize(difference('p99'))],
  ];
  const roundRows = [
    ['round', 'load1', 'added p50 OpenAI/Vertex ms', 'added p99 OpenAI/Vertex ms', 'order'],
    ...rounds.map((round, index) => [
      String(index + 1),
      round.load1.toFixed(2),
      `${added(round, 'OpenAI', 'p50').toFixed(3)}/${added(round, 'Vertex', 'p50').toFixed(3)}`,
      `${added(round, 'OpenAI', 'p99').toFixed(3)}/${added(round, 'Vertex', 'p99').toFixed(3)}`,
      round.order,
    ]),
  ];
  const { stats } = report;
  const lines = [
    ...reportHeader({ title: 'Keyroute Vertex AI benchmark', ...report }),
    `${rounds.length} rounds. Figures are medians over the rounds, with [min to max].`,
    '',
    ...table(rows),
    '',
    `Google access tokens issued to the gateway's service account during the run: ${stats.gatewayMints} (1 expected).`,
    `Vertex fake: ${stats.vertexRequests} requests, ${stats.rejectedVertexRequests} rejected; token endpoint: ${stats.rejectedTokenRequests} requests rejected.`,
    '',
    'Per round:',
    ...table(roundRows),
    '',
    'Method',
    '- Gateway: node --import tsx src/main.ts on PostgreSQL (a fresh database), NODE_ENV=production, keyring key backend, request log at its defaults,',
    `  LOG_LEVEL=info written to a file (${report.logLines} lines by the end).`,
    '- Upstreams: separate processes without artificial delay. OpenAI: bench/proxy-bench/fake-openai-upstream.ts. Vertex: the test fakes of Google\'s',
    '  token endpoint and Vertex AI in bench/vertex-bench/fake-vertex-upstream.ts, which record and check every request and so cost more per',
    '  request than the OpenAI fake; "added" subtracts each provider\'s own direct time.',
    `- Before the first round, ${initialWarmUpRequests} sequential requests per series. Per round and series: ${latency.requests} sequential non-streamed chat completions`,
    `  on 1 kept-alive connection (undici Pool) after ${latency.warmUpRequests} of warm-up; time from the request to the end of the response body.`,
    '  Direct Vertex calls carry a token of a second service account, issued at the fake\'s start, and the real Host aiplatform.googleapis.com.',
    ...logProblemLines(report.logProblems),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  const started = new Date();
  const loadAtStart = formatLoad();
  const adminUrl = localAdminUrl('so that the benchmark measures only local work');

  const temporaryDirectory = await run.createTemporaryDirectory('keyroute-vertex-bench-');
  const { admin, postgresVersion } = await run.connectAdmin(adminUrl);

  progress('Starting the fake upstreams...');
  const openAiKey = `sk-proj-${randomBytes(24).toString('hex')}`;
  const openAiFake = await startFakeUpstream(children, { openAi: openAiKey });
  const openAiOrigin = openAiFake.origin;
  const vertexFake = await startFakeProcess<VertexFakeReady>(children, { label: 'Vertex fake', scriptPath: fakeVertexPath, environment: {}, ipc: true });
  const vertex = vertexFake.ready;

  const database = await createBenchDatabase(admin, adminUrl, cleanups);
  const environment = gatewayEnvironment(database.url, [
    `https://api.openai.com=${openAiOrigin}`,
    `https://oauth2.googleapis.com=${vertex.tokenAddress}`,
    `https://aiplatform.googleapis.com=${vertex.vertexAddress}`,
  ]);
  progress(`Creating the tenant in ${database.name} with the CLI...`);
  const { token: managementToken } = await createOrganizationWithToken(children, environment, 'vertex bench');
  progress('Starting the gateway...');
  const logPath = path.join(temporaryDirectory, 'gateway.log');
  const gateway = await startGateway(children, { environment, logPath });
  const gatewaySecret = await createKeys(gateway, managementToken, { OPENAI: openAiKey });
  await createProviderKey(gateway, managementToken, {
    provider: 'VERTEX_AI',
    name: 'bench Vertex',
    credentials: { vertexServiceAccount: vertex.gatewayServiceAccount },
    assignment: { organization: true },
  });

  const messages = [{ role: 'user', content: 'Hello' }];
  const gatewayHeaders = { authorization: `Bearer ${gatewaySecret}`, 'content-type': 'application/json' };
  const targets: Target[] = [
    {
      provider: 'OpenAI',
      route: 'direct',
      origin: openAiOrigin,
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${openAiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages }),
      expectedText: completionText,
    },
    {
      provider: 'OpenAI',
      route: 'gateway',
      origin: gateway.baseUrl,
      path: '/v1/chat/completions',
      headers: gatewayHeaders,
      body: JSON.stringify({ model: 'openai/gpt-4o', messages }),
      expectedText: completionText,
    },
    {
      provider: 'Vertex',
      route: 'direct',
      origin: vertex.vertexAddress,
      path: `/v1/projects/${vertex.project}/locations/global/endpoints/openapi/chat/completions`,
      headers: { host: 'aiplatform.googleapis.com', authorization: `Bearer ${vertex.directAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'google/gemini-2.5-flash', messages }),
      expectedText: geminiText,
    },
    {
      provider: 'Vertex',
      route: 'gateway',
      origin: gateway.baseUrl,
      path: '/v1/chat/completions',
      headers: gatewayHeaders,
      body: JSON.stringify({ model: 'vertex/gemini-2.5-flash', messages }),
      expectedText: geminiText,
    },
  ];

  progress('Warming up every series...');
  for (const target of targets) await measureSeries(target, initialWarmUpRequests, 0);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    progress(`Round ${round} of ${options.rounds} (load average ${formatLoad()})...`);
    const result = await runRound(round, targets);
    rounds.push(result);
    progress(
      `  added p50 OpenAI ${added(result, 'OpenAI', 'p50').toFixed(3)} ms, Vertex ${added(result, 'Vertex', 'p50').toFixed(3)} ms; ` +
        `added p99 OpenAI ${added(result, 'OpenAI', 'p99').toFixed(3)} ms, Vertex ${added(result, 'Vertex', 'p99').toFixed(3)} ms`,
    );
  }

  const stats = await readVertexStats(vertexFake.child);
  if (stats.rejectedVertexRequests > 0 || stats.rejectedTokenRequests > 0) {
    throw new Error(`The Vertex fakes rejected ${stats.rejectedVertexRequests} Vertex and ${stats.rejectedTokenRequests} token requests of the gateway`);
  }
  await children.stop(gateway.child);
  const log = await summarizeLog(logPath);

  const report: Report = { started, loadAtStart, loadAtEnd: formatLoad(), postgresVersion, rounds, stats, logLines: log.lines, logProblems: log.problems };
  process.stdout.write(`${formatReport(report)}\n`);
}

await run.run(main);
