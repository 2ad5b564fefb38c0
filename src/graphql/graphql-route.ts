import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/environment.js';
import { PayloadTooLargeError, readBody } from '../http/body.js';
import { sendJson } from '../http/respond.js';
import type { Logger } from '../logger.js';
import type { RequestIds } from '../request-context.js';
import type { Services } from '../services.js';
import { createGraphqlServer } from './yoga.js';

const authenticationMessages = {
  missing: 'Missing management token. Send the header "Authorization: Bearer <token>" with a token from the first start or the CLI.',
  malformed: 'The Authorization header does not hold a management token. Expected "Bearer krm_" followed by 43 characters.',
  invalid: 'The management token is unknown or revoked. Create a new one with the CLI.',
} as const;

function graphqlError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * `/graphql`: authenticates the management token, bounds the body, then hands the request to Yoga.
 * Only the GraphiQL page and CORS preflights pass without a token, and neither executes anything.
 */
export function createGraphqlRoute(config: Config, logger: Logger, services: Services) {
  const yoga = createGraphqlServer(config, logger);

  return async function handleGraphql(request: IncomingMessage, response: ServerResponse, ids: RequestIds) {
    const method = request.method ?? 'GET';
    // Yoga responds to such a request with the GraphiQL page only while GraphiQL is enabled.
    // Otherwise it executes the query in the URL, so the request needs a token like any other.
    const rendersGraphiql =
      config.graphql.graphiql && method === 'GET' && (request.headers.accept ?? '').includes('text/html');

    let principal;
    if (method !== 'OPTIONS' && !rendersGraphiql) {
      const authentication = await services.managementTokens.authenticate(request.headers.authorization);
      if (!authentication.ok) {
        sendJson(response, 401, graphqlError(authenticationMessages[authentication.reason], 'UNAUTHENTICATED'), {
          // RFC 6750 sections 3 and 3.1: no error code when the request carried no token, else invalid_token.
          'www-authenticate':
            authentication.reason === 'missing' ? 'Bearer realm="keyroute"' : 'Bearer realm="keyroute", error="invalid_token"',
        });
        return;
      }
      principal = authentication.principal;
    }

    let body: Buffer | undefined;
    if (method === 'POST') {
      try {
        body = await readBody(request, config.graphql.maxBodyBytes);
      } catch (error) {
        if (!(error instanceof PayloadTooLargeError)) throw error;
        sendJson(
          response,
          413,
          graphqlError(
            `The GraphQL request body is larger than ${error.limitBytes} bytes. Send a smaller document, or raise GRAPHQL_MAX_BODY_BYTES.`,
            'PAYLOAD_TOO_LARGE',
          ),
          { connection: 'close' },
        );
        return;
      }
    }

    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const yogaRequest = new Request(`http://localhost${request.url ?? '/graphql'}`, {
      method,
      headers,
      ...(body && { body: body.toString('utf8') }),
    });
    const yogaResponse = await yoga.fetch(yogaRequest, { ...ids, logger, principal, services });

    const payload = Buffer.from(await yogaResponse.arrayBuffer());
    const responseHeaders: Record<string, string> = {};
    yogaResponse.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    responseHeaders['content-length'] = String(payload.length);
    response.writeHead(yogaResponse.status, responseHeaders);
    response.end(payload);
  };
}
