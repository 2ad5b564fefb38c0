import { AsyncLocalStorage } from 'node:async_hooks';

/** Ids of the request being served, for every log line written while serving it. */
export interface RequestIds {
  requestId: string;
  /** The client's own `X-Request-Id`, kept beside ours, never in place of it. */
  clientRequestId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestIds>();

/**
 * pino mixin: adds the current request's ids to each log line that does not carry them already.
 * It returns a copy because pino merges each line's own fields into the object the mixin returns,
 * which would otherwise carry them into every later line of the request.
 */
export function requestIdsMixin(mergeObject: object): object {
  const ids = requestContext.getStore();
  return ids && !('requestId' in mergeObject) ? { ...ids } : {};
}
