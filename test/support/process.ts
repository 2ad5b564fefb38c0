import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * One keyring for every process of this test file, because the first start records the key in the
 * database and later starts on the same database reject any other key.
 */
const keyringKeys = `process-test:${randomBytes(32).toString('base64')}`;

/**
 * Returns the variables that every spawned process gets. Nothing else is inherited, so a
 * developer's own DATABASE_URL, PORT or KMS settings never reach a child. The keyring is there
 * because the server rejects PostgreSQL without a key backend. The server ignores variables that it
 * does not know.
 */
export function baseEnvironment(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    LISTEN_HOST: '127.0.0.1',
    SHUTDOWN_DELAY_MS: '100',
    SHUTDOWN_DRAIN_MS: '5000',
    KEYRING_KEYS: keyringKeys,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a listener
 * that is closed at once. Another process could take it in between, which is unlikely in tests.
 */
export async function findFreePort(): Promise<number> {
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

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output collected as it arrives. */
export interface SpawnedProcess {
  child: ChildProcess;
  pid: number;
  /** Milliseconds since the epoch at spawn. */
  startedAt: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<ExitStatus>;
  /** Resolves with the exit status, or rejects when the process is still running after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<ExitStatus>;
  /** Resolves when stdout matches `pattern`; rejects when the process exits first or time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/**
 * Spawns processes and kills every one still running in `killAll()`, which each test file calls in
 * afterEach or afterAll so that a failed assertion never leaves a server behind.
 */
export class ProcessGroup {
  readonly #running = new Set<SpawnedProcess>();

  /** Runs `node` with tsx loaded, from the repository root, with exactly `environment`. */
  spawnNode(args: string[], environment: Record<string, string>): SpawnedProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: repositoryRoot,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`Spawning node ${args.join(' ')} failed`);

    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });

    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });

    const spawned: SpawnedProcess = {
      child,
      pid: child.pid,
      startedAt: Date.now(),
      stdout: () => stdout,
      stderr: () => stderr,
      exited,
      waitForExit: (timeoutMs = 30_000) =>
        withTimeout(exited, timeoutMs, () => `Process ${child.pid} (node ${args.join(' ')}) did not exit within ${timeoutMs} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`),
      waitForStdout: (pattern, timeoutMs = 60_000) =>
        withTimeout(
          new Promise<RegExpMatchArray>((resolve, reject) => {
            const check = () => {
              const match = stdout.match(pattern);
              if (match) {
                child.stdout!.off('data', check);
                resolve(match);
              }
            };
            child.stdout!.on('data', check);
            check();
            void exited.then(() => reject(new Error(`Process exited before printing ${pattern}.\nstdout:\n${stdout}\nstderr:\n${stderr}`)));
          }),
          timeoutMs,
          () => `Process ${child.pid} did not print ${pattern} within ${timeoutMs} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
    };

    this.#running.add(spawned);
    void exited.then(() => this.#running.delete(spawned));
    return spawned;
  }

  /** Starts the server the way `npm start` does. */
  spawnServer(environment: Record<string, string>): SpawnedProcess {
    return this.spawnNode(['src/main.ts'], environment);
  }

  /** Runs the CLI the way the installed `keyroute` command does. */
  spawnCli(args: string[], environment: Record<string, string>): SpawnedProcess {
    return this.spawnNode(['bin/keyroute.js', ...args], environment);
  }

  /** Sends SIGKILL to every process of this group that has not exited, and waits for each exit. */
  async killAll(): Promise<void> {
    const running = [...this.#running];
    for (const spawned of running) {
      try {
        process.kill(spawned.pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    await Promise.all(running.map((spawned) => spawned.exited));
  }
}

/**
 * Polls `GET /readyz` until it responds with 200. Rejects when the process exits first or `timeoutMs`
 * passes, with the process output in the message.
 */
export async function waitUntilReady(server: SpawnedProcess, baseUrl: string, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const reason = exited ? 'exited before /readyz answered 200' : `did not answer /readyz with 200 within ${timeoutMs} ms`;
  throw new Error(`Server ${server.pid} ${reason}.\nstdout:\n${server.stdout()}\nstderr:\n${server.stderr()}`);
}

/** Creates an empty temporary directory; `remove` deletes it with everything in it. */
export async function createTemporaryDirectory(label: string): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(path.join(tmpdir(), `keyroute-${label}-`));
  return { path: directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** Returns the lines of `output` that parse as JSON objects, which are the logger's lines. */
export function jsonLogLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line that only starts like JSON is not a log line.
    }
  }
  return lines;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(describe())), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
