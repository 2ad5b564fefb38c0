import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { LastUsedRecorder } from '../../src/db/last-used-recorder.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { ManagementTokenService } from '../../src/features/management-tokens/management-token.service.js';
import { OrganizationService } from '../../src/features/organizations/organization.service.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import {
  baseEnvironment,
  createTemporaryDirectory,
  findFreePort,
  jsonLogLines,
  ProcessGroup,
  waitUntilReady,
  type ExitStatus,
  type SpawnedProcess,
} from '../support/process.js';
import { startSlowGraphqlRequest } from '../support/slow-request.js';

// Starting a server process loads TypeScript and opens the database: seconds each, and the first
// start on a fresh DATA_DIR runs initdb.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const tokenPattern = /Token\s+(krm_[A-Za-z0-9_-]{43})/;
const viewerQuery = '{ viewer { organization { name } token { actorLabel scope } } }';

// Processes started for one test are killed after it; those shared by a describe block after it.
const processes = new ProcessGroup();
const sharedProcesses = new ProcessGroup();
let dataDirectory: Awaited<ReturnType<typeof createTemporaryDirectory>>;

beforeAll(async () => {
  dataDirectory = await createTemporaryDirectory('process');
});

afterEach(async () => {
  await processes.killAll();
});

afterAll(async () => {
  await processes.killAll();
  await sharedProcesses.killAll();
  await dataDirectory?.remove();
});

async function viewer(baseUrl: string, token: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: viewerQuery }),
  });
  return { status: response.status, body: await response.json() };
}

/** Starts the real server on a free port and waits for /readyz 200. */
async function startServerProcess(
  group: ProcessGroup,
  environment: Record<string, string>,
): Promise<{ server: SpawnedProcess; baseUrl: string }> {
  const port = await findFreePort();
  const server = group.spawnServer({ ...baseEnvironment(), PORT: String(port), ...environment });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(server, baseUrl);
  return { server, baseUrl };
}

/** Sends SIGTERM unless the process has exited, and waits for the exit. */
async function stopProcess(server: SpawnedProcess): Promise<ExitStatus> {
  if (server.child.exitCode === null && server.child.signalCode === null) process.kill(server.pid, 'SIGTERM');
  return server.waitForExit();
}

/** Issues a write token directly in the database, the way the CLI does. */
async function issueToken(handle: DatabaseHandle): Promise<string> {
  const recorder = new LastUsedRecorder(async () => {}, { intervalMs: 60_000, logger: captureLogs().logger });
  const organization = await new OrganizationService(handle.db).create('Process tests');
  const { token } = await new ManagementTokenService(handle.db, recorder).issue({
    organizationId: organization.id,
    scope: 'write',
    actorLabel: 'process test',
  });
  return token;
}

