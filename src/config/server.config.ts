import { isIP } from 'node:net';
import { z } from 'zod';
import { integer, list, oneOf } from './fields.js';

const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parseOrigin(entry: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return { error: `expected an origin such as https://console.example.com, got ${JSON.stringify(entry)}` };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== entry.replace(/\/$/, '')) {
    return {
      error: `expected an origin (scheme, host and optional port, no path), got ${JSON.stringify(entry)}`,
    };
  }
  return url.origin;
}

export const serverEnvironment = z.object({
  NODE_ENV: oneOf(['development', 'production', 'test'], 'development'),
  LISTEN_HOST: z
    .string()
    .optional()
    .transform((raw, context) => {
      const value = raw?.trim() || '127.0.0.1';
      if (isIP(value) === 0 && !hostnamePattern.test(value)) {
        context.addIssue({
          code: 'custom',
          message: `expected an IP address or host name such as 127.0.0.1 or 0.0.0.0, got ${JSON.stringify(raw)}`,
        });
        return z.NEVER;
      }
      return value;
    }),
  PORT: integer({ default: 4310, min: 0, max: 65535 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  CORS_ORIGINS: list(parseOrigin),
  MAX_HEADER_BYTES: integer({ default: 65_536, min: 8_192, max: 1_048_576, unit: 'bytes' }),
  KEEP_ALIVE_TIMEOUT_MS: integer({ default: 65_000, min: 1_000, max: 600_000, unit: 'milliseconds' }),
  SHUTDOWN_DELAY_MS: integer({ default: 2_000, min: 0, max: 60_000, unit: 'milliseconds' }),
  SHUTDOWN_DRAIN_MS: integer({ default: 60_000, min: 0, max: 3_600_000, unit: 'milliseconds' }),
});

export type ServerEnvironment = z.output<typeof serverEnvironment>;
