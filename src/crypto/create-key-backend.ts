import type { Logger } from 'pino';
import type { CryptoConfig } from '../config/crypto.config.js';
import { loadOrCreateEmbeddedKey } from './embedded-key-file.js';
import type { KeyBackend } from './key-backend.js';
import { KeyringKeyBackend } from './keyring-key-backend.js';
import { KmsKeyBackend, createKmsClient, type KmsClientSettings } from './kms-key-backend.js';
import { selectKeyBackend } from './select-key-backend.js';

export interface KeyBackendFactoryOptions {
  /** Directory of the embedded database, where the generated local key is stored. */
  dataDirectory: string;
  /** True for the embedded database (no DATABASE_URL), false for PostgreSQL. */
  embedded: boolean;
  logger: Logger;
  /** KMS client settings that do not come from the environment; tests pass static credentials here. */
  kmsClient?: Pick<KmsClientSettings, 'credentials' | 'maxAttempts'>;
}

/**
 * Builds the key backend chosen by `selectKeyBackend`, and for the embedded database reads or
 * generates the local key. Throws KeyBackendNotConfiguredError for PostgreSQL without AWS KMS or a
 * keyring. Logs which backend and key id it uses, never key material.
 */
export async function createKeyBackend(config: CryptoConfig, options: KeyBackendFactoryOptions): Promise<KeyBackend> {
  const selection = selectKeyBackend(config, options);
  const logger = options.logger.child({ component: 'crypto' });

  switch (selection.kind) {
    case 'aws-kms': {
      const { keyId, region, endpoint, timeoutMs } = selection.kms;
      const client = createKmsClient({ region, endpoint, timeoutMs, ...options.kmsClient });
      logger.info({ keyId, region, endpoint }, `Encrypting secrets with AWS KMS key ${keyId} in ${region}`);
      return new KmsKeyBackend(client, keyId);
    }

    case 'keyring': {
      const { keys, currentKeyId } = selection.keyring;
      const backend = new KeyringKeyBackend({
        keys: keys.map((entry) => ({ id: entry.id, key: entry.key.reveal() })),
        currentKeyId,
      });
      const decryptOnlyKeyIds = backend.keyIds.filter((id) => id !== currentKeyId);
      logger.info(
        { keyId: currentKeyId, decryptOnlyKeyIds },
        `Encrypting secrets with keyring key ${currentKeyId}` +
          (decryptOnlyKeyIds.length > 0 ? `; decrypt-only keys: ${decryptOnlyKeyIds.join(', ')}` : ''),
      );
      return backend;
    }

    case 'embedded-keyring': {
      const embeddedKey = await loadOrCreateEmbeddedKey(options.dataDirectory);
      const { keyId, path } = embeddedKey;
      let backend: KeyringKeyBackend;
      try {
        backend = new KeyringKeyBackend({ keys: [{ id: keyId, key: embeddedKey.key }], currentKeyId: keyId });
      } finally {
        embeddedKey.key.fill(0);
      }

      if (embeddedKey.generated) {
        logger.info(
          { keyId, path },
          `Generated local encryption key ${keyId} in ${path}. Back up this file: ` +
            'without it the secrets stored in the embedded database cannot be decrypted.',
        );
      } else {
        logger.info({ keyId, path }, `Encrypting secrets with local key ${keyId} from ${path}`);
      }
      if ((embeddedKey.mode & 0o077) !== 0) {
        logger.warn(
          { keyId, path, mode: embeddedKey.mode.toString(8) },
          `Local encryption key file ${path} is readable by other users; run chmod 600 on it`,
        );
      }
      return backend;
    }
  }
}
