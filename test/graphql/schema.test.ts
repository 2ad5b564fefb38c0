import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printedSchema, schemaFile } from '../../src/graphql/print-schema.js';

describe('schema.graphql', () => {
  it('matches the schema the code builds', async () => {
    const committed = await readFile(schemaFile, 'utf8');

    expect(committed, 'schema.graphql differs from the schema in src/; run `npm run schema:print` and commit the result').toBe(
      printedSchema(),
    );
  });
});
