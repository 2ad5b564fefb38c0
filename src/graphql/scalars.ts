import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';

// RFC 3339 date-time with an explicit offset, so no value depends on the server's time zone.
const dateTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && dateTimePattern.test(value)) {
    const date = new Date(value);
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
