import { ExpectedError, ValidationError } from '../../errors.js';
import { decodeIdFor } from '../../graphql/global-id.js';
import { providers, type ProviderId } from '../../providers/providers.js';
import { MAX_TAG_LENGTH } from '../../proxy/request-log/request-log-entry.js';
import type { CredentialSource } from '../provider-keys/resolution.js';

export type ExportFormat = 'csv' | 'ndjson';

/** `2xx`, `4xx` and `5xx` are status ranges; `499` (a client that left) is its own class and not part of `4xx`. */
export type StatusClass = '2xx' | '4xx' | '5xx' | '499';

/** Time range of an export: `from` inclusive, `to` exclusive. */
export interface ExportRange {
  from: Date;
  to: Date;
}

/** Row filter of one organization's export, besides the time range. */
export interface ExportFilter {
  provider?: ProviderId | undefined;
  model?: string | undefined;
  credentialSource?: CredentialSource | undefined;
  statusClass?: StatusClass | undefined;
  gatewayKeyId?: string | undefined;
  providerKeyId?: string | undefined;
  tag?: string | undefined;
}

export interface ExportQuery {
  format: ExportFormat;
  /** As given; the caller fills in the defaults and checks the span. */
  from: Date | undefined;
  to: Date | undefined;
  filter: ExportFilter;
}

/** A query parameter of the export is missing or invalid; the message names the parameter and the fix. */
export class InvalidExportQueryError extends ExpectedError {
  readonly code = 'invalid_request';

  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidExportQueryError';
  }
}

const parameterNames = [
  'format',
  'from',
  'to',
  'provider',
  'model',
  'credentialSource',
  'statusClass',
  'gatewayKeyId',
  'providerKeyId',
  'tag',
] as const;

type ParameterName = (typeof parameterNames)[number];

/** A date, or a date and time with `Z` or an offset: a time without a zone would depend on the server's zone. */
const timestampPattern = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;
const credentialSources: readonly CredentialSource[] = ['GATEWAY_KEY', 'ORGANIZATION', 'PLATFORM'];
const statusClasses: readonly StatusClass[] = ['2xx', '4xx', '5xx', '499'];
const maxModelLength = 256;

/**
 * Parses and validates the query string of `GET /export/request-logs`. Throws
 * InvalidExportQueryError for an unknown or repeated parameter, a missing `format`, or an invalid
 * value. The range is left to the caller, which applies the rules of the requestLogs query.
 */
export function parseExportQuery(search: URLSearchParams): ExportQuery {
  const values = readParameters(search);

  const format = values.get('format');
  if (format === undefined) throw new InvalidExportQueryError('format', 'Missing format. Add format=csv or format=ndjson.');
  if (format !== 'csv' && format !== 'ndjson') {
    throw new InvalidExportQueryError('format', `Invalid format ${JSON.stringify(format)}. Use format=csv or format=ndjson.`);
  }

  return {
    format,
    from: parseTimestamp(values, 'from'),
    to: parseTimestamp(values, 'to'),
    filter: {
      provider: parseProvider(values.get('provider')),
      model: parseModel(values.get('model')),
      credentialSource: parseCredentialSource(values.get('credentialSource')),
      statusClass: parseStatusClass(values.get('statusClass')),
      gatewayKeyId: parseGlobalId(values, 'gatewayKeyId', 'GatewayKey'),
      providerKeyId: parseGlobalId(values, 'providerKeyId', 'ProviderKey'),
      tag: parseTag(values.get('tag')),
    },
  };
}

function readParameters(search: URLSearchParams): Map<ParameterName, string> {
  const values = new Map<ParameterName, string>();
  for (const [name, value] of search) {
    if (!(parameterNames as readonly string[]).includes(name)) {
      throw new InvalidExportQueryError(name, `Unknown parameter ${JSON.stringify(name)}. The parameters are ${parameterNames.join(', ')}.`);
    }
    const known = name as ParameterName;
    if (values.has(known)) {
      throw new InvalidExportQueryError(name, `The parameter ${name} is given more than once. Give it once; each filter takes one value.`);
    }
    values.set(known, value);
  }
  return values;
}

