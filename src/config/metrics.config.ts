import { z } from 'zod';
import { hashSecret } from '../security/secrets.js';
import { flag } from './fields.js';
import { serverEnvironment } from './server.config.js';

const bearerTokenPattern = /^[\x21-\x7e]{16,256}$/;

/**
 * Environment variables of the Prometheus endpoint. `/metrics` is never readable without one of
 * two deliberate choices: a bearer token, or a listener of its own (on 127.0.0.1 unless
 * METRICS_HOST sets another address). Without either, the main port responds with 403 and the fix.
 */
export const metricsEnvironment = z.object({
  METRICS_ENABLED: flag(true),
  // The token itself is never kept, because the configuration contains its SHA-256 only. A message
  // about an invalid value gives its length, never the value.
  METRICS_BEARER_TOKEN: z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const value = raw.trim();
      if (!bearerTokenPattern.test(value)) {
        context.addIssue({
          code: 'custom',
          message: `expected 16 to 256 printable ASCII characters without spaces, got a value of ${value.length} characters`,
        });
        return z.NEVER;
      }
      return hashSecret(value);
    }),
  METRICS_HOST: serverEnvironment.shape.LISTEN_HOST,
  METRICS_PORT: z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const value = Number(raw.trim());
      if (!/^\d+$/.test(raw.trim()) || value > 65_535) {
        context.addIssue({ code: 'custom', message: `expected an integer from 0 to 65535, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return value;
    }),
});

export type MetricsEnvironment = z.output<typeof metricsEnvironment>;

export interface MetricsConfig {
  enabled: boolean;
  /** SHA-256 of METRICS_BEARER_TOKEN; undefined when no token is required. */
  bearerTokenSha256: Buffer | undefined;
  /** The listener of `/metrics` alone; undefined to serve it on the main port. Port 0 picks a free port. */
  listener: { host: string; port: number } | undefined;
}

/** Builds the settings from a successfully validated environment. */
export function toMetricsConfig(environment: MetricsEnvironment): MetricsConfig {
  return {
    enabled: environment.METRICS_ENABLED,
    bearerTokenSha256: environment.METRICS_BEARER_TOKEN,
    listener: environment.METRICS_PORT === undefined ? undefined : { host: environment.METRICS_HOST, port: environment.METRICS_PORT },
  };
}
