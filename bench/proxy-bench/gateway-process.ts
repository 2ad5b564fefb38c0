/**
 * Processes and tenant set-up for the gateway benchmarks: the gateway as a child process on its
 * own PostgreSQL database, the fake upstream processes, and the organization, token and keys they
 * need.
 * Every process goes into the caller's ChildProcesses, which stops it by its PID, and every database
 * gets a cleanup step that drops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { FakeUpstreamStats } from './fake-openai-upstream.js';
import { findFreePort, type ChildProcesses } from './system.js';

export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const fakeUpstreamPath = path.join(repositoryRoot, 'bench/proxy-bench/fake-openai-upstream.ts');
const bareProxyPath = path.join(repositoryRoot, 'bench/proxy-bench/bare-proxy.ts');

const gatewayStartTimeoutMs = 120_000;
const commandTimeoutMs = 120_000;

/** Environment shared by every child: no credentials of this shell, and no AWS metadata lookups. */
export function baseEnvironment(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // The SDK must never look for credentials at the instance metadata address.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** Runs `node args…` to completion and returns its stdout; rejects on a non-zero exit or after the timeout. */
export async function runNode(children: ChildProcesses, args: string[], environment: Record<string, string>): Promise<string> {
  const child = children.add(spawn(process.execPath, args, { cwd: repositoryRoot, env: environment, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => void children.stop(child, 5_000), commandTimeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}:\n${stderr}`);
  return stdout;
}

/**
 * Starts `node --import tsx scriptPath` and returns it with the JSON line that it prints on stdout
 * once it listens. With `ipc`, the child also gets an IPC channel.
 */
export async function startFakeProcess<Ready>(
  children: ChildProcesses,
  options: { label: string; scriptPath: string; environment: Record<string, string>; ipc?: boolean },
): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = children.add(
    spawn(process.execPath, ['--import', 'tsx', options.scriptPath], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.environment },
      // The fake exits when its stdin closes, which also happens when this process is killed.
      stdio: options.ipc ? ['pipe', 'pipe', 'inherit', 'ipc'] : ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = createInterface({ input: child.stdout! });
  const firstLine = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`The ${options.label} exited with ${code} before listening`)))),
    sleep(60_000).then(() => {
      throw new Error(`The ${options.label} did not report its address within 60 s`);
    }),
  ]);
  lines.close();
  return { child, ready: JSON.parse(firstLine) as Ready };
}

/** Reads the counters that a fake upstream serves at `/bench/stats`. */
export async function fetchStats<Stats>(origin: string): Promise<Stats> {
  const response = await fetch(`${origin}/bench/stats`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as Stats;
}

/**
 * Sends `message` to a child over its IPC channel and resolves with the first reply that
 * `pickReply` accepts. Rejects after 10 s with an error that starts with `description`.
 */
export function requestOverIpc<Reply>(child: ChildProcess, message: unknown, pickReply: (reply: unknown) => Reply | undefined, description: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: unknown) => {
      const picked = pickReply(reply);
      if (picked === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(picked);
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${description} did not return its counters within 10 s`));
    }, 10_000);
    child.on('message', onMessage);
    child.send(message as object);
  });
}

export interface FakeUpstreamProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  readStats(): Promise<FakeUpstreamStats>;
}

/** Starts bench/proxy-bench/fake-openai-upstream.ts with the keys it accepts. */
export async function startFakeUpstream(children: ChildProcesses, keys: { openAi: string; anthropic?: string }): Promise<FakeUpstreamProcess> {
  const environment: Record<string, string> = { FAKE_UPSTREAM_API_KEY: keys.openAi };
  if (keys.anthropic !== undefined) environment.FAKE_UPSTREAM_ANTHROPIC_API_KEY = keys.anthropic;
  const { child, ready } = await startFakeProcess<{ port: number }>(children, { label: 'fake upstream', scriptPath: fakeUpstreamPath, environment });
  const origin = `http://127.0.0.1:${ready.port}`;
  return { child, origin, readStats: () => fetchStats<FakeUpstreamStats>(origin) };
}

export interface BareProxyProcess {
  child: ChildProcess;
  pid: number;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
}

/** Starts bench/proxy-bench/bare-proxy.ts in front of `upstreamOrigin`, sending `apiKey` as the provider key. */
export async function startBareProxy(children: ChildProcesses, options: { upstreamOrigin: string; apiKey: string }): Promise<BareProxyProcess> {
  const environment = { BARE_PROXY_UPSTREAM_ORIGIN: options.upstreamOrigin, BARE_PROXY_API_KEY: options.apiKey };
  const { child, ready } = await startFakeProcess<{ port: number }>(children, { label: 'bare proxy', scriptPath: bareProxyPath, environment });
  return { child, pid: child.pid!, origin: `http://127.0.0.1:${ready.port}` };
}

/**
 * Environment of a gateway for a benchmark: production mode on 127.0.0.1, info logs, a fresh
 * keyring key, and upstream overrides that it must use for every origin, so that nothing leaves
 * this machine. Each override is `https://real.origin=http://127.0.0.1:PORT`.
 */
export function gatewayEnvironment(databaseUrl: string, upstreamOverrides: string[]): Record<string, string> {
  return {
    ...baseEnvironment(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    LISTEN_HOST: '127.0.0.1',
    SHUTDOWN_DELAY_MS: '0',
    DATABASE_URL: databaseUrl,
    KEYRING_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    UPSTREAM_OVERRIDES: upstreamOverrides.join(','),
    UPSTREAM_REQUIRE_OVERRIDE: 'true',
  };
}

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  baseUrl: string;
  logPath: string;
}

/**
 * Starts `node [nodeOptions] --import tsx [extraArguments] src/main.ts` on a free port with its
 * stdout in `logPath`, and waits until `/readyz` returns 200. With `ipc`, the gateway also gets an
 * IPC channel, for a preloaded probe.
 */