function parseTimestamp(values: Map<ParameterName, string>, name: 'from' | 'to'): Date | undefined {
  const raw = values.get(name);
  if (raw === undefined) return undefined;
  const match = timestampPattern.exec(raw);
  const date = match && hasValidFields(match) ? new Date(raw) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new InvalidExportQueryError(
      name,
      `Invalid ${name} ${JSON.stringify(raw)}. Give an ISO 8601 date such as 2026-12-01, or a time with Z or an offset such as 2026-12-01T08:00:00+01:00.`,
    );
  }
  return date;
}

/** Checks the calendar fields, because Date rolls an impossible date such as February 30 over into March. */
function hasValidFields(match: RegExpExecArray): boolean {
  const [, year, month, day, hour = '0', minute = '0', second = '0', offsetHours = '0', offsetMinutes = '0'] = match;
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  return (
    Number(month) >= 1 &&
    Number(month) <= 12 &&
    Number(day) >= 1 &&
    Number(day) <= daysInMonth &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59 &&
    Number(offsetHours) <= 23 &&
    Number(offsetMinutes) <= 59
  );
}

/** Accepts the GraphQL enum value in any case (`OPENAI`, `vertex_ai`) or the model-reference prefix (`vertex`). */
function parseProvider(raw: string | undefined): ProviderId | undefined {
  if (raw === undefined) return undefined;
  const provider = providers.find((entry) => entry.id === raw.toUpperCase() || entry.prefix === raw.toLowerCase());
  if (provider === undefined) {
    throw new InvalidExportQueryError('provider', `Unknown provider ${JSON.stringify(raw)}. Use one of ${providers.map((entry) => entry.id).join(', ')}.`);
  }
  return provider.id;
}

function parseModel(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length === 0 || raw.length > maxModelLength) {
    throw new InvalidExportQueryError('model', `model must be 1 to ${maxModelLength} characters, such as model=openai/gpt-4o.`);
  }
  return raw;
}

function parseCredentialSource(raw: string | undefined): CredentialSource | undefined {
  if (raw === undefined) return undefined;
  const source = credentialSources.find((candidate) => candidate === raw.toUpperCase());
  if (source === undefined) {
    throw new InvalidExportQueryError('credentialSource', `Unknown credentialSource ${JSON.stringify(raw)}. Use one of ${credentialSources.join(', ')}.`);
  }
  return source;
}

function parseStatusClass(raw: string | undefined): StatusClass | undefined {
  if (raw === undefined) return undefined;
  const statusClass = statusClasses.find((candidate) => candidate === raw.toLowerCase());
  if (statusClass === undefined) {
    throw new InvalidExportQueryError(
      'statusClass',
      `Unknown statusClass ${JSON.stringify(raw)}. Use one of ${statusClasses.join(', ')}; 499 (the client left) is not part of 4xx.`,
    );
  }
  return statusClass;
}

function parseGlobalId(values: Map<ParameterName, string>, name: 'gatewayKeyId' | 'providerKeyId', typename: string): string | undefined {
  const raw = values.get(name);
  if (raw === undefined) return undefined;
  try {
    return decodeIdFor(typename, raw, [name]);
  } catch (error) {
    if (error instanceof ValidationError) throw new InvalidExportQueryError(name, `${error.message}.`);
    throw error;
  }
}

function parseTag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  // Stored tags are trimmed, non-empty and at most MAX_TAG_LENGTH code points, so no other tag can match.
  if (raw.trim() !== raw || raw === '' || Array.from(raw).length > MAX_TAG_LENGTH) {
    throw new InvalidExportQueryError('tag', `tag must be 1 to ${MAX_TAG_LENGTH} characters without leading or trailing spaces, as tags are stored.`);
  }
  return raw;
}

