import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../support/fake-upstreams/anthropic.js';
import type { FakeUpstream, RecordedRequest } from '../support/fake-upstreams/fake-server.js';
import { upstreamOverridesVariable } from '../support/fake-upstreams/test-transport.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * Runs the real Claude Code CLI (`claude -p`) against the gateway, which forwards to the fake
 * Anthropic. Written against Claude Code 2.1.197.
 *
 * Claude Code can contact other hosts (telemetry, error reporting, update checks), so it runs only
 * inside a network namespace that has nothing but loopback. The gateway and the fake must listen
 * on that namespace's loopback too, so vitest itself runs inside it. The tests are skipped unless
 * both variables are set, because a plain `npm test` has neither the CLI nor a namespace:
 *
 *   npm install --prefix /tmp/claude-code @anthropic-ai/claude-code
 *   ip netns add kr-cc && ip netns exec kr-cc ip link set lo up
 *   ip netns exec kr-cc env CLAUDE_CODE_BIN=/tmp/claude-code/node_modules/.bin/claude \
 *     KEYROUTE_NETNS=kr-cc npx vitest run test/claude-code
 *   ip netns del kr-cc
 *
 * Leave DATABASE_URL unset there, because PostgreSQL on the host is not reachable from inside the
 * namespace. The tests then run on embedded PGlite.
 */
const claudeBinary = process.env.CLAUDE_CODE_BIN;
const namespace = process.env.KEYROUTE_NETNS;
const enabled = Boolean(claudeBinary && namespace);

const claudeTimeoutMs = 60_000;
const testTimeoutMs = 90_000;
const fakeDefaultText = 'Hello from the fake Anthropic.';

interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Fields that these tests read from the object that `claude -p --output-format json` prints. */
interface ClaudeResult {
  is_error: boolean;
  result: string;
  num_turns: number;
  api_error_status: number | null;
}

/**
 * Throws unless this process runs inside the named namespace and that namespace has loopback
 * only. Otherwise the gateway would listen where Claude Code cannot reach it, or Claude Code
 * could reach other hosts.
 */
function assertIsolatedNamespace(name: string): void {
  const command = `ip netns exec ${name} env CLAUDE_CODE_BIN=${claudeBinary} KEYROUTE_NETNS=${name} npx vitest run test/claude-code`;
  let named;
  try {
    named = statSync(`/run/netns/${name}`);
  } catch (error) {
    throw new Error(`The network namespace KEYROUTE_NETNS=${name} was not found (${String(error)}). Create it with: ip netns add ${name} && ip netns exec ${name} ip link set lo up`);
  }
  const own = statSync('/proc/self/ns/net');
  if (own.dev !== named.dev || own.ino !== named.ino) {
    throw new Error(`vitest is not running inside the network namespace ${name}, so Claude Code could not reach the gateway. Run: ${command}`);
  }
  const external = Object.entries(networkInterfaces()).filter(([, addresses]) => addresses?.some((address) => !address.internal));
  if (external.length > 0) {
    throw new Error(`The network namespace ${name} has interfaces other than loopback (${external.map(([interfaceName]) => interfaceName).join(', ')}). Use a namespace with loopback only.`);
  }
}

