/**
 * The child-process side of the benchmark fakes that bench/proxy-bench/gateway-process.ts starts
 * with startFakeProcess: listening, stopping, and waiting for a slow reader.
 */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on a free port of 127.0.0.1, then prints `{"port":N}` on stdout. The process exits on
 * SIGTERM, on SIGINT and when its stdin closes, which also happens when the benchmark is killed.
 */
export async function serveUntilStdinCloses(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.once('close', stop);
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

/** Resolves true on 'drain', false when the response closes first. Removes both listeners either way. */
export function drained(response: ServerResponse): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(value);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    response.on('drain', onDrain);
    response.on('close', onClose);
  });
}
