import type { Generated, Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { EncryptionContext } from './encryption-context.js';
import { decodeEnvelope } from './envelope.js';
import { CryptoError, KeyCheckFailedError } from './errors.js';
import type { SecretBox } from './secret-box.js';

/** Row of `encryption_key_checks`: one row at most, with the id KEY_CHECK_ROW_ID. */
export interface KeyCheckTable {
  id: string;
  /** `aws-kms` or `keyring`, the KeyBackendKind that wrapped the check envelope. */
  backend: string;
  key_id: string;
  check_envelope: Buffer;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface KeyCheckDatabase {
  encryption_key_checks: KeyCheckTable;
}

/** The only id the table's check constraint allows. */
export const KEY_CHECK_ROW_ID = 'singleton';

/** Context of the check envelope. No organization has this id, so no secret shares the context. */
export const KEY_CHECK_CONTEXT: EncryptionContext = {
  organizationId: 'keyroute-system',
  recordId: 'encryption-key-check',
  purpose: 'encryption-key-check',
};

const KEY_CHECK_PLAINTEXT = Buffer.from('keyroute encryption key check v1', 'utf8');

export type KeyCheckResult =
  | { outcome: 'created'; keyId: string }
  | { outcome: 'verified'; keyId: string }
  | { outcome: 'rewrapped'; keyId: string; previousKeyId: string };

/**
 * Verifies at start that the configured key backend can decrypt the secrets of this database, so
 * that the server never writes a secret that no configured key could read later.
 *
 * On first use it stores an envelope of a known constant under KEY_CHECK_CONTEXT. Later starts
 * decrypt it. A backend that cannot (another keyring, another KMS key, a key the credentials may
 * not use) makes this throw KeyCheckFailedError naming the key id that encrypted the check. A
 * retryable failure, such as AWS KMS being unreachable, is rethrown as it is, because it tells
 * nothing about the key. When the check passes under a decrypt-only key, the stored check is re-wrapped
 * to the current key. A failed re-wrap is logged as a warning and does not stop the start.
 */
export async function runKeyCheck<Database extends KeyCheckDatabase>(
  database: Kysely<Database>,
  secretBox: SecretBox,
  logger: Logger,
): Promise<KeyCheckResult> {
  // Kysely<Database> is not assignable to Kysely<KeyCheckDatabase> because Kysely's type parameter
  // is invariant; the constraint guarantees that the table exists with these columns.
  const db = database as unknown as Kysely<KeyCheckDatabase>;
  const log = logger.child({ component: 'crypto' });
  let row = await selectKeyCheck(db);

  if (row === undefined) {
    const envelope = await secretBox.encrypt(KEY_CHECK_PLAINTEXT, KEY_CHECK_CONTEXT);
    const keyId = decodeEnvelope(envelope).keyId;
    if (await insertKeyCheck(db, { backend: secretBox.backend.kind, keyId, envelope })) {
      log.info({ keyId }, `Stored the encryption key check for key ${keyId}`);
      return { outcome: 'created', keyId };
    }
    // Another server inserted its check first; verify that one.
    row = await selectKeyCheck(db);
    if (row === undefined) throw new Error('The encryption key check row vanished after a conflicting insert.');
  }

  await verifyKeyCheck(row, secretBox);

  // The check passed, so the server can start even if the re-wrap fails: a server whose AWS
  // credentials lack kms:ReEncrypt* still reads and writes secrets correctly.
  let rewrapped: Buffer;
  try {
    rewrapped = await secretBox.rewrap(row.check_envelope, KEY_CHECK_CONTEXT);
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    log.warn(
      { err: error, keyId: row.key_id },
      `Encryption key check passed for key ${row.key_id}, but re-wrapping it to the current key failed`,
    );
    return { outcome: 'verified', keyId: row.key_id };
  }
  if (rewrapped === row.check_envelope) {
    log.info({ keyId: row.key_id }, `Encryption key check passed for key ${row.key_id}`);
    return { outcome: 'verified', keyId: row.key_id };
  }

  const keyId = decodeEnvelope(rewrapped).keyId;
  await updateKeyCheck(db, { previousKeyId: row.key_id, keyId, envelope: rewrapped });
  log.info(
    { keyId, previousKeyId: row.key_id },
    `Encryption key check passed; re-wrapped it from key ${row.key_id} to key ${keyId}`,
  );
  return { outcome: 'rewrapped', keyId, previousKeyId: row.key_id };
}

async function verifyKeyCheck(row: KeyCheckRow, secretBox: SecretBox): Promise<void> {
  const failed = (reason: string, cause?: unknown) =>
    new KeyCheckFailedError({
      expectedBackend: row.backend,
      expectedKeyId: row.key_id,
      reason,
      remedy: remedyFor(row),
      cause,
    });

  if (row.backend !== secretBox.backend.kind) {
    throw failed(`the configured key backend is ${secretBox.backend.kind}`);
  }

  let plaintext: Buffer;
  try {
    plaintext = await secretBox.decrypt(row.check_envelope, KEY_CHECK_CONTEXT);
  } catch (error) {
    if (error instanceof CryptoError && !error.retryable) throw failed(error.code, error);
    throw error;
  }

  const matches = plaintext.equals(KEY_CHECK_PLAINTEXT);
  plaintext.fill(0);
  if (!matches) throw failed('the check decrypted to an unexpected value');
}

function remedyFor(row: KeyCheckRow): string {
  if (row.backend === 'aws-kms') {
    return (
      `Set KMS_KEY_ID and KMS_REGION to key "${row.key_id}", or keep your new key and give this server's ` +
      'AWS credentials kms:Decrypt and kms:ReEncrypt* on the old one so that it can be rotated.'
    );
  }
  return (
    `Add key "${row.key_id}" to KEYRING_KEYS, as the current key or as a decrypt-only key. With the ` +
    'embedded database, restore the encryption-key file of its data directory instead.'
  );
}

type KeyCheckRow = Pick<KeyCheckTable, 'backend' | 'key_id' | 'check_envelope'>;

async function selectKeyCheck(db: Kysely<KeyCheckDatabase>): Promise<KeyCheckRow | undefined> {
  return db
    .selectFrom('encryption_key_checks')
    .select(['backend', 'key_id', 'check_envelope'])
    .where('id', '=', KEY_CHECK_ROW_ID)
    .executeTakeFirst();
}

/** Returns false when another server inserted the row first. */
async function insertKeyCheck(
  db: Kysely<KeyCheckDatabase>,
  check: { backend: string; keyId: string; envelope: Buffer },
): Promise<boolean> {
  const inserted = await db
    .insertInto('encryption_key_checks')
    .values({ id: KEY_CHECK_ROW_ID, backend: check.backend, key_id: check.keyId, check_envelope: check.envelope })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Replaces the check only if it is still wrapped by `previousKeyId`, so a concurrent re-wrap wins. */
async function updateKeyCheck(
  db: Kysely<KeyCheckDatabase>,
  check: { previousKeyId: string; keyId: string; envelope: Buffer },
): Promise<void> {
  await db
    .updateTable('encryption_key_checks')
    .set((eb) => ({ key_id: check.keyId, check_envelope: check.envelope, updated_at: eb.fn('now') }))
    .where('id', '=', KEY_CHECK_ROW_ID)
    .where('key_id', '=', check.previousKeyId)
    .execute();
}
