import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsEnvironment, toModelsConfig } from '../../src/config/models.config.js';
import { ModelCatalog } from '../../src/models/catalog.js';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'keyroute-models-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function catalogFile(name: string, content: string): Promise<string> {
  const file = path.join(directory, name);
  await writeFile(file, content);
  return file;
}

function issuesOf(variables: Record<string, string>): string[] {
  const parsed = modelsEnvironment.safeParse(variables);
  if (parsed.success) throw new Error('modelsEnvironment accepted the variables');
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('MODEL_CATALOG_FILE', () => {
  it('defaults to the built-in catalog', () => {
    const config = toModelsConfig(modelsEnvironment.parse({}));

    expect(config.catalogFile).toBeUndefined();
    expect(config.catalog.list()).toHaveLength(ModelCatalog.builtIn().list().length);
  });

  it('treats a blank value as unset', () => {
    const config = toModelsConfig(modelsEnvironment.parse({ MODEL_CATALOG_FILE: '  ' }));

    expect(config.catalogFile).toBeUndefined();
  });

  it('adds the file entries', async () => {
    const file = await catalogFile(
      'extra.json',
      JSON.stringify([
        { id: 'openai/gpt-4o', contextWindow: 64_000, maxOutputTokens: 4_096 },
        { id: 'xai/grok-9', aliases: ['grok-next'], contextWindow: 256_000, maxOutputTokens: 32_000 },
      ]),
    );

    const config = toModelsConfig(modelsEnvironment.parse({ MODEL_CATALOG_FILE: file }));

    expect(config.catalogFile).toBe(file);
    expect(config.catalog.get('openai/gpt-4o')?.contextWindow).toBe(64_000);
    expect(config.catalog.get('openai/gpt-4o')?.prices).toBeUndefined();
    expect(config.catalog.resolve('grok-next').ok).toBe(true);
  });

  it('reports a missing file', () => {
    const file = path.join(tmpdir(), 'keyroute-no-such-catalog.json');

    expect(issuesOf({ MODEL_CATALOG_FILE: file })).toEqual([
      `MODEL_CATALOG_FILE: ${JSON.stringify(file)}: cannot read the file (ENOENT); expected the path of a readable JSON file`,
    ]);
  });

  it('reports invalid JSON', async () => {
    const file = await catalogFile('broken.json', '[{"id": "openai/x",]');

    const issues = issuesOf({ MODEL_CATALOG_FILE: file });

    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`${JSON.stringify(file)}: invalid JSON`);
  });

  it('names the file and the entry', async () => {
    const file = await catalogFile(
      'invalid.json',
      JSON.stringify([
        { id: 'openai/gpt-x', contextWindow: 1000, maxOutputTokens: 100 },
        { id: 'openai/gpt-y', contextWindow: -1, maxOutputTokens: 100 },
      ]),
    );

    expect(issuesOf({ MODEL_CATALOG_FILE: file })).toEqual([
      `MODEL_CATALOG_FILE: ${JSON.stringify(file)}: entry 2 ("openai/gpt-y"): contextWindow: expected at least 1 token`,
    ]);
  });
});
