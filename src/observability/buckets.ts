/**
 * Histogram bucket bounds in seconds. A proxied request can last from milliseconds to the 600 s
 * idle timeout of a long stream, so the request buckets span that whole range.
 */
export const requestDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The gateway's own share of a request, whose target is well under a millisecond. */
export const overheadBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Calls to AWS KMS or the local keyring: microseconds locally, up to the KMS timeout with retries. */
export const keyBackendBuckets = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];