export async function startGateway(
  children: ChildProcesses,
  options: { environment: Record<string, string>; logPath: string; nodeOptions?: string[]; extraArguments?: string[]; ipc?: boolean },
): Promise<GatewayProcess> {
  const port = await findFreePort();
  const logFd = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    child = children.add(
      spawn(process.execPath, [...(options.nodeOptions ?? []), '--import', 'tsx', ...(options.extraArguments ?? []), 'src/main.ts'], {
        cwd: repositoryRoot,
        env: { ...options.environment, PORT: String(port) },
        stdio: options.ipc ? ['ignore', logFd, 'pipe', 'ipc'] : ['ignore', logFd, 'pipe'],
      }),
    );
  } finally {
    closeSync(logFd);
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const baseUrl = `http://127.0.0.1:${port}`;

  const deadline = performance.now() + gatewayStartTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`The gateway exited before it was ready (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    if (performance.now() > deadline) {
      await children.stop(child);
      throw new Error(`The gateway did not respond to /readyz with 200 within ${gatewayStartTimeoutMs} ms:\n${stderr}`);
    }
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  return { child, pid: child.pid!, baseUrl, logPath: options.logPath };
}

/** Returns a new database name `keyroute_bench_<random>`. */
export function benchDatabaseName(): string {
  return `keyroute_bench_${randomBytes(6).toString('hex')}`;
}

/** Returns `adminUrl` with its database replaced by `name`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a database `keyroute_bench_<random>` and registers a cleanup step that drops it. */
export async function createBenchDatabase(
  admin: pg.Client,
  adminUrl: string,
  cleanups: (() => Promise<void>)[],
): Promise<{ name: string; url: string }> {
  const name = benchDatabaseName();
  await admin.query(`create database ${name}`);
  cleanups.push(async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
  });
  return { name, url: databaseUrl(adminUrl, name) };
}

/** Creates an organization and a write token with the CLI, as an operator would. */
export async function createOrganizationWithToken(
  children: ChildProcesses,
  environment: Record<string, string>,
  name: string,
): Promise<{ organizationId: string; token: string }> {
  const organization = JSON.parse(
    await runNode(children, ['--import', 'tsx', 'src/cli/main.ts', 'organizations', 'create', '--name', name, '--json'], environment),
  ) as { id: string };
  const token = JSON.parse(
    await runNode(
      children,
      ['--import', 'tsx', 'src/cli/main.ts', 'tokens', 'create', '--organization', organization.id, '--scope', 'write', '--actor', name, '--json'],
      environment,
    ),
  ) as { token: string };
  return { organizationId: organization.id, token: token.token };
}

/** Sends one GraphQL request with a management token and returns its data; throws on errors. */
export async function graphql<Data>(gateway: GatewayProcess, token: string, query: string, variables: Record<string, unknown>): Promise<Data> {
  const response = await fetch(`${gateway.baseUrl}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const result = (await response.json()) as { data?: Data; errors?: unknown[] };
  if (result.errors || !result.data) throw new Error(`GraphQL request failed with status ${response.status}: ${JSON.stringify(result)}`);
  return result.data;
}

const createGatewayKeyMutation = `
  mutation CreateGatewayKey($input: CreateGatewayKeyInput!) {
    createGatewayKey(input: $input) {
      __typename
      ... on GatewayKeyWithSecret { secret }
      ... on Error { message }
    }
  }`;

const createProviderKeyMutation = `
  mutation CreateProviderKey($input: CreateProviderKeyInput!) {
    createProviderKey(input: $input) {
      __typename
      ... on ProviderKeyPayload { providerKey { id } }
      ... on Error { message }
    }
  }`;

/** Creates a provider key from a CreateProviderKeyInput through the GraphQL API; throws unless it was created. */
export async function createProviderKey(gateway: GatewayProcess, token: string, input: { provider: string } & Record<string, unknown>): Promise<void> {
  const result = await graphql<{ createProviderKey: { __typename: string; message?: string } }>(gateway, token, createProviderKeyMutation, { input });
  if (result.createProviderKey.__typename !== 'ProviderKeyPayload') {
    throw new Error(`createProviderKey for ${input.provider} returned ${JSON.stringify(result.createProviderKey)}`);
  }
}

/**
 * Creates a gateway key and one organization-wide provider key per entry of `apiKeys` through the
 * GraphQL API, and returns the gateway key's secret.
 */
export async function createKeys(gateway: GatewayProcess, token: string, apiKeys: Partial<Record<'OPENAI' | 'ANTHROPIC', string>>): Promise<string> {
  const created = await graphql<{ createGatewayKey: { __typename: string; secret?: string; message?: string } }>(gateway, token, createGatewayKeyMutation, {
    input: { name: 'bench' },
  });
  if (!created.createGatewayKey.secret) throw new Error(`createGatewayKey returned ${JSON.stringify(created.createGatewayKey)}`);
  for (const [provider, apiKey] of Object.entries(apiKeys)) {
    await createProviderKey(gateway, token, { provider, name: `bench ${provider}`, credentials: { apiKey }, assignment: { organization: true } });
  }
  return created.createGatewayKey.secret;
}

/** Returns the size and line count of the gateway log, and its first warn, error and fatal lines. */
export async function summarizeLog(logPath: string): Promise<{ bytes: number; lines: number; problems: string[] }> {
  const text = await readFile(logPath, 'utf8');
  const lines = text.split('\n').filter((line) => line !== '');
  const problems = lines.filter((line) => /"level":"(warn|error|fatal)"/.test(line)).map((line) => line.slice(0, 300));
  return { bytes: (await stat(logPath)).size, lines: lines.length, problems };
}
