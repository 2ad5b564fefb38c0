/**
 * Builders of one-dimensional PostgreSQL array literals such as `{a,"b c",NULL}`, the text that
 * array_in parses. A statement that takes one literal per column costs the gateway one string per
 * column. Given a JS array instead, `pg` builds the same text itself, quoting every element and
 * running two regular expression replacements on it.
 *
 * Quoting follows the Arrays chapter of the PostgreSQL manual. An element must be double-quoted
 * when it is empty, matches NULL in any case, or contains braces, commas, double quotes,
 * backslashes or leading or trailing white space. Inside the quotes, a backslash escapes the next
 * character. An unquoted NULL is the null element while the server setting array_nulls is on,
 * which is its default. The comma delimiter suits every type used here, but not box.
 */

/** Characters that end or escape an unquoted element, and white space, which array_in trims. */
const SYNTAX_OR_SPACE = /[{}",\\\s]/;
const QUOTE_OR_BACKSLASH = /["\\]/g;
const QUOTE_OR_BACKSLASH_TEST = /["\\]/;

/** Formats a string as an array element, quoted and escaped where array_in would read it differently. */
export function formatArrayElement(value: string): string {
  if (value !== '' && !SYNTAX_OR_SPACE.test(value) && !(value.length === 4 && value.toUpperCase() === 'NULL')) return value;
  return `"${value.replace(QUOTE_OR_BACKSLASH, '\\$&')}"`;
}

/**
 * Formats `value(item)` of each item as a text array literal, with NULL for null and undefined.
 * Any PostgreSQL type whose input function accepts the text, such as uuid or jsonb, can cast it.
 */
export function formatTextArray<T>(items: readonly T[], value: (item: T) => string | null | undefined): string {
  let literal = '{';
  // Most columns repeat the value of the row before (the organization, key, model), so the last
  // formatted element is reused. Strings of equal content compare equal whatever their instance.
  let previous: string | undefined;
  let previousElement = '';
  for (let index = 0; index < items.length; index += 1) {
    if (index > 0) literal += ',';
    const text = value(items[index]!);
    if (text === null || text === undefined) {
      literal += 'NULL';
      continue;
    }
    if (text !== previous) {
      previous = text;
      previousElement = formatArrayElement(text);
    }
    literal += previousElement;
  }
  return `${literal}}`;
}

/**
 * Formats `value(item)` of each item as a numeric array literal, with NULL for null and undefined.
 * A number is written as String() writes it, so NaN, Infinity or a fraction reach PostgreSQL as
 * such, and an integer column rejects them. A string or bigint is formatted as text.
 */
export function formatNumberArray<T>(items: readonly T[], value: (item: T) => number | string | bigint | null | undefined): string {
  let literal = '{';
  for (let index = 0; index < items.length; index += 1) {
    if (index > 0) literal += ',';
    const number = value(items[index]!);
    if (number === null || number === undefined) literal += 'NULL';
    else if (typeof number === 'number') literal += String(number);
    else literal += formatArrayElement(String(number));
  }
  return `${literal}}`;
}

/**
 * Formats `value(item)` of each item as a bigint array literal of milliseconds since the Unix epoch,
 * which `timestampFromEpochMilliseconds` converts to timestamptz in SQL. In a micro-benchmark on
 * Node 20 on a 2-core VM, Date.prototype.toISOString cost about 30 times as much per value.
 */
export function formatTimestampArray<T>(items: readonly T[], value: (item: T) => Date): string {
  return formatNumberArray(items, (item) => value(item).getTime());
}

/**
 * Returns the SQL expression that converts `expression`, a bigint of milliseconds since the Unix
 * epoch, to timestamptz. The array literal tests check that it is exact for times from 1969 to 2199.
 */
export function timestampFromEpochMilliseconds(expression: string): string {
  return `(timestamptz 'epoch' + ${expression} * interval '1 millisecond')`;
}

/** Formats `value(item)` of each item as a boolean array literal, with NULL for null and undefined. */
export function formatBooleanArray<T>(items: readonly T[], value: (item: T) => boolean | null | undefined): string {
  let literal = '{';
  for (let index = 0; index < items.length; index += 1) {
    if (index > 0) literal += ',';
    const flag = value(items[index]!);
    if (flag === null || flag === undefined) literal += 'NULL';
    else literal += flag ? 't' : 'f';
  }
  return `${literal}}`;
}

/**
 * Formats each item's text array as an element of a text array literal, with NULL for null and
 * undefined. `unnest` cannot return an array per row from a two-dimensional array, so each row's
 * array travels as the text of its own literal, which the statement casts to text[].
 */
export function formatNestedTextArray<T>(items: readonly T[], value: (item: T) => readonly (string | null)[] | null | undefined): string {
  let literal = '{';
  for (let index = 0; index < items.length; index += 1) {
    if (index > 0) literal += ',';
    const array = value(items[index]!);
    if (array === null || array === undefined) {
      literal += 'NULL';
      continue;
    }

    let inner = '{';
    for (let elementIndex = 0; elementIndex < array.length; elementIndex += 1) {
      if (elementIndex > 0) inner += ',';
      const element = array[elementIndex];
      inner += element === null || element === undefined ? 'NULL' : formatArrayElement(element);
    }
    inner += '}';

    // The braces always call for quotes. Quotes and backslashes of quoted inner elements need
    // escaping once more, and testing for them is cheaper than a replacement that finds none.
    if (QUOTE_OR_BACKSLASH_TEST.test(inner)) literal += `"${inner.replace(QUOTE_OR_BACKSLASH, '\\$&')}"`;
    else literal += `"${inner}"`;
  }
  return `${literal}}`;
}
