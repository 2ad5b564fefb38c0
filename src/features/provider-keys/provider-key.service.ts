import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { KeysetPage } from '../../db/keyset.js';
import { notifyChange } from '../../db/change-notification.js';
import type { Database } from '../../db/schema.js';
import { ConflictError, NotFoundError, toEncryptionUnavailable } from '../../errors.js';
import type { ProviderId } from '../../providers/providers.js';
import { InputChecker } from '../../validation/input-checker.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import { findGatewayKeysByIds } from '../gateway-keys/gateway-key.repository.js';
import type { WriteContext } from '../gateway-keys/gateway-key.service.js';
import { checkName } from '../gateway-keys/gateway-key.validation.js';
import { claimIdempotencyKey, completeIdempotencyKey, checkIdempotencyKey } from '../idempotency/idempotency.repository.js';
import {
  findSlotHolder,
  loadAssignments,
  loadCandidateKeys,
  replaceAssignment,
  type Assignment,
  type CandidateKey,
} from './assignment.repository.js';
import { credentialsKindOf, maskCredentials, type Credentials } from './credentials.js';
import {
  credentialsFromInput,
  keepsStoredCredentials,
  needsStoredCredentials,
  type CredentialsInput,
  type InputWarning,
} from './credentials-input.js';
import {
  deleteProviderKey,
  findProviderKey,
  findProviderKeysByIds,
  insertProviderKey,
  listProviderKeys,
  readCredentialsEnvelope,
  updateProviderKey,
  type ProviderKey,
  type ProviderKeyChanges,
  type ProviderKeyFilter,
} from './provider-key.repository.js';
import { applySettingsInput, type SettingsInput } from './settings.js';

/** The purpose bound into the envelope of a provider key's credentials. */
export const credentialsPurpose = 'provider-key-credentials';

/** Assignment input after global ids were decoded: exactly one of the two. */
export interface AssignmentInput {
  organization?: boolean | null;
  gatewayKeyIds?: readonly string[] | null;
}

export interface CreateProviderKeyInput {
  provider: ProviderId;
  name: string;
  enabled?: boolean | null;
  credentials: CredentialsInput;
  settings?: SettingsInput | null;
  assignment: AssignmentInput;
  idempotencyKey?: string | null;
}

/** For each field: `undefined` or null keeps the stored value; empty credentials keep the secret. */
export interface UpdateProviderKeyInput {
  name?: string | null;
  enabled?: boolean | null;
  credentials?: CredentialsInput | null;
  settings?: SettingsInput | null;
  assignment?: AssignmentInput | null;
}

export interface ProviderKeyResult {
  providerKey: ProviderKey;
  warnings: InputWarning[];
}

const slotConstraints = new Set(['provider_key_assignments_organization_wide_key', 'provider_key_assignments_gateway_key_key']);

function isSlotConflict(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
  return code === '23505' && constraint !== undefined && slotConstraints.has(constraint);
}

