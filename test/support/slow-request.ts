import { request as httpRequest } from 'node:http';

export interface SlowRequest {
  /** Sends the rest of the body, so that the server can respond. */
  finish(): void;
  /** Settles when the response has ended, or rejects when the connection fails first. */
  response: Promise<{ status: number; body: string }>;
}

/**
 * Starts `POST /graphql` with a declared Content-Length and sends only the first half of the body,
 * so the request stays in flight until `finish()`. This keeps a request open in the real request
 * handler without a test-only route.
 */
export function startSlowGraphqlRequest(baseUrl: string, token: string, query: string): SlowRequest {
  const body = Buffer.from(JSON.stringify({ query }), 'utf8');
  const half = Math.floor(body.length / 2);

  const request = httpRequest(`${baseUrl}/graphql`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': String(body.length),
      authorization: `Bearer ${token}`,
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => {
        text += chunk;
      });
      incoming.on('end', () => resolve({ status: incoming.statusCode!, body: text }));
      incoming.on('error', reject);
    });
    request.on('error', reject);
  });
  // Callers may only look at the response after finishing or after the server cut it off.
  response.catch(() => undefined);

  request.flushHeaders();
  request.write(body.subarray(0, half));
  return {
    finish: () => {
      request.end(body.subarray(half));
    },
    response,
  };
}
