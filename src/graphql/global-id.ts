import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { ValidationError } from '../errors.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export { encodeGlobalID };

/** Returns whether the id part of a decoded global id can be a row id, because every node type is keyed by UUID. */
export function isUuid(id: string): boolean {
  return uuidPattern.test(id);
}

/**
 * Decodes a Relay global id that must belong to `typename`. A garbled id or one of another type is
 * a validation error at `path`; whether the row exists in the caller's organization is the
 * service's question.
 */
export function decodeIdFor(typename: string, globalId: string, path: (string | number)[]): string {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    throw ValidationError.at(path, `is not a valid id; pass the \`id\` field of a ${typename}`);
  }
  if (decoded.typename !== typename) {
    const shown = /^[A-Za-z]{1,64}$/.test(decoded.typename) ? `type ${decoded.typename}` : 'another type';
    throw ValidationError.at(path, `is an id of ${shown}; expected the id of a ${typename}`);
  }
  if (!isUuid(decoded.id)) {
    throw ValidationError.at(path, `is not a valid id; pass the \`id\` field of a ${typename}`);
  }
  return decoded.id;
}
