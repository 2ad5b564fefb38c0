import { AsyncLocalStorage } from 'node:async_hooks';

/** Ids of the request being served, for every log line written while serving it. */
export interface RequestIds {
  requestId: string;
  /** The client's own `X-Request-Id`, kept beside ours, never in place of it. */
  clientRequestId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestIds>();

/** pino mixin: adds the current request's ids to each log line. */
export function requestIdsMixin(): object {
  return requestContext.getStore() ?? {};
}
