import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from '../http/respond.js';
import type { Logger } from '../logger.js';
import type { HttpMetrics } from './http-metrics.js';
import type { MetricsRoute } from './metrics-route.js';

/** Raised when the metrics listener cannot listen; the message names the address and the fix. */
export class MetricsListenError extends Error {
  // The code of the main listener's error, which the start-up reports as an expected failure.
  readonly code = 'listen_failed';
}

/**
 * A listener that serves `/metrics` alone, on METRICS_HOST and METRICS_PORT, so that the main port
 * never exposes it. Every other path gets 404.
 */
export class MetricsListener {
  readonly #server: Server;
  readonly #host: string;
  readonly #port: number;

  constructor(options: { host: string; port: number; route: MetricsRoute; httpMetrics: HttpMetrics; logger: Logger }) {
    this.#host = options.host;
    this.#port = options.port;
    const { route, httpMetrics, logger } = options;

    this.#server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const started = performance.now();
      const path = (request.url ?? '/').split('?', 1)[0]!;
      response.once('close', () => {
        httpMetrics.observe(path, response.writableFinished ? response.statusCode : 499, (performance.now() - started) / 1000);
      });
      if (path !== '/metrics') {
        sendJson(response, 404, { error: { type: 'not_found', message: `This listener serves GET /metrics only, not ${path}.` } });
        return;
      }
      route(request, response).catch((error: unknown) => {
        logger.error({ err: error }, 'Serving /metrics failed');
        if (!response.headersSent) sendJson(response, 500, { error: { type: 'internal_error', message: 'Collecting the metrics failed.' } });
        else response.destroy();
      });
    });
  }

  /** Returns the bound address, or undefined before `listen()` and after `close()`. */
  address(): AddressInfo | undefined {
    const address = this.#server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const address = `${this.#host}:${this.#port}`;
        if (error.code === 'EADDRINUSE') {
          reject(new MetricsListenError(`The metrics port ${this.#port} on ${this.#host} is already in use. Set METRICS_PORT to a free port.`));
        } else if (error.code === 'EADDRNOTAVAIL') {
          reject(new MetricsListenError(`The metrics address ${address} is not available on this machine. Set METRICS_HOST to one of its addresses.`));
        } else if (error.code === 'EACCES') {
          reject(new MetricsListenError(`No permission to listen on ${address}. Set METRICS_PORT to a port above 1023.`));
        } else {
          reject(error);
        }
      };
      this.#server.once('error', onError);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    return this.address()!;
  }

  /** Stops listening and closes open connections; a scrape in progress is cut off. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}
