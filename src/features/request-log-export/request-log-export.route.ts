import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import type { RequestLogExportConfig } from '../../config/request-log-export.config.js';
import type { Database } from '../../db/schema.js';
import { ValidationError } from '../../errors.js';
import { sendJson } from '../../http/respond.js';
import type { Logger } from '../../logger.js';
import type { RequestIds } from '../../request-context.js';
import type { ManagementTokenService } from '../management-tokens/management-token.service.js';
import type { RequestLogService } from '../request-logs/request-log.service.js';
import { InvalidExportQueryError, parseExportQuery, type ExportFormat, type ExportQuery, type ExportRange } from './export-query.js';
import { streamRequestLogExport } from './request-log-export.stream.js';

const authenticationMessages = {
  missing: 'Missing management token. Send the header "Authorization: Bearer <token>" with a token from the first start or the CLI.',
  malformed: 'The Authorization header does not hold a management token. Expected "Bearer krm_" followed by 43 characters.',
  invalid: 'The management token is unknown or revoked. Create a new one with the CLI.',
} as const;

const contentTypes: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

/** `20261201T000000Z`: an ISO 8601 time without the characters that file systems or shells reject. */
function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}/, '').replaceAll(/[-:]/g, '');
}

function fileName(format: ExportFormat, range: ExportRange): string {
  return `keyroute-request-logs-${compactTimestamp(range.from)}-${compactTimestamp(range.to)}.${format}`;
}

function sendInvalidRequest(response: ServerResponse, parameter: string, message: string): void {
  sendJson(response, 400, { error: { type: 'invalid_request', message, parameter } });
}

/**
 * `GET /export/request-logs`: the calling organization's request log over a bounded range, as CSV
 * or NDJSON, streamed batch by batch. Takes a management token of either scope, checked like the
 * token of `/graphql`. The range has the defaults and limits of the requestLogs query, which
 * `requestLogs.checkRange` applies. Errors before the first byte are JSON with a status. A failure
 * after it cuts the response off, so a client never mistakes a partial file for a whole one.
 */
export function createRequestLogExportRoute(options: {
  db: Kysely<Database>;
  managementTokens: ManagementTokenService;
  requestLogs: Pick<RequestLogService, 'checkRange'>;
  config: RequestLogExportConfig;
  logger: Logger;
}) {
  const { db, managementTokens, requestLogs, config, logger } = options;

  return async function handleRequestLogExport(request: IncomingMessage, response: ServerResponse, ids: RequestIds): Promise<void> {
    if (request.method !== 'GET') {
      sendJson(response, 405, { error: { type: 'method_not_allowed', message: `/export/request-logs takes GET, not ${request.method}.` } }, { allow: 'GET' });
      return;
    }

    const authentication = await managementTokens.authenticate(request.headers.authorization);
    if (!authentication.ok) {
      sendJson(response, 401, { error: { type: 'authentication_error', message: authenticationMessages[authentication.reason] } }, {
        // RFC 6750 sections 3 and 3.1: no error code when the request carried no token, else invalid_token.
        'www-authenticate': authentication.reason === 'missing' ? 'Bearer realm="keyroute"' : 'Bearer realm="keyroute", error="invalid_token"',
      });
      return;
    }

    let query: ExportQuery;
    let range: ExportRange;
    try {
      query = parseExportQuery(new URL(request.url ?? '/', 'http://localhost').searchParams);
      range = requestLogs.checkRange({ from: query.from, to: query.to });
    } catch (error) {
      if (error instanceof InvalidExportQueryError) {
        sendInvalidRequest(response, error.parameter, error.message);
        return;
      }
      if (error instanceof ValidationError) {
        sendInvalidRequest(response, String(error.issues[0]!.path[0]), error.message);
        return;
      }
      throw error;
    }

    const { organizationId } = authentication.principal;
    const started = performance.now();
    const outcome = await streamRequestLogExport({
      db,
      organizationId,
      format: query.format,
      range,
      filter: query.filter,
      batchRows: config.batchRows,
      response,
      headers: {
        'content-type': contentTypes[query.format],
        'content-disposition': `attachment; filename="${fileName(query.format, range)}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    });
    const summary = {
      organizationId,
      format: query.format,
      from: range.from,
      to: range.to,
      rows: outcome.rows,
      batches: outcome.batches,
      durationMs: Math.round(performance.now() - started),
    };

    switch (outcome.result) {
      case 'completed':
        logger.info(summary, 'Request log export completed');
        return;
      case 'client_disconnected':
        logger.info(summary, 'Request log export stopped because the client disconnected');
        return;
      case 'failed':
        logger.error({ ...summary, err: outcome.error }, `Request log export failed after ${outcome.rows} rows`);
        if (!response.headersSent) {
          sendJson(response, 503, {
            error: {
              type: 'service_unavailable',
              message: `Reading the request log failed. Retry shortly, and quote request id ${ids.requestId} if it keeps failing.`,
            },
          });
        } else {
          // A chunked response without its last chunk makes the client report the file as incomplete.
          response.destroy();
        }
        return;
    }
  };
}
