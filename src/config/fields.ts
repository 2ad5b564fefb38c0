import { z } from 'zod';

/**
 * Field builders for environment variables. Every variable arrives as an optional string; each
 * builder turns it into a typed value and states the expected form in its error message, so the
 * start-up report reads "NAME: expected ...".
 */

export function integer(options: { default: number; min: number; max: number; unit?: string }) {
  const unit = options.unit ? ` (${options.unit})` : '';
  const expected = `expected an integer from ${options.min} to ${options.max}${unit}`;
  return z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return options.default;
      const value = Number(raw.trim());
      if (!/^-?\d+$/.test(raw.trim()) || value < options.min || value > options.max) {
        context.addIssue({ code: 'custom', message: `${expected}, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return value;
    });
}

export function flag(defaultValue: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return defaultValue;
      const normalized = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(normalized)) return true;
      if (['false', '0', 'no', 'off'].includes(normalized)) return false;
      context.addIssue({
        code: 'custom',
        message: `expected true or false, got ${JSON.stringify(raw)}`,
      });
      return z.NEVER;
    });
}

export function oneOf<const Values extends readonly [string, ...string[]]>(
  values: Values,
  defaultValue: Values[number],
) {
  return z
    .string()
    .optional()
    .transform((raw, context): Values[number] => {
      if (raw === undefined || raw.trim() === '') return defaultValue;
      const value = raw.trim();
      if ((values as readonly string[]).includes(value)) return value as Values[number];
      context.addIssue({
        code: 'custom',
        message: `expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`,
      });
      return z.NEVER;
    });
}

/** A comma-separated list; blank entries are ignored. */
export function list<T>(parseEntry: (entry: string) => T | { error: string }) {
  return z
    .string()
    .optional()
    .transform((raw, context): T[] => {
      if (raw === undefined) return [];
      const values: T[] = [];
      for (const entry of raw.split(',').map((part) => part.trim())) {
        if (entry === '') continue;
        const parsed = parseEntry(entry);
        if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
          context.addIssue({ code: 'custom', message: parsed.error });
          continue;
        }
        values.push(parsed as T);
      }
      return values;
    });
}