describe('Claude Code through the gateway', () => {
  let server: TestServer;
  let anthropic: FakeUpstream;
  let gatewaySecret: string;
  let gatewayKeyId: string;
  let workDirectory: string;
  let home: string;
  let project: string;
  const anthropicKey = 'sk-ant-api03-' + 'c'.repeat(40);

  beforeAll(async () => {
    if (!enabled) return;
    assertIsolatedNamespace(namespace!);

    anthropic = await startFakeAnthropic({ expectedKey: anthropicKey });
    server = await startTestServer({ UPSTREAM_OVERRIDES: upstreamOverridesVariable(anthropic) });
    const tenant = await server.createTenant();
    const context = { organizationId: tenant.organizationId, actor: { tokenId: null, label: 'test' } };
    const created = await server.app.services.gatewayKeys.create(context, { name: 'claude-code' });
    gatewaySecret = created.secret;
    gatewayKeyId = created.gatewayKey.id;
    await server.app.services.providerKeys.create(context, {
      provider: 'ANTHROPIC',
      name: 'anthropic',
      credentials: { apiKey: anthropicKey },
      assignment: { organization: true },
    });
  });

  afterAll(async () => {
    await server?.close();
    await anthropic?.close();
  });

  // Each run gets its own HOME and working directory, so no settings, sessions or project files
  // carry over from one run, or from the developer's own Claude Code.
  beforeEach(async () => {
    if (!enabled) return;
    workDirectory = await mkdtemp(path.join(tmpdir(), 'keyroute-claude-code-'));
    home = path.join(workDirectory, 'home');
    project = path.join(workDirectory, 'project');
    await mkdir(home);
    await mkdir(project);
  });

  afterEach(async () => {
    if (workDirectory) await rm(workDirectory, { recursive: true, force: true });
  });

  /**
   * Runs `claude` with the given arguments inside the namespace, with a clean environment that
   * points it at the gateway and turns off its traffic to other hosts.
   */
  async function runClaude(
    args: string[],
    options: { authVariable?: 'ANTHROPIC_API_KEY' | 'ANTHROPIC_AUTH_TOKEN'; model?: string; smallFastModel?: string } = {},
  ): Promise<ClaudeRun> {
    const environment: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      TERM: 'dumb',
      ANTHROPIC_BASE_URL: server.baseUrl,
      [options.authVariable ?? 'ANTHROPIC_API_KEY']: gatewaySecret,
      ANTHROPIC_MODEL: options.model ?? 'claude-sonnet-4-5',
      ANTHROPIC_SMALL_FAST_MODEL: options.smallFastModel ?? 'claude-haiku-4-5',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
    };
    // Claude Code starts through `ip netns exec`, so it runs inside the namespace even if the
    // check in beforeAll is removed.
    const child = spawn('ip', ['netns', 'exec', namespace!, claudeBinary!, ...args], {
      cwd: project,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), claudeTimeoutMs);
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (exitCode) => resolve(exitCode));
      });
      return { code, stdout, stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  function parseResult(run: ClaudeRun): ClaudeResult {
    try {
      return JSON.parse(run.stdout) as ClaudeResult;
    } catch {
      throw new Error(`claude printed no JSON result (exit code ${run.code}).\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    }
  }

  function requestsSince(count: number): RecordedRequest[] {
    return anthropic.requests.slice(count);
  }

  it.skipIf(!enabled)(
    'answers a prompt with an API key',
    async () => {
      const before = anthropic.requests.length;

      const run = await runClaude(['-p', 'Say hi', '--output-format', 'json']);

      expect(run.code, run.stderr).toBe(0);
      const result = parseResult(run);
      expect(result.is_error).toBe(false);
      expect(result.result).toBe(fakeDefaultText);

      const requests = requestsSince(before);
      expect(requests).toHaveLength(1);
      const [request] = requests;
      expect(request!.rejection).toBeUndefined();
      expect(request!.method).toBe('POST');
      // Claude Code calls /v1/messages?beta=true. The gateway matches the path only and sends
      // the path without the query string.
      expect(request!.path).toBe('/v1/messages');
      expect(request!.headers['x-api-key']).toBe(anthropicKey);
      expect(request!.headers['anthropic-version']).toBe('2023-06-01');
      expect(request!.headers['anthropic-beta']).toContain('claude-code-20250219');

      const body = request!.body as Record<string, unknown>;
      expect(body.model).toBe('claude-sonnet-4-5');
      expect(body.stream).toBe(true);
      expect(Array.isArray(body.system)).toBe(true);
      expect(Array.isArray(body.tools)).toBe(true);
      expect((body.tools as unknown[]).length).toBeGreaterThan(0);
      expect(typeof (body.metadata as Record<string, unknown>).user_id).toBe('string');

      await server.app.requestLog.flush();
      const rows = await server.testDatabase.db
        .selectFrom('request_logs')
        .selectAll()
        .where('gateway_key_id', '=', gatewayKeyId)
        .orderBy('occurred_at', 'desc')
        .limit(1)
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.status).toBe(200);
      expect(rows[0]!.model).toBe('anthropic/claude-sonnet-4-5');
      expect(rows[0]!.stream).toBe(true);
      expect(Number(rows[0]!.output_tokens)).toBeGreaterThan(0);
    },
    testTimeoutMs,
  );

  it.skipIf(!enabled)(
    'accepts auth token and prefixed model',
    async () => {
      const before = anthropic.requests.length;

      const run = await runClaude(['-p', 'Say hi', '--output-format', 'json'], {
        authVariable: 'ANTHROPIC_AUTH_TOKEN',
        model: 'anthropic/claude-haiku-4-5',
        smallFastModel: 'anthropic/claude-haiku-4-5',
      });

      expect(run.code, run.stderr).toBe(0);
      const result = parseResult(run);
      expect(result.is_error).toBe(false);
      expect(result.result).toBe(fakeDefaultText);

      const requests = requestsSince(before);
      expect(requests).toHaveLength(1);
      expect(requests[0]!.rejection).toBeUndefined();
      // The gateway key came as "Authorization: Bearer", which must not go upstream.
      expect(requests[0]!.headers.authorization).toBeUndefined();
      expect(requests[0]!.headers['x-api-key']).toBe(anthropicKey);
      expect((requests[0]!.body as Record<string, unknown>).model).toBe('claude-haiku-4-5');
    },
    testTimeoutMs,
  );

  it.skipIf(!enabled)(
    'runs a tool call round trip',
    async () => {
      const before = anthropic.requests.length;
      const notePath = path.join(project, 'note.txt');
      await writeFile(notePath, 'banana\n');
      anthropic.enqueue(
        { reply: { text: 'Reading the note.', toolCalls: [{ id: 'toolu_note', name: 'Read', arguments: { file_path: notePath } }] } },
        { reply: { text: 'The note says banana.' } },
      );

      const run = await runClaude(['-p', 'What does note.txt say?', '--output-format', 'json', '--allowedTools', 'Read']);

      expect(run.code, run.stderr).toBe(0);
      const result = parseResult(run);
      expect(result.is_error).toBe(false);
      expect(result.num_turns).toBe(2);
      expect(result.result).toBe('The note says banana.');

      const requests = requestsSince(before);
      expect(requests).toHaveLength(2);
      const messages = (requests[1]!.body as { messages: { role: string; content: unknown }[] }).messages;
      const last = messages.at(-1)!;
      expect(last.role).toBe('user');
      const toolResult = (last.content as Record<string, unknown>[]).find((block) => block.type === 'tool_result');
      expect(toolResult?.tool_use_id).toBe('toolu_note');
      expect(JSON.stringify(toolResult?.content)).toContain('banana');
    },
    testTimeoutMs,
  );

  it.skipIf(!enabled)(
    'reports an unknown model',
    async () => {
      const before = anthropic.requests.length;

      const run = await runClaude(['-p', 'Say hi', '--output-format', 'json'], { model: 'claude-unknown-0' });

      expect(run.code).toBe(1);
      const result = parseResult(run);
      expect(result.is_error).toBe(true);
      expect(result.api_error_status).toBe(400);
      expect(result.result).toContain('unknown model "claude-unknown-0"');
      expect(requestsSince(before)).toHaveLength(0);
    },
    testTimeoutMs,
  );
});
