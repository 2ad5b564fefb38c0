import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { KeysetPage } from '../../db/keyset.js';
import { notifyChange } from '../../db/change-notification.js';
import type { Database } from '../../db/schema.js';
import { ConflictError, NotFoundError, toEncryptionUnavailable } from '../../errors.js';
import { displayPrefix, generateSecret, hashSecret, secretPrefixes } from '../../security/secrets.js';
import { insertAuditEvent, type Actor } from '../audit/audit.repository.js';
import { checkIdempotencyKey, claimIdempotencyKey, completeIdempotencyKey } from '../idempotency/idempotency.repository.js';
import {
  deleteGatewayKey,
  findGatewayKey,
  findGatewayKeysByIds,
  insertGatewayKey,
  listGatewayKeys,
  replaceGatewayKeySecret,
  updateGatewayKey,
  type GatewayKey,
  type GatewayKeyChanges,
} from './gateway-key.repository.js';
import { InputChecker } from '../../validation/input-checker.js';
import { checkAllowList, checkExpiry, checkName } from './gateway-key.validation.js';

/** Who is acting, in which organization, for which request; every write is audited with it. */
export interface WriteContext {
  organizationId: string;
  actor: Actor;
  requestId?: string;
}

export interface CreateGatewayKeyInput {
  name: string;
  active?: boolean | null;
  expiresAt?: Date | null;
  modelAllowList?: readonly string[] | null;
  /** A retry with the same key and input within 24 hours returns the first result, secret included. */
  idempotencyKey?: string | null;
}

/** The purpose bound into the envelope that keeps a new key's secret for idempotent retries. */
export const idempotentSecretPurpose = 'idempotent-gateway-key-secret';

/** For each field: `undefined` keeps the stored value, `null` clears it. */
export interface UpdateGatewayKeyInput {
  name?: string | null;
  active?: boolean | null;
  expiresAt?: Date | null;
  modelAllowList?: readonly string[] | null;
}

export interface GatewayKeyWithSecret {
  gatewayKey: GatewayKey;
  /** The bearer secret. Returned in this result only; the database keeps its SHA-256 hash. */
  secret: string;
}

function newSecret() {
  const secret = generateSecret(secretPrefixes.gatewayKey);
  return { secret, secretHash: hashSecret(secret), displayPrefix: displayPrefix(secret, secretPrefixes.gatewayKey) };
}

