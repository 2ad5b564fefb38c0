/**
 * Parses CSV strictly by RFC 4180, for tests. Records end with CRLF (the last one too), and a
 * quoted field doubles its quotes. A bare quote or a lone CR or LF outside quotes is an error.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let position = 0;
  let quoted = false;
  let fieldStart = true;

  while (position < text.length) {
    const character = text[position]!;
    if (quoted) {
      if (character === '"') {
        if (text[position + 1] === '"') {
          field += '"';
          position += 2;
          continue;
        }
        quoted = false;
        position += 1;
        if (![',', '\r', undefined].includes(text[position])) throw new Error(`character after a closing quote at ${position}`);
        continue;
      }
      field += character;
      position += 1;
      continue;
    }
    if (character === '"') {
      if (!fieldStart) throw new Error(`quote inside an unquoted field at ${position}`);
      quoted = true;
      fieldStart = false;
      position += 1;
      continue;
    }
    if (character === ',') {
      record.push(field);
      field = '';
      fieldStart = true;
      position += 1;
      continue;
    }
    if (character === '\r') {
      if (text[position + 1] !== '\n') throw new Error(`CR without LF at ${position}`);
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      fieldStart = true;
      position += 2;
      continue;
    }
    if (character === '\n') throw new Error(`LF without CR at ${position}`);
    field += character;
    fieldStart = false;
    position += 1;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (!fieldStart || record.length > 0) throw new Error('the last record does not end with CRLF');
  return records;
}
