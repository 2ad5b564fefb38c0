import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { formatPreamble, formatRows } from './export-formats.js';
import type { ExportFilter, ExportFormat, ExportRange } from './export-query.js';
import { selectRequestLogExportBatch, type ExportPosition } from './request-log-export.repository.js';

export type ExportOutcome =
  | { result: 'completed' | 'client_disconnected'; rows: number; batches: number }
  | { result: 'failed'; rows: number; batches: number; error: unknown };

/**
 * Writes the rows in `range` that match `filter` to `response` in keyset batches of `batchRows`, holding one
 * batch in memory at a time. After each batch it waits for 'drain' when the socket buffer is
 * full, so a slow client slows the queries down instead of filling memory. The loop stops after
 * the current query when the client disconnects.
 *
 * The first batch is read before the status line is sent, so a database that fails at once still
 * gets an error status. `headers` go out with the 200. Never rejects, because a failure is
 * returned as the outcome.
 */
export async function streamRequestLogExport(options: {
  db: Kysely<Database>;
  organizationId: string;
  format: ExportFormat;
  range: ExportRange;
  filter: ExportFilter;
  batchRows: number;
  response: ServerResponse;
  headers: OutgoingHttpHeaders;
}): Promise<ExportOutcome> {
  const { db, organizationId, format, range, filter, batchRows, response } = options;
  const disconnected = new AbortController();
  const onClose = () => disconnected.abort();
  response.once('close', onClose);

  let rows = 0;
  let batches = 0;
  let after: ExportPosition | undefined;
  try {
    for (;;) {
      const batch = await selectRequestLogExportBatch(db, organizationId, range, filter, after, batchRows);
      batches += 1;
      if (disconnected.signal.aborted) return { result: 'client_disconnected', rows, batches };

      let chunk = formatRows(format, batch);
      if (!response.headersSent) {
        response.writeHead(200, options.headers);
        chunk = formatPreamble(format) + chunk;
      }
      rows += batch.length;
      const hasRoom = chunk.length === 0 || response.write(chunk);

      if (batch.length < batchRows) {
        response.end();
        return { result: 'completed', rows, batches };
      }
      const last = batch.at(-1)!;
      after = { occurredAt: last.occurred_at_text, id: last.id };
      if (!hasRoom) await drainOrDisconnect(response, disconnected.signal);
      if (disconnected.signal.aborted) return { result: 'client_disconnected', rows, batches };
    }
  } catch (error) {
    return { result: 'failed', rows, batches, error };
  } finally {
    response.off('close', onClose);
  }
}

/** Resolves on the response's next 'drain', or at once when `signal` aborts first. */
function drainOrDisconnect(response: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.on('drain', done);
    signal.addEventListener('abort', done);
  });
}