describe('first start on the embedded database', () => {
  let server: SpawnedProcess;
  let baseUrl: string;

  beforeAll(async () => {
    ({ server, baseUrl } = await startServerProcess(sharedProcesses, { DATA_DIR: dataDirectory.path }));
    await server.waitForStdout(tokenPattern);
  });

  it('serves /healthz', async () => {
    const response = await fetch(`${baseUrl}/healthz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('prints a token on stdout', () => {
    expect(server.stdout()).toMatch(tokenPattern);
    expect(server.stdout()).toContain('First start: created the organization "Default organization"');
  });

  it('prints a token that works for a viewer query', async () => {
    const token = server.stdout().match(tokenPattern)![1]!;

    const { status, body } = await viewer(baseUrl, token);

    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer.organization.name).toBe('Default organization');
    expect(body.data.viewer.token).toEqual({ actorLabel: 'first-start', scope: 'WRITE' });
  });

  it('locks out a second process', async () => {
    const second = processes.spawnServer({
      ...baseEnvironment(),
      PORT: String(await findFreePort()),
      DATA_DIR: dataDirectory.path,
    });

    const exit = await second.waitForExit();

    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(second.stderr()).toContain(`is in use by process ${server.pid}`);
    expect(second.stderr()).toContain('pgdata.lock');
    expect(second.stdout()).not.toMatch(tokenPattern);
    // The first server is unaffected.
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
  });

  it('exits 0 on SIGTERM', async () => {
    const exit = await stopProcess(server);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(jsonLogLines(server.stdout()).map((line) => line.msg)).toContain('Shutdown complete');
  });

  // After the exit, so that every line the process wrote is in its output.
  it('keeps the token out of log lines', async () => {
    await stopProcess(server);
    const token = server.stdout().match(tokenPattern)![1]!;
    const logLines = jsonLogLines(server.stdout());

    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((line) => JSON.stringify(line).includes(token))).toEqual([]);
    expect(server.stderr()).not.toContain(token);
  });
});

describe('second start on the embedded database', () => {
  let server: SpawnedProcess;
  let exit: ExitStatus;

  // The server is stopped before the checks, because /readyz can respond before the process has
  // written everything that start-up prints.
  beforeAll(async () => {
    ({ server } = await startServerProcess(sharedProcesses, { DATA_DIR: dataDirectory.path }));
    process.kill(server.pid, 'SIGINT');
    exit = await server.waitForExit();
  });

  it('prints no token', () => {
    expect(server.stdout()).not.toMatch(/krm_/);
    expect(server.stdout()).not.toContain('First start');
    expect(jsonLogLines(server.stdout()).map((line) => line.msg)).toContain('Listening');
  });

  it('exits 0 on SIGINT', () => {
    expect(exit).toEqual({ code: 0, signal: null });
  });
});

// These tests start the server on this file's own PostgreSQL database when DATABASE_URL is set,
// else on the embedded database of the tests above.
describe('running server', () => {
  let testDatabase: TestDatabase | undefined;
  let environment: Record<string, string>;
  let token: string;

  beforeAll(async () => {
    if (postgresUrl) {
      testDatabase = await createTestDatabase();
      environment = { DATABASE_URL: testDatabase.url! };
      token = await issueToken(testDatabase.handle);
    } else {
      environment = { DATA_DIR: dataDirectory.path };
      const handle = await openDatabase({
        url: undefined,
        dataDirectory: dataDirectory.path,
        poolMax: 1,
        connectTimeoutMs: 5_000,
        migrateOnStart: true,
      });
      try {
        await migrateToLatest(handle.db);
        token = await issueToken(handle);
      } finally {
        await handle.close();
      }
    }
  });

  afterAll(async () => {
    await testDatabase?.destroy();
  });

  it('drains a request on SIGTERM', async () => {
    const { server, baseUrl } = await startServerProcess(processes, { ...environment, SHUTDOWN_DELAY_MS: '2000' });
    const slow = startSlowGraphqlRequest(baseUrl, token, viewerQuery);
    await sleep(100);

    process.kill(server.pid, 'SIGTERM');
    // The signal arrives asynchronously, so /readyz may respond 200 once or twice before 503.
    let readyz = await fetch(`${baseUrl}/readyz`);
    for (let attempt = 0; readyz.status === 200 && attempt < 50; attempt += 1) {
      await readyz.arrayBuffer();
      await sleep(20);
      readyz = await fetch(`${baseUrl}/readyz`);
    }
    const readyzBody = (await readyz.json()) as Record<string, any>;
    slow.finish();
    const response = await slow.response;
    const exit = await server.waitForExit();

    expect(readyz.status).toBe(503);
    expect(readyzBody.checks.shuttingDown).toBe(true);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).data.viewer.token.actorLabel).toBe('process test');
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGINT', async () => {
    const { server } = await startServerProcess(processes, environment);

    process.kill(server.pid, 'SIGINT');
    const exit = await server.waitForExit();

    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('reports a port in use', async () => {
    const port = await findFreePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const server = processes.spawnServer({ ...baseEnvironment(), ...environment, PORT: String(port) });

      const exit = await server.waitForExit(30_000);

      expect(exit.code).toBe(1);
      expect(server.stderr()).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      expect(server.stderr()).toContain('set PORT to a free port');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('start failures', () => {
  const password = 'hunter2-Pa55word';

  it.each([
    { case: 'not a URL', url: `not a url ${password}`, expected: 'DATABASE_URL: expected a URL such as postgres://' },
    {
      case: 'a wrong scheme',
      url: `mysql://keyroute:${password}@127.0.0.1:3306/keyroute`,
      expected: 'DATABASE_URL: expected a postgres:// or postgresql:// URL, got the scheme "mysql:"',
    },
  ])('reports a DATABASE_URL that is $case', async ({ url, expected }) => {
    const server = processes.spawnServer({ ...baseEnvironment(), PORT: String(await findFreePort()), DATABASE_URL: url });

    const exit = await server.waitForExit();

    expect(exit.code).toBe(1);
    expect(server.stderr()).toContain('Invalid configuration (1 problem)');
    expect(server.stderr()).toContain(expected);
    expect(server.stderr()).not.toContain(password);
    expect(server.stdout()).not.toContain(password);
  });

  it('reports an unreachable database within seconds', async () => {
    const server = processes.spawnServer({
      ...baseEnvironment(),
      PORT: String(await findFreePort()),
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
    });

    const exit = await server.waitForExit();
    const elapsedMs = Date.now() - server.startedAt;

    expect(exit.code).toBe(1);
    expect(server.stderr()).toContain('Cannot connect to PostgreSQL at 127.0.0.1:1/x: connection refused.');
    expect(elapsedMs).toBeLessThan(10_000);
  });
});
