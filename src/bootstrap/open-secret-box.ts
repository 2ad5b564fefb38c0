import type { Config } from '../config/environment.js';
import { createKeyBackend } from '../crypto/create-key-backend.js';
import { runKeyCheck } from '../crypto/key-check.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { DatabaseHandle } from '../db/database.js';
import type { Logger } from '../logger.js';

/**
 * Builds the configured key backend and runs the key check, which rejects a key that cannot read
 * this database's secrets before anything is written with it.
 */
export async function openSecretBox(config: Config, database: DatabaseHandle, logger: Logger): Promise<SecretBox> {
  const backend = await createKeyBackend(config.crypto, {
    dataDirectory: config.database.dataDirectory,
    embedded: database.kind === 'pglite',
    logger,
  });
  const secretBox = new SecretBox(backend);
  try {
    await runKeyCheck(database.db, secretBox, logger);
  } catch (error) {
    backend.close();
    throw error;
  }
  return secretBox;
}
