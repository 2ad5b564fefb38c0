/**
 * Start-up time of the real server: from spawning `node --import tsx src/main.ts` to the first
 * `GET /readyz` that responds with 200, for three databases:
 *
 * - PostgreSQL: a fresh database per run, created and dropped here. The admin URL is DATABASE_URL,
 *   or postgres://postgres@127.0.0.1:5432/test when unset.
 * - PGlite with a fresh DATA_DIR per run, which is a first start: initdb, migrations, first token.
 * - PGlite with an existing DATA_DIR, prepared by one start that is not measured.
 *
 * Runs alternate between the three so that a change in machine load spreads over all of them.
 * Prints the median, minimum and maximum of each. Every server it starts is stopped with SIGTERM
 * (SIGKILL after 10 s), and every database and directory it created is removed, also on Ctrl-C.
 *
 * Usage: npx tsx bench/startup.ts [--runs N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/test';
const readinessPollMs = 10;
const startTimeoutMs = 120_000;
const stopTimeoutMs = 10_000;

interface Scenario {
  label: string;
  /** Prepares one run and returns the variables of its server and a cleanup step. */
  prepare(): Promise<{ environment: Record<string, string>; cleanup(): Promise<void> }>;
}

const running = new Set<ChildProcess>();
const cleanups = new Set<() => Promise<void>>();

function parseOptions(): { runs: number } {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    throw new Error(`--runs expects an integer from 1 to 100, got ${JSON.stringify(values.runs)}`);
  }
  return { runs };
}

async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('The probe listener has no TCP address');
  return address.port;
}

async function withAdminClient<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function createTemporaryDirectory(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'keyroute-bench-'));
}

/** Registers a cleanup step that also runs when the benchmark is interrupted. */
function track(cleanup: () => Promise<void>): () => Promise<void> {
  const once = async () => {
    if (!cleanups.delete(once)) return;
    await cleanup();
  };
  cleanups.add(once);
  return once;
}

/** Starts the server and returns the milliseconds from spawn to the first /readyz 200. */
async function measureStart(environment: Record<string, string>): Promise<{ startMs: number; stop(): Promise<void> }> {
  const port = await findFreePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repositoryRoot,
    env: { ...environment, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  void exited.then(() => running.delete(child));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const result = await Promise.race([exited, sleep(stopTimeoutMs).then(() => 'timeout' as const)]);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };

  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const deadline = started + startTimeoutMs;
  while (performance.now() < deadline && !hasExited) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return { startMs: performance.now() - started, stop };
    } catch {
      // Not listening yet.
    }
    await sleep(readinessPollMs);
  }
  await stop();
  throw new Error(`The server did not respond to /readyz with 200 ${hasExited ? 'before it exited' : `within ${startTimeoutMs} ms`}:\n${stderr}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const { runs } = parseOptions();
  const adminUrl = process.env.DATABASE_URL || defaultAdminUrl;
  // The server refuses PostgreSQL without a key backend, so every PostgreSQL run gets this keyring.
  const keyringKeys = `bench:${randomBytes(32).toString('base64')}`;
  const baseEnvironment: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    LISTEN_HOST: '127.0.0.1',
    SHUTDOWN_DELAY_MS: '0',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
  };

  const existingDirectory = await createTemporaryDirectory();
  track(() => rm(existingDirectory, { recursive: true, force: true }));
  process.stderr.write('Preparing the existing DATA_DIR with one unmeasured start...\n');
  const preparation = await measureStart({ ...baseEnvironment, DATA_DIR: existingDirectory });
  await preparation.stop();

  const scenarios: Scenario[] = [
    {
      label: 'PostgreSQL, fresh database',
      async prepare() {
        const name = `keyroute_bench_${randomBytes(6).toString('hex')}`;
        await withAdminClient(adminUrl, (client) => client.query(`create database ${name}`));
        const cleanup = track(() =>
          withAdminClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
        );
        return {
          environment: { ...baseEnvironment, DATABASE_URL: withDatabaseName(adminUrl, name), KEYRING_KEYS: keyringKeys },
          cleanup,
        };
      },
    },
    {
      label: 'PGlite, fresh DATA_DIR',
      async prepare() {
        const directory = await createTemporaryDirectory();
        const cleanup = track(() => rm(directory, { recursive: true, force: true }));
        return { environment: { ...baseEnvironment, DATA_DIR: directory }, cleanup };
      },
    },
    {
      label: 'PGlite, existing DATA_DIR',
      async prepare() {
        return { environment: { ...baseEnvironment, DATA_DIR: existingDirectory }, cleanup: async () => {} };
      },
    },
  ];

  const loadBefore = loadavg()[0]!;
  const samples = new Map<string, number[]>(scenarios.map((scenario) => [scenario.label, []]));
  for (let run = 1; run <= runs; run += 1) {
    for (const scenario of scenarios) {
      const { environment, cleanup } = await scenario.prepare();
      try {
        const { startMs, stop } = await measureStart(environment);
        await stop();
        samples.get(scenario.label)!.push(startMs);
        process.stderr.write(`run ${run}/${runs}  ${scenario.label}: ${startMs.toFixed(0)} ms\n`);
      } finally {
        await cleanup();
      }
    }
  }
  const loadAfter = loadavg()[0]!;

  const labelWidth = Math.max(...scenarios.map((scenario) => scenario.label.length));
  const column = (text: string) => text.padStart(9);
  const lines = [
    `Start-up time from spawn to the first /readyz 200, ${runs} runs each, alternating`,
    `Node ${process.version}, ${availableParallelism()} CPUs, 1-minute load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after`,
    '',
    `${'database'.padEnd(labelWidth)}  ${column('median')}  ${column('min')}  ${column('max')}`,
  ];
  for (const scenario of scenarios) {
    const values = samples.get(scenario.label)!;
    const format = (value: number) => column(`${value.toFixed(0)} ms`);
    lines.push(
      `${scenario.label.padEnd(labelWidth)}  ${format(median(values))}  ${format(Math.min(...values))}  ${format(Math.max(...values))}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Stops every server still running and runs every pending cleanup step. */
async function cleanUp(): Promise<void> {
  for (const child of running) child.kill('SIGKILL');
  await Promise.allSettled([...cleanups].map((cleanup) => cleanup()));
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/startup.ts: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
