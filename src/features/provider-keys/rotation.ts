import type { Kysely } from 'kysely';
import { CryptoError } from '../../crypto/errors.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import { idempotentSecretPurpose } from '../gateway-keys/gateway-key.service.js';
import { listIdempotencyEnvelopes, replaceIdempotencyEnvelope } from '../idempotency/idempotency.repository.js';
import { listEnvelopesAfter, markUndecryptable, swapRewrappedEnvelope } from './provider-key.repository.js';
import { credentialsPurpose } from './provider-key.service.js';

export interface RotationReport {
  /** Envelopes now wrapped by the current key. */
  rewrapped: number;
  /** Envelopes that were already wrapped by the current key. */
  current: number;
  /** Keys whose credentials changed during the rotation; the change wrote a fresh envelope. */
  changedConcurrently: number;
  /** Keys that could not be re-wrapped, with the error code. Marked UNDECRYPTABLE unless the error was retryable. */
  failed: { id: string; code: string; retryable: boolean }[];
}

const batchSize = 100;

/**
 * Re-wraps every provider key envelope to the backend's current key. Each envelope is decrypted
 * first, so a corrupted one is found and marked instead of being re-wrapped blindly. The write is
 * a compare-and-swap on `credentials_version` that does not bump it: a concurrent update wins.
 */
export async function rotateCredentials(db: Kysely<Database>, secretBox: SecretBox, logger: Logger): Promise<RotationReport> {
  const report: RotationReport = { rewrapped: 0, current: 0, changedConcurrently: 0, failed: [] };
  let afterId: string | undefined;

  for (;;) {
    const batch = await listEnvelopesAfter(db, afterId, batchSize);
    if (batch.length === 0) break;
    afterId = batch[batch.length - 1]!.id;

    for (const row of batch) {
      const context = { organizationId: row.organizationId, recordId: row.id, purpose: credentialsPurpose };
      let rewrapped: Buffer;
      try {
        (await secretBox.decrypt(row.envelope, context)).fill(0);
        rewrapped = await secretBox.rewrap(row.envelope, context);
      } catch (error) {
        if (!(error instanceof CryptoError)) throw error;
        report.failed.push({ id: row.id, code: error.code, retryable: error.retryable });
        if (!error.retryable) await markUndecryptable(db, row.id, row.version, error.code);
        logger.warn({ providerKeyId: row.id, code: error.code }, `Provider key ${row.id} could not be re-wrapped: ${error.code}`);
        continue;
      }
      if (rewrapped === row.envelope) {
        report.current += 1;
      } else if (await swapRewrappedEnvelope(db, row.id, row.version, rewrapped)) {
        report.rewrapped += 1;
      } else {
        report.changedConcurrently += 1;
      }
    }
  }

  // Secrets of new gateway keys kept for idempotent retries; they expire within 24 hours.
  for (const row of await listIdempotencyEnvelopes(db)) {
    const context = { organizationId: row.organizationId, recordId: row.resultId, purpose: idempotentSecretPurpose };
    try {
      const rewrapped = await secretBox.rewrap(row.envelope, context);
      if (rewrapped !== row.envelope) await replaceIdempotencyEnvelope(db, { ...row, previous: row.envelope, envelope: rewrapped });
    } catch (error) {
      if (!(error instanceof CryptoError)) throw error;
      logger.warn({ gatewayKeyId: row.resultId, code: error.code }, 'An idempotency record could not be re-wrapped; it expires within 24 hours');
    }
  }
  return report;
}
