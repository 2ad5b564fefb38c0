import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { RequestLogEntry } from '../../src/proxy/request-log/request-log-entry.js';
import type { InProcessServer } from '../support/in-process-server.js';

export interface GraphqlResult<Result> {
  status: number;
  data?: Result | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  /** The body as received. */
  raw: string;
}

/** Issues a management token for an organization through the service, as the CLI does. */
export async function issueToken(server: InProcessServer, organizationId: string, scope: 'read' | 'write' = 'read'): Promise<string> {
  const { token } = await server.running.app.services.managementTokens.issue({ organizationId, scope, actorLabel: `usage test ${scope}` });
  return token;
}

/** Posts a typed document to the server's `/graphql` with a management token. */
export async function runGraphql<Result, Variables>(
  server: InProcessServer,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  token: string,
): Promise<GraphqlResult<Result>> {
  const response = await fetch(`${server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const raw = await response.text();
  const parsed = JSON.parse(raw) as Pick<GraphqlResult<Result>, 'data' | 'errors'>;
  return { status: response.status, data: parsed.data, errors: parsed.errors, raw };
}

/** Hands entries to the server's request log writer and waits until they are written. */
export async function writeEntries(server: InProcessServer, entries: readonly RequestLogEntry[]): Promise<void> {
  const writer = server.running.app.requestLog;
  for (const entry of entries) writer.enqueue(entry);
  await writer.flush();
  if (writer.stats.queued > 0) throw new Error(`${writer.stats.queued} request log entries are still queued after a flush`);
}

/** Narrows a union result to one member, failing with the whole result otherwise. */
export function member<T extends { __typename: string }, Name extends T['__typename']>(
  value: T | null | undefined,
  typename: Name,
): Extract<T, { __typename: Name }> {
  if (value?.__typename !== typename) throw new Error(`expected a ${typename}, got ${JSON.stringify(value)}`);
  return value as Extract<T, { __typename: Name }>;
}
