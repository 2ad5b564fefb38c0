import type { CryptoConfig, KeyringConfig, KmsConfig } from '../config/crypto.config.js';
import { KeyBackendNotConfiguredError } from './errors.js';

export type KeyBackendSelection =
  | { kind: 'aws-kms'; kms: KmsConfig }
  | { kind: 'keyring'; keyring: KeyringConfig }
  | { kind: 'embedded-keyring' };

/**
 * Chooses the key backend from validated settings: AWS KMS or the keyring when configured, else
 * the generated local key, but only for the embedded database. Throws KeyBackendNotConfiguredError
 * for PostgreSQL without a configured backend, because a key generated on one server's disk would
 * leave the secrets unreadable to every other server that shares the database.
 */
export function selectKeyBackend(config: CryptoConfig, database: { embedded: boolean }): KeyBackendSelection {
  if (config.kms !== undefined) return { kind: 'aws-kms', kms: config.kms };
  if (config.keyring !== undefined) return { kind: 'keyring', keyring: config.keyring };
  if (database.embedded) return { kind: 'embedded-keyring' };
  throw new KeyBackendNotConfiguredError();
}
