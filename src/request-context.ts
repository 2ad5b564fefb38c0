import { AsyncLocalStorage } from 'node:async_hooks';

/** Ids of the request being served, for every log line written while serving it. */
export interface RequestIds {
  requestId: string;
  /** The client's own `X-Request-Id`, kept beside ours, never in place of it. */
  clientRequestId?: string;
}

/**
 * The ids of the GraphQL or export request whose code is running, for log lines written deep in
 * the libraries and services it calls (GraphQL Yoga's own steps, resolvers, services).
 *
 * Proxied requests do not run in it. On Node 20 an enabled AsyncLocalStorage runs a hook for
 * every promise the process creates, which cost about 4% of a proxied request's CPU in a profile
 * under load, and the proxy's few log lines name their request themselves. So the storage is
 * enabled while a request runs in it, and disabled again when the last such request ends.
 */
export const requestContext = new AsyncLocalStorage<RequestIds>();

let requestsInContext = 0;

/** Runs `serve` with `ids` as the request context of everything it calls. */
export async function runWithRequestIds(ids: RequestIds, serve: () => Promise<void>): Promise<void> {
  requestsInContext += 1;
  try {
    await requestContext.run(ids, serve);
  } finally {
    requestsInContext -= 1;
    // Work that a finished request left running (a write it did not wait for) logs without ids.
    if (requestsInContext === 0) requestContext.disable();
  }
}

/**
 * pino mixin: adds the current request's ids to each log line that does not carry them already.
 * It returns a copy because pino merges each line's own fields into the object the mixin returns,
 * which would otherwise carry them into every later line of the request.
 */
export function requestIdsMixin(mergeObject: object): object {
  const ids = requestContext.getStore();
  return ids && !('requestId' in mergeObject) ? { ...ids } : {};
}