export class GatewayKeyService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secretBox: SecretBox,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  find(organizationId: string, id: string): Promise<GatewayKey | undefined> {
    return findGatewayKey(this.db, organizationId, id);
  }

  findMany(organizationId: string, ids: readonly string[]): Promise<GatewayKey[]> {
    return findGatewayKeysByIds(this.db, organizationId, ids);
  }

  list(organizationId: string, page: KeysetPage): Promise<GatewayKey[]> {
    return listGatewayKeys(this.db, organizationId, page);
  }

  async create(context: WriteContext, input: CreateGatewayKeyInput): Promise<GatewayKeyWithSecret> {
    if (input.idempotencyKey) checkIdempotencyKey(input.idempotencyKey, ['input', 'idempotencyKey']);
    const checker = new InputChecker();
    const name = checkName(checker, ['input', 'name'], input.name);
    if (input.expiresAt) checkExpiry(checker, ['input', 'expiresAt'], input.expiresAt, this.clock());
    const modelAllowList = input.modelAllowList
      ? checkAllowList(checker, ['input', 'modelAllowList'], input.modelAllowList)
      : null;
    checker.throwIfInvalid();

    const id = randomUUID();
    const { secret, secretHash, displayPrefix } = newSecret();
    const idempotencyKey = input.idempotencyKey;
    // The secret is kept encrypted beside the idempotency key, so a retry can return it.
    const secretEnvelope = idempotencyKey
      ? await this.secretBox
          .encrypt(Buffer.from(secret, 'utf8'), { organizationId: context.organizationId, recordId: id, purpose: idempotentSecretPurpose })
          .catch(toEncryptionUnavailable)
      : undefined;

    const outcome = await this.db.transaction().execute(async (trx) => {
      if (idempotencyKey) {
        const claim = await claimIdempotencyKey(trx, {
          organizationId: context.organizationId,
          key: idempotencyKey,
          operation: 'createGatewayKey',
          input: { ...input, idempotencyKey: undefined },
        });
        if (claim.kind === 'replay') return claim;
      }
      const created = await insertGatewayKey(trx, {
        id,
        organizationId: context.organizationId,
        name,
        active: input.active ?? true,
        expiresAt: input.expiresAt ?? null,
        modelAllowList,
        secretHash,
        displayPrefix,
        createdByTokenId: context.actor.tokenId,
      });
      if (idempotencyKey) {
        await completeIdempotencyKey(trx, {
          organizationId: context.organizationId,
          key: idempotencyKey,
          resultId: id,
          resultEnvelope: secretEnvelope!,
        });
      }
      await insertAuditEvent(trx, {
        ...auditBase(context, created.id),
        action: 'gateway_key.created',
        changes: {
          name: created.name,
          active: created.active,
          expiresAt: created.expiresAt,
          modelAllowList: created.modelAllowList,
        },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'gateway_key', id: created.id, action: 'created' });
      return { kind: 'created' as const, gatewayKey: created };
    });

    if (outcome.kind === 'created') return { gatewayKey: outcome.gatewayKey, secret };
    return this.#replay(context.organizationId, outcome.resultId, outcome.resultEnvelope);
  }

  /** The result of an earlier create with the same idempotency key, its secret included. */
  async #replay(organizationId: string, id: string, envelope: Buffer | null): Promise<GatewayKeyWithSecret> {
    const gatewayKey = await findGatewayKey(this.db, organizationId, id);
    if (!gatewayKey || !envelope) {
      throw new ConflictError('The gateway key created earlier with this idempotency key was deleted since. Use a new idempotency key.');
    }
    const plaintext = await this.secretBox
      .decrypt(envelope, { organizationId, recordId: id, purpose: idempotentSecretPurpose })
      .catch(toEncryptionUnavailable);
    const secret = plaintext.toString('utf8');
    plaintext.fill(0);
    return { gatewayKey, secret };
  }

  async update(context: WriteContext, id: string, input: UpdateGatewayKeyInput): Promise<GatewayKey> {
    const checker = new InputChecker();
    const changes: GatewayKeyChanges = {};
    if (input.name === null) checker.add(['input', 'name'], 'cannot be cleared; omit it to keep the current name');
    else if (input.name !== undefined) changes.name = checkName(checker, ['input', 'name'], input.name);
    if (input.active === null) checker.add(['input', 'active'], 'cannot be cleared; pass true or false, or omit it');
    else if (input.active !== undefined) changes.active = input.active;
    if (input.expiresAt !== undefined) {
      if (input.expiresAt) checkExpiry(checker, ['input', 'expiresAt'], input.expiresAt, this.clock());
      changes.expiresAt = input.expiresAt;
    }
    if (input.modelAllowList !== undefined) {
      changes.modelAllowList =
        input.modelAllowList === null ? null : checkAllowList(checker, ['input', 'modelAllowList'], input.modelAllowList);
    }
    checker.throwIfInvalid();

    return this.db.transaction().execute(async (trx) => {
      const before = await findGatewayKey(trx, context.organizationId, id);
      if (!before || !(await updateGatewayKey(trx, context.organizationId, id, changes))) {
        throw new NotFoundError('GatewayKey', id);
      }
      const after = (await findGatewayKey(trx, context.organizationId, id))!;
      await insertAuditEvent(trx, {
        ...auditBase(context, id),
        action: 'gateway_key.updated',
        changes: diff(before, after, ['name', 'active', 'expiresAt', 'modelAllowList']),
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'gateway_key', id, action: 'updated' });
      return after;
    });
  }

  async regenerateSecret(context: WriteContext, id: string): Promise<GatewayKeyWithSecret> {
    const { secret, secretHash, displayPrefix } = newSecret();
    const gatewayKey = await this.db.transaction().execute(async (trx) => {
      if (!(await replaceGatewayKeySecret(trx, context.organizationId, id, { secretHash, displayPrefix }))) {
        throw new NotFoundError('GatewayKey', id);
      }
      await insertAuditEvent(trx, {
        ...auditBase(context, id),
        action: 'gateway_key.secret_regenerated',
        changes: { displayPrefix },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'gateway_key', id, action: 'updated' });
      return (await findGatewayKey(trx, context.organizationId, id))!;
    });
    return { gatewayKey, secret };
  }

  async delete(context: WriteContext, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const existing = await findGatewayKey(trx, context.organizationId, id);
      if (!existing || !(await deleteGatewayKey(trx, context.organizationId, id))) {
        throw new NotFoundError('GatewayKey', id);
      }
      await insertAuditEvent(trx, {
        ...auditBase(context, id),
        action: 'gateway_key.deleted',
        changes: { name: existing.name, displayPrefix: existing.displayPrefix },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'gateway_key', id, action: 'deleted' });
    });
  }
}

function auditBase(context: WriteContext, subjectId: string) {
  return {
    organizationId: context.organizationId,
    actor: context.actor,
    requestId: context.requestId,
    subjectType: 'GatewayKey',
    subjectId,
  };
}

function diff<T extends object>(before: T, after: T, fields: (keyof T & string)[]): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const field of fields) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
      changes[field] = { from: before[field], to: after[field] };
    }
  }
  return changes;
}
