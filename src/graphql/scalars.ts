import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

// RFC 3339 date-time with an explicit offset, so no value depends on the server's time zone.
const dateTimePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/i;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Checks the fields against the calendar, because `Date` rolls impossible values over
 * (February 30 becomes March 2, 24:00 the next day) where RFC 3339 section 5.7 allows neither.
 */
function isRealDateTime(match: RegExpExecArray): boolean {
  const fields = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = fields;
  const offsetHours = Number(match[8] ?? 0);
  const offsetMinutes = Number(match[9] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  return hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59;
}

function parseDateTime(value: unknown): Date {
  const match = typeof value === 'string' ? dateTimePattern.exec(value) : null;
  if (match && isRealDateTime(match)) {
    const date = new Date(match[0]);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new GraphQLError(
    `DateTime must be an RFC 3339 date-time with a time zone, such as 2027-01-31T12:00:00Z; got ${JSON.stringify(value)?.slice(0, 80)}`,
  );
}

builder.scalarType('DateTime', {
  description: 'An RFC 3339 date-time with a time zone, such as `2027-01-31T12:00:00Z`. Output is always UTC.',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => {
    if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string such as "2027-01-31T12:00:00Z".');
    return parseDateTime(node.value);
  },
});
