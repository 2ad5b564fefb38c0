import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatArrayElement,
  formatBooleanArray,
  formatNestedTextArray,
  formatNumberArray,
  formatTextArray,
  formatTimestampArray,
  timestampFromEpochMilliseconds,
} from '../../src/proxy/request-log/array-literal.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** Strings that array_in would misread unless they are quoted or escaped, and some it reads as they are. */
const trickyStrings = [
  'plain',
  '',
  ' ',
  '  padded  ',
  'NULL',
  'null',
  'nUlL',
  'NULLS',
  '"NULL"',
  'a,b',
  ',',
  '{',
  '}',
  '{a,b}',
  '{}',
  '[1:2]={x,y}',
  '"',
  '""',
  '\\',
  '\\\\',
  '\\"',
  'ends with \\',
  'say "hi", {ok}',
  "it's",
  '$1',
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  '\u000b\u000c',
  '\u0001\u001f\u007f',
  'non-breaking\u00a0space',
  'Grüße, 日本',
  'emoji 😀 and family 👩‍👩‍👧',
  'right-to-left \u202eabc',
];

describe('formatArrayElement', () => {
  it.each([
    ['a plain string', 'claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['a UUID', '0b7c1c8e-7f5a-4f0e-9d2b-3f8f5a7c2e10', '0b7c1c8e-7f5a-4f0e-9d2b-3f8f5a7c2e10'],
    ['an empty string', '', '""'],
    ['NULL', 'NULL', '"NULL"'],
    ['null in lower case', 'null', '"null"'],
    ['null in mixed case', 'NuLl', '"NuLl"'],
    ['a word starting with NULL', 'NULLS', 'NULLS'],
    ['a comma', 'a,b', '"a,b"'],
    ['braces', '{a}', '"{a}"'],
    ['double quotes', 'say "hi"', '"say \\"hi\\""'],
    ['a backslash', 'C:\\temp', '"C:\\\\temp"'],
    ['a leading space', ' a', '" a"'],
    ['a trailing space', 'a ', '"a "'],
    ['an inner space', 'a b', '"a b"'],
    ['a tab', 'a\tb', '"a\tb"'],
    ['a newline', 'a\nb', '"a\nb"'],
    ['non-ASCII letters', 'Grüße-日本', 'Grüße-日本'],
  ])('formats %s', (_, value, expected) => {
    expect(formatArrayElement(value)).toBe(expected);
  });
});

describe('array literal builders', () => {
  it('writes null and undefined as NULL', () => {
    expect(formatTextArray(['a', null, undefined, 'NULL'], (value) => value)).toBe('{a,NULL,NULL,"NULL"}');
  });

  it('writes an empty list as an empty array', () => {
    expect(formatTextArray([], (value: string) => value)).toBe('{}');
  });

  it('repeats an element equal to the one before', () => {
    expect(formatTextArray(['a b', 'a b', 'c', 'a b'], (value) => value)).toBe('{"a b","a b",c,"a b"}');
  });

  it('writes numbers as String does', () => {
    expect(formatNumberArray([0, -12, 1_200, 2 ** 53, null, '9007199254740993'], (value) => value)).toBe(
      '{0,-12,1200,9007199254740992,NULL,9007199254740993}',
    );
  });

  it('writes booleans as t and f', () => {
    expect(formatBooleanArray([true, false, null], (value) => value)).toBe('{t,f,NULL}');
  });

  it('writes timestamps as epoch milliseconds', () => {
    const times = [new Date('1970-01-01T00:00:00.000Z'), new Date('2030-01-15T10:20:30.456Z')];

    expect(formatTimestampArray(times, (time) => time)).toBe('{0,1894702830456}');
  });

  it('quotes each nested array', () => {
    expect(formatNestedTextArray([['a', 'b'], [], null], (value) => value)).toBe('{"{a,b}","{}",NULL}');
  });

  it('escapes a nested element twice', () => {
    expect(formatNestedTextArray([['say "hi"']], (value) => value)).toBe('{"{\\"say \\\\\\"hi\\\\\\"\\"}"}');
  });
});

// PostgreSQL, or PGlite without DATABASE_URL, parses each literal back, and the result must equal the input.
describe('array literals in PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    await database?.destroy();
  });

  async function selectValues<Row>(text: string, parameter: string): Promise<Row[]> {
    const result = await database.db.executeQuery<Row>(CompiledQuery.raw(text, [parameter]));
    return result.rows;
  }

  it('reads text elements back unchanged', async () => {
    const [row] = await selectValues<{ value: string[] }>('select $1::text[] as value', formatTextArray(trickyStrings, (value) => value));

    expect(row!.value).toEqual(trickyStrings);
  });

  it('reads each text element at its index', async () => {
    const rows = await selectValues<{ value: string }>(
      'select value from unnest($1::text[]) with ordinality as u(value, position) order by position',
      formatTextArray(trickyStrings, (value) => value),
    );

    expect(rows).toHaveLength(trickyStrings.length);
    for (const [index, string] of trickyStrings.entries()) expect(rows[index]!.value).toBe(string);
  });

  it('reads NULL as null and quoted NULL as text', async () => {
    const [row] = await selectValues<{ value: (string | null)[] }>(
      'select $1::text[] as value',
      formatTextArray([null, 'NULL', undefined, 'null'], (value) => value),
    );

    expect(row!.value).toEqual([null, 'NULL', null, 'null']);
  });

  it('reads nested arrays back unchanged', async () => {
    const arrays = [[], ['a'], trickyStrings.slice(0, 12), trickyStrings.slice(12, 24), trickyStrings.slice(24)];

    const rows = await selectValues<{ value: string[] }>(
      'select value::text[] as value from unnest($1::text[]) with ordinality as u(value, position) order by position',
      formatNestedTextArray(arrays, (value) => value),
    );

    expect(rows.map((row) => row.value)).toEqual(arrays);
  });

  it('reads JSON texts as jsonb', async () => {
    const objects = [{ text: 'say "hi", {ok} \\ end' }, { nested: { list: [1, null, 'NULL'] } }];

    const [row] = await selectValues<{ value: unknown[] }>(
      'select $1::jsonb[] as value',
      formatTextArray(objects, (value) => JSON.stringify(value)),
    );

    expect(row!.value).toEqual(objects);
  });

  it('reads numbers and booleans back unchanged', async () => {
    const numbers = await selectValues<{ value: (number | null)[] }>('select $1::integer[] as value', formatNumberArray([0, -7, 2_147_483_647, null], (value) => value));
    const flags = await selectValues<{ value: (boolean | null)[] }>('select $1::boolean[] as value', formatBooleanArray([true, false, null], (value) => value));

    expect(numbers[0]!.value).toEqual([0, -7, 2_147_483_647, null]);
    expect(flags[0]!.value).toEqual([true, false, null]);
  });

  it('converts epoch milliseconds to exact timestamps', async () => {
    const times = [
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '2030-01-15T10:20:30.001Z',
      '2030-01-15T10:59:59.999Z',
      '2199-12-31T23:59:59.999Z',
    ].map((time) => new Date(time));

    const rows = await selectValues<{ value: Date }>(
      `select ${timestampFromEpochMilliseconds('ms')} as value from unnest($1::bigint[]) with ordinality as u(ms, position) order by position`,
      formatTimestampArray(times, (time) => time),
    );

    expect(rows.map((row) => row.value)).toEqual(times);
  });

  it('leaves a NUL character for the server to reject', async () => {
    // PostgreSQL text cannot hold U+0000, so a row with one is rejected as invalid data and dropped.
    await expect(selectValues('select $1::text[] as value', formatTextArray(['a\u0000b'], (value) => value))).rejects.toMatchObject({
      code: expect.stringMatching(/^22/),
    });
  });
});