export class ProviderKeyService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secretBox: SecretBox,
  ) {}

  find(organizationId: string, id: string): Promise<ProviderKey | undefined> {
    return findProviderKey(this.db, organizationId, id);
  }

  findMany(organizationId: string, ids: readonly string[]): Promise<ProviderKey[]> {
    return findProviderKeysByIds(this.db, organizationId, ids);
  }

  list(organizationId: string, filter: ProviderKeyFilter, page: KeysetPage): Promise<ProviderKey[]> {
    return listProviderKeys(this.db, organizationId, filter, page);
  }

  loadAssignments(organizationId: string, providerKeyIds: readonly string[]): Promise<Map<string, Assignment>> {
    return loadAssignments(this.db, organizationId, providerKeyIds);
  }

  loadCandidateKeys(organizationId: string, gatewayKeyIds: readonly string[]): Promise<CandidateKey[]> {
    return loadCandidateKeys(this.db, organizationId, gatewayKeyIds);
  }

  async create(context: WriteContext, input: CreateProviderKeyInput): Promise<ProviderKeyResult> {
    if (input.idempotencyKey) checkIdempotencyKey(input.idempotencyKey, ['input', 'idempotencyKey']);
    const checker = new InputChecker();
    const warnings: InputWarning[] = [];
    const name = checkName(checker, ['input', 'name'], input.name);
    const credentials = credentialsFromInput(checker, ['input', 'credentials'], input.provider, input.credentials, undefined, warnings);
    const settings = applySettingsInput(checker, ['input', 'settings'], input.provider, {}, input.settings);
    const assignment = await this.#checkAssignment(checker, context.organizationId, input.assignment);
    checker.throwIfInvalid();

    const id = randomUUID();
    const envelope = await this.#encrypt(context.organizationId, id, credentials!);
    const write = async (trx: Kysely<Database>): Promise<string> => {
      if (input.idempotencyKey) {
        const claim = await claimIdempotencyKey(trx, {
          organizationId: context.organizationId,
          key: input.idempotencyKey,
          operation: 'createProviderKey',
          input: { ...input, idempotencyKey: undefined },
        });
        if (claim.kind === 'replay') return claim.resultId;
      }
      await insertProviderKey(trx, {
        id,
        organizationId: context.organizationId,
        provider: input.provider,
        name,
        enabled: input.enabled ?? true,
        credentialsKind: credentialsKindOf[input.provider],
        envelope,
        masked: maskCredentials(credentials!),
        settings,
        createdByTokenId: context.actor.tokenId,
      });
      await replaceAssignment(trx, { organizationId: context.organizationId, provider: input.provider, providerKeyId: id }, assignment!);
      if (input.idempotencyKey) {
        await completeIdempotencyKey(trx, { organizationId: context.organizationId, key: input.idempotencyKey, resultId: id });
      }
      await insertAuditEvent(trx, {
        organizationId: context.organizationId,
        actor: context.actor,
        requestId: context.requestId,
        action: 'provider_key.created',
        subjectType: 'ProviderKey',
        subjectId: id,
        changes: { provider: input.provider, name, enabled: input.enabled ?? true, settings, assignment: describeAssignment(assignment!) },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'provider_key', id, action: 'created' });
      return id;
    };

    const resultId = await this.#runWithSlotConflicts(context.organizationId, input.provider, assignment!, undefined, write);
    const providerKey = await findProviderKey(this.db, context.organizationId, resultId);
    if (!providerKey) {
      throw new ConflictError(
        `The provider key created earlier with this idempotency key was deleted since. Use a new idempotency key to create another.`,
      );
    }
    return { providerKey, warnings: resultId === id ? warnings : [] };
  }

  async update(context: WriteContext, id: string, input: UpdateProviderKeyInput): Promise<ProviderKeyResult> {
    const existing = await findProviderKey(this.db, context.organizationId, id);
    if (!existing) throw new NotFoundError('ProviderKey', id);

    const checker = new InputChecker();
    const warnings: InputWarning[] = [];
    const changes: ProviderKeyChanges = {};
    if (input.name !== undefined && input.name !== null) changes.name = checkName(checker, ['input', 'name'], input.name);
    if (input.enabled !== undefined && input.enabled !== null) changes.enabled = input.enabled;
    if (input.settings) {
      changes.settings = applySettingsInput(checker, ['input', 'settings'], existing.provider, existing.settings, input.settings);
    }
    const assignment = input.assignment ? await this.#checkAssignment(checker, context.organizationId, input.assignment) : undefined;

    let expectedVersion: number | undefined;
    let credentials: Credentials | undefined;
    if (!keepsStoredCredentials(input.credentials)) {
      let stored: Credentials | undefined;
      if (needsStoredCredentials(input.credentials)) {
        const current = await this.#decryptStored(context.organizationId, id);
        stored = current.credentials;
        expectedVersion = current.version;
      } else {
        expectedVersion = existing.credentialsVersion;
      }
      credentials = credentialsFromInput(checker, ['input', 'credentials'], existing.provider, input.credentials!, stored, warnings);
    }
    checker.throwIfInvalid();

    if (credentials) {
      changes.credentials = {
        envelope: await this.#encrypt(context.organizationId, id, credentials),
        masked: maskCredentials(credentials),
        kind: credentials.kind,
      };
    }

    const write = async (trx: Kysely<Database>): Promise<string> => {
      if (!(await updateProviderKey(trx, context.organizationId, id, changes, expectedVersion))) {
        if (await findProviderKey(trx, context.organizationId, id)) {
          throw new ConflictError('The credentials of this provider key changed while this update ran. Read the key again and retry.', {
            typeName: 'ProviderKey',
            id,
          });
        }
        throw new NotFoundError('ProviderKey', id);
      }
      if (assignment) {
        await replaceAssignment(trx, { organizationId: context.organizationId, provider: existing.provider, providerKeyId: id }, assignment);
      }
      await insertAuditEvent(trx, {
        organizationId: context.organizationId,
        actor: context.actor,
        requestId: context.requestId,
        action: 'provider_key.updated',
        subjectType: 'ProviderKey',
        subjectId: id,
        changes: {
          ...(changes.name !== undefined && changes.name !== existing.name && { name: { from: existing.name, to: changes.name } }),
          ...(changes.enabled !== undefined && changes.enabled !== existing.enabled && { enabled: { from: existing.enabled, to: changes.enabled } }),
          ...(changes.settings !== undefined && { settings: { from: existing.settings, to: changes.settings } }),
          ...(assignment && { assignment: describeAssignment(assignment) }),
          ...(changes.credentials && { credentialsVersion: { from: existing.credentialsVersion, to: existing.credentialsVersion + 1 } }),
        },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'provider_key', id, action: 'updated' });
      return id;
    };
    await this.#runWithSlotConflicts(context.organizationId, existing.provider, assignment, id, write);
    return { providerKey: (await findProviderKey(this.db, context.organizationId, id))!, warnings };
  }

  async delete(context: WriteContext, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const existing = await findProviderKey(trx, context.organizationId, id);
      if (!existing || !(await deleteProviderKey(trx, context.organizationId, id))) throw new NotFoundError('ProviderKey', id);
      await insertAuditEvent(trx, {
        organizationId: context.organizationId,
        actor: context.actor,
        requestId: context.requestId,
        action: 'provider_key.deleted',
        subjectType: 'ProviderKey',
        subjectId: id,
        changes: { provider: existing.provider, name: existing.name },
      });
      await notifyChange(trx, { organizationId: context.organizationId, kind: 'provider_key', id, action: 'deleted' });
    });
  }

  /** Decrypts a key's stored credentials; the caller must not log or return them. */
  async #decryptStored(organizationId: string, id: string): Promise<{ credentials: Credentials; version: number }> {
    const stored = await readCredentialsEnvelope(this.db, organizationId, id);
    if (!stored) throw new NotFoundError('ProviderKey', id);
    const plaintext = await this.secretBox
      .decrypt(stored.envelope, { organizationId, recordId: id, purpose: credentialsPurpose })
      .catch(toEncryptionUnavailable);
    try {
      return { credentials: JSON.parse(plaintext.toString('utf8')) as Credentials, version: stored.version };
    } finally {
      plaintext.fill(0);
    }
  }

  async #encrypt(organizationId: string, id: string, credentials: Credentials): Promise<Buffer> {
    const plaintext = Buffer.from(JSON.stringify(credentials), 'utf8');
    try {
      return await this.secretBox
        .encrypt(plaintext, { organizationId, recordId: id, purpose: credentialsPurpose })
        .catch(toEncryptionUnavailable);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Checks an assignment input and that every gateway key belongs to the organization. */
  async #checkAssignment(checker: InputChecker, organizationId: string, input: AssignmentInput): Promise<Assignment | undefined> {
    const path = ['input', 'assignment'];
    const organization = input.organization === true;
    const gatewayKeyIds = input.gatewayKeyIds ?? undefined;
    if (organization === (gatewayKeyIds !== undefined) || input.organization === false) {
      checker.add(path, 'expected exactly one of organization: true or gatewayKeys: [ids]');
      return undefined;
    }
    if (organization) return { kind: 'ORGANIZATION' };
    if (gatewayKeyIds!.length === 0) {
      checker.add([...path, 'gatewayKeys'], 'must list at least one gateway key; use organization: true for every key');
      return undefined;
    }
    const unique = [...new Set(gatewayKeyIds)];
    const found = new Set((await findGatewayKeysByIds(this.db, organizationId, unique)).map((key) => key.id));
    gatewayKeyIds!.forEach((gatewayKeyId, index) => {
      if (!found.has(gatewayKeyId)) checker.add([...path, 'gatewayKeys', index], 'is not a gateway key of this organization');
    });
    return { kind: 'GATEWAY_KEYS', gatewayKeyIds: unique };
  }

  /**
   * Runs a write in a transaction, turning a unique-index violation of an assignment slot into a
   * ConflictError that names the provider key already holding it.
   */
  async #runWithSlotConflicts(
    organizationId: string,
    provider: ProviderId,
    assignment: Assignment | undefined,
    ownId: string | undefined,
    write: (trx: Kysely<Database>) => Promise<string>,
  ): Promise<string> {
    try {
      return await this.db.transaction().execute(write);
    } catch (error) {
      if (!isSlotConflict(error) || !assignment) throw error;
      const slots = assignment.kind === 'ORGANIZATION' ? [null] : assignment.gatewayKeyIds;
      for (const gatewayKeyId of slots) {
        const holder = await findSlotHolder(this.db, organizationId, provider, gatewayKeyId);
        if (!holder || holder === ownId) continue;
        const holderName = (await findProviderKey(this.db, organizationId, holder))?.name ?? 'another key';
        const gatewayKeyName =
          gatewayKeyId && ((await findGatewayKeysByIds(this.db, organizationId, [gatewayKeyId]))[0]?.name ?? 'a gateway key');
        throw new ConflictError(
          gatewayKeyName
            ? `The gateway key "${gatewayKeyName}" already has a ${provider} provider key, "${holderName}" (see existingId). Remove it from that key's assignment first.`
            : `The provider key "${holderName}" (see existingId) is already the organization-wide ${provider} key. Assign this key to gateway keys instead, or change that key's assignment first.`,
          { typeName: 'ProviderKey', id: holder },
        );
      }
      throw new ConflictError(`Another change to the ${provider} assignments ran at the same time. Retry.`);
    }
  }
}

function describeAssignment(assignment: Assignment): Record<string, unknown> {
  return assignment.kind === 'ORGANIZATION' ? { organization: true } : { gatewayKeyIds: assignment.gatewayKeyIds };
}
