import { pino, type DestinationStream, type Logger } from 'pino';
import { requestIdsMixin } from './request-context.js';

export type { Logger };

/**
 * Fields that can carry a credential anywhere in a log object. pino's redaction matches exact
 * paths, so each name is listed at the top level and one or two levels down.
 */
const secretFields = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-keyroute-api-key',
  'x-edgee-api-key',
  'x-goog-api-key',
  'api-key',
  'apiKey',
  'password',
  'secret',
  'secretAccessKey',
  'privateKey',
  'private_key',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'credentials',
  'plaintext',
  'dataKey',
  'connectionString',
];

export const redactedPaths = secretFields.flatMap((field) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
  const join = (prefix: string) => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
  return [key, join('*'), join('*.*'), join('*.*.*')];
});

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'keyroute' },
      mixin: requestIdsMixin,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
