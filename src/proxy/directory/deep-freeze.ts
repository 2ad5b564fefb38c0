/**
 * Freezes an object and everything it contains, so callers that share a cached value cannot change
 * it for each other. Plain data only: a typed array such as a Buffer cannot be frozen.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
