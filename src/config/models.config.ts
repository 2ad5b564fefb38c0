import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ModelCatalog, parseCatalogEntries } from '../models/catalog.js';

/**
 * Environment variables of the model catalog.
 *
 * MODEL_CATALOG_FILE names a JSON file with an array of extra models, read and validated at start.
 * Each entry has the form
 * `{ "id": "openai/gpt-4o", "aliases": ["gpt-4o"], "contextWindow": 128000, "maxOutputTokens": 16384,
 * "prices": { "inputPerMillion": 2.5, "outputPerMillion": 10, "cacheReadPerMillion": 1.25 } }`,
 * where `aliases` and `prices` (and its cache prices) are optional and prices are USD per million
 * tokens. An entry with the id of a built-in model replaces it.
 */

interface CatalogFile {
  path: string;
  /** The file's entries, already validated. */
  entries: unknown;
}

const catalogFile = z
  .string()
  .optional()
  .transform((raw, context): CatalogFile | undefined => {
    const path = raw?.trim();
    if (path === undefined || path === '') return undefined;

    const fail = (message: string) => {
      context.addIssue({ code: 'custom', message: `${JSON.stringify(path)}: ${message}` });
      return z.NEVER;
    };

    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      return fail(`cannot read the file (${code}); expected the path of a readable JSON file`);
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return fail(`invalid JSON (${(error as Error).message}); expected an array of model entries`);
    }

    const parsed = parseCatalogEntries(json);
    if (!parsed.ok) return fail(parsed.problems.join('; '));
    return { path, entries: json };
  });

export const modelsEnvironment = z.object({
  MODEL_CATALOG_FILE: catalogFile,
});

export type ModelsEnvironment = z.output<typeof modelsEnvironment>;

export interface ModelsConfig {
  /** The operator's catalog file, if any. */
  catalogFile: string | undefined;
  /** The built-in catalog extended with the file's models. */
  catalog: ModelCatalog;
}

/** Builds the settings from a successfully validated environment. */
export function toModelsConfig(environment: ModelsEnvironment): ModelsConfig {
  const file = environment.MODEL_CATALOG_FILE;
  const builtIn = ModelCatalog.builtIn();
  return {
    catalogFile: file?.path,
    catalog: file ? builtIn.extend(file.entries) : builtIn,
  };
}
