import { hash, randomBytes } from 'node:crypto';

/** Prefixes of the bearer secrets this server issues. */
export const secretPrefixes = {
  gatewayKey: 'kr_',
  managementToken: 'krm_',
} as const;

/** 32 random bytes (256 bits) in base64url after a readable prefix. */
export function generateSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 of the whole secret. The secrets are 256-bit random values, so a fast unsalted hash is
 * safe against guessing and lets a lookup use a unique index.
 */
export function hashSecret(secret: string): Buffer {
  // The one-shot crypto.hash (Node 20.12 and later) costs a fraction of a Hash object, and the
  // proxy hashes the gateway key of every request.
  return hash('sha256', secret, 'buffer');
}

/**
 * hashSecret as base64 text, computed in one step: the proxy's cache key for the gateway key of
 * every request. Buffer.from(text, 'base64') gives back the hash.
 */
export function hashSecretBase64(secret: string): string {
  return hash('sha256', secret, 'base64');
}

/** The prefix plus 6 characters: enough to tell keys apart in a list, far too little to guess the rest. */
export function displayPrefix(secret: string, prefix: string): string {
  return secret.slice(0, prefix.length + 6);
}
