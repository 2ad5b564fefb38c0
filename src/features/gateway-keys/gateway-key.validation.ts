import { parseAllowListEntry } from '../../models/model-reference.js';
import type { InputChecker } from '../../validation/input-checker.js';

export const maxNameLength = 100;
export const maxAllowListEntries = 200;

export function checkName(checker: InputChecker, path: (string | number)[], name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) checker.add(path, 'must not be empty or only whitespace');
  else if (trimmed.length > maxNameLength) {
    checker.add(path, `must be at most ${maxNameLength} characters, got ${trimmed.length}`);
  }
  return trimmed;
}

export function checkExpiry(checker: InputChecker, path: (string | number)[], expiresAt: Date, now: Date): void {
  if (expiresAt.getTime() <= now.getTime()) {
    checker.add(path, `must be in the future, got ${expiresAt.toISOString()}; omit it for a key that does not expire`);
  }
}

/** Returns the canonical, de-duplicated entries. */
export function checkAllowList(checker: InputChecker, path: (string | number)[], entries: readonly string[]): string[] {
  if (entries.length > maxAllowListEntries) {
    checker.add(path, `must have at most ${maxAllowListEntries} entries, got ${entries.length}`);
    return [];
  }
  const canonical = new Set<string>();
  entries.forEach((entry, index) => {
    const parsed = parseAllowListEntry(entry);
    if (parsed.ok) canonical.add(parsed.value);
    else checker.add([...path, index], `${parsed.error}; use provider/model or provider/*`);
  });
  return [...canonical];
}
