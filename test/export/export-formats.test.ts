import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/features/request-log-export/export-formats.js';
import { InvalidExportQueryError, parseExportQuery } from '../../src/features/request-log-export/export-query.js';

describe('CSV cells', () => {
  it.each([
    ['=cmd()', "'=cmd()"],
    ['+1+1', "'+1+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tindent', "'\tindent"],
  ])('formula %j is escaped', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('carriage return is escaped and quoted', () => {
    expect(csvCell('\r=cmd()')).toBe(`"'\r=cmd()"`);
  });

  it('formula later in the text stays', () => {
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('quotes are doubled', () => {
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
  });

  it('comma is quoted', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
  });

  it('line feed is quoted', () => {
    expect(csvCell('a\nb')).toBe('"a\nb"');
  });

  it('escape comes before quoting', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
  });

  it('null is empty', () => {
    expect(csvCell(null)).toBe('');
  });

  it('numbers and booleans are plain', () => {
    expect(csvCell(1234)).toBe('1234');
    expect(csvCell(false)).toBe('false');
  });

  it('tags join with commas', () => {
    expect(csvCell(['=cmd()', 'b'])).toBe(`"'=cmd(),b"`);
  });
});

function parse(query: string) {
  return parseExportQuery(new URLSearchParams(query));
}

function rejection(query: string): InvalidExportQueryError {
  try {
    parse(query);
  } catch (error) {
    if (error instanceof InvalidExportQueryError) return error;
    throw error;
  }
  throw new Error(`parseExportQuery accepted ${query}`);
}

describe('export query', () => {
  it('date-only bounds are UTC midnight', () => {
    const query = parse('format=csv&from=2026-12-01&to=2026-12-02');

    expect(query.from?.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(query.to?.toISOString()).toBe('2026-12-02T00:00:00.000Z');
  });

  it('offsets are honoured', () => {
    const query = parse('format=csv&from=2026-12-01T08:00:00%2B02:00&to=2026-12-02');

    expect(query.from?.toISOString()).toBe('2026-12-01T06:00:00.000Z');
  });

  it('bounds are optional', () => {
    const query = parse('format=csv');

    expect(query.from).toBeUndefined();
    expect(query.to).toBeUndefined();
  });

  it('missing format', () => {
    expect(rejection('from=2026-12-01').parameter).toBe('format');
  });

  it('repeated parameter', () => {
    expect(rejection('format=csv&format=ndjson&from=2026-12-01&to=2026-12-02').message).toContain('more than once');
  });

  it('unknown provider lists the providers', () => {
    const error = rejection('format=csv&from=2026-12-01&to=2026-12-02&provider=acme');

    expect(error.parameter).toBe('provider');
    expect(error.message).toContain('OPENAI');
  });

  it('vertex prefix is Vertex AI', () => {
    expect(parse('format=csv&from=2026-12-01&to=2026-12-02&provider=vertex').filter.provider).toBe('VERTEX_AI');
  });

  it('tag longer than stored tags', () => {
    expect(rejection(`format=csv&from=2026-12-01&to=2026-12-02&tag=${'x'.repeat(65)}`).parameter).toBe('tag');
  });

  it('garbled global id', () => {
    const error = rejection('format=csv&from=2026-12-01&to=2026-12-02&providerKeyId=garbage');

    expect(error.parameter).toBe('providerKeyId');
    expect(error.message).toContain('is not a valid id');
  });

  it('statusClass is case-insensitive', () => {
    expect(parse('format=csv&from=2026-12-01&to=2026-12-02&statusClass=5XX').filter.statusClass).toBe('5xx');
  });

  it('impossible date', () => {
    expect(rejection('format=csv&from=2026-02-30T00:00:00Z&to=2026-12-02').parameter).toBe('from');
  });
});
