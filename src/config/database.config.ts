import { z } from 'zod';
import { flag, integer } from './fields.js';

export const databaseEnvironment = z.object({
  // The URL can carry a password, so its value is never echoed in an error.
  DATABASE_URL: z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return undefined;
      let url: URL;
      try {
        url = new URL(raw.trim());
      } catch {
        context.addIssue({
          code: 'custom',
          message: 'expected a URL such as postgres://user:password@host:5432/database; the value is not a URL',
        });
        return z.NEVER;
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
        context.addIssue({
          code: 'custom',
          message: `expected a postgres:// or postgresql:// URL, got the scheme ${JSON.stringify(url.protocol)}`,
        });
        return z.NEVER;
      }
      try {
        decodeURIComponent(url.pathname);
      } catch {
        context.addIssue({
          code: 'custom',
          message: 'expected a percent-encoded database name, with % written as %25; the URL path has an invalid % sequence',
        });
        return z.NEVER;
      }
      if (url.pathname.length <= 1 && !url.searchParams.has('host')) {
        context.addIssue({
          code: 'custom',
          message: 'expected a database name in the URL path, such as postgres://localhost:5432/keyroute',
        });
        return z.NEVER;
      }
      return raw.trim();
    }),
  DATA_DIR: z
    .string()
    .optional()
    .transform((raw) => raw?.trim() || '.keyroute-data'),
  DATABASE_POOL_MAX: integer({ default: 10, min: 1, max: 1_000 }),
  DATABASE_CONNECT_TIMEOUT_MS: integer({ default: 5_000, min: 100, max: 120_000, unit: 'milliseconds' }),
  MIGRATE_ON_START: flag(true),
});

export type DatabaseEnvironment = z.output<typeof databaseEnvironment>;
