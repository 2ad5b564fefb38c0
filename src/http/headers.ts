import type { IncomingHttpHeaders } from 'node:http';

/** Returns a request header as one string, joining repeated values with commas as RFC 9110 allows. */
export function headerText(value: IncomingHttpHeaders[string]): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
