/**
 * Process and operating system helpers of bench/proxy.bench.ts: child processes that are always
 * stopped by their PID, CPU time and RSS from /proc, and free loopback ports. Linux only.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Clock ticks per second of utime and stime in /proc/<pid>/stat: USER_HZ (`getconf CLK_TCK`), which is 100 on x86 and Arm Linux. */
const clockTicksPerSecond = 100;

/**
 * The child processes that the benchmark started and has not yet seen exit. `stopAll` stops each
 * of them by its own PID; nothing is stopped by name.
 */
export class ChildProcesses {
  readonly #running = new Set<ChildProcess>();

  /** Tracks a child until it exits. */
  add(child: ChildProcess): ChildProcess {
    this.#running.add(child);
    child.once('exit', () => this.#running.delete(child));
    return child;
  }

  /** Sends SIGTERM and waits up to `timeoutMs` for the exit, then sends SIGKILL and waits for that exit. */
  async stop(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) {
      this.#running.delete(child);
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const outcome = await Promise.race([exited.then(() => 'exited' as const), sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (outcome === 'timeout') {
      process.stderr.write(`process ${child.pid} did not exit within ${timeoutMs} ms of SIGTERM; sending SIGKILL\n`);
      child.kill('SIGKILL');
      await exited;
    }
    this.#running.delete(child);
  }

  async stopAll(timeoutMs?: number): Promise<void> {
    await Promise.all([...this.#running].map((child) => this.stop(child, timeoutMs)));
  }

  /** Sends SIGKILL to every tracked child without waiting, for the last moment before this process exits. */
  killAllNow(): void {
    for (const child of this.#running) child.kill('SIGKILL');
  }
}

/** Returns utime + stime of a process in milliseconds, or undefined when it no longer exists. */
export async function readProcessCpuMs(pid: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in field 2 is in parentheses and may contain spaces, so fields are counted
  // from the last ')'. After it come field 3 (state) onwards; utime and stime are fields 14 and 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicksPerSecond;
}

/** Returns the resident set size of a process in bytes (VmRSS in /proc/<pid>/status), or undefined when it no longer exists. */
export async function readRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the CPU milliseconds of every process whose /proc/<pid>/comm is `name`, by PID. */
export async function readCpuOfProcessesNamed(name: string): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  const entries = await readdir('/proc');
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        try {
          const comm = (await readFile(`/proc/${entry}/comm`, 'utf8')).trim();
          if (comm !== name) return;
          const cpuMs = await readProcessCpuMs(Number(entry));
          if (cpuMs !== undefined) result.set(Number(entry), cpuMs);
        } catch {
          // The process exited between readdir and read.
        }
      }),
  );
  return result;
}

/**
 * Returns the CPU milliseconds that a set of processes used between two readings. A process that
 * started after the first reading counts in full. A process that exited before the second reading
 * is missing from it, so its time since the first reading is lost.
 */
export function cpuDeltaMs(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, cpuMs] of after) total += cpuMs - (before.get(pid) ?? 0);
  return total;
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. Another process can still take it first. */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('The port probe listener has no TCP address');
  return address.port;
}

/** True for localhost, ::1 and 127.0.0.0/8. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
